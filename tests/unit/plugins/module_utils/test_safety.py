# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The safety snapshot (find by description, else take one and wait for it) and the hook that runs it before the create."""

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._restore import Restorer
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._safety import (
    RETENTION_DAYS, SafetySnapshot, description, refusal, undo_message,
)
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError
from ansible_collections.atlasops.backup.plugins.module_utils._views import snapshot_view
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_clock import FakeClock

PROJECT, SNAPSHOT = "5f1a2b3c4d5e6f7a8b9c0d1e", "6741a2b3c4d5e6f7a8b9c0aa"


class FakeTarget:
    """The target's ClusterBackup: snapshots that complete `seconds` after they were taken (or fail)."""

    def __init__(self, clock, seconds=10.0, outcome="completed", existing=(), lose_answer=False, made_when_lost=True):
        self.clock, self.seconds, self.outcome = clock, seconds, outcome
        self.cluster_name, self.project_id, self.cluster_type = "dr", PROJECT, "dedicated"
        self.taken = []  # (started, raw)
        for raw in existing:
            self.taken.append((-1e9, dict(raw)))
        self.posts, self.gets, self.lists = [], 0, 0
        self.lose_answer, self.made_when_lost = lose_answer, made_when_lost

    def _view(self, started, raw):
        done = self.clock() >= started + self.seconds
        status = raw.get("status") or (self.outcome if done else "inProgress")
        return snapshot_view(dict(raw, status=status), "dedicated")

    def snapshots(self, sharded=False, query=None, deadline=None):
        self.lists += 1
        return [self._view(started, raw) for started, raw in self.taken]

    def snapshot(self, snapshot_id, sharded=False, deadline=None):
        self.gets += 1
        return next(self._view(started, raw) for started, raw in self.taken if raw["id"] == snapshot_id)

    def take_snapshot(self, text, retention_days, deadline=None):
        self.posts.append((text, retention_days))
        raw = {"id": f"6800{len(self.taken) + 1:020x}", "description": text}
        if not self.lose_answer or self.made_when_lost:
            self.taken.append((self.clock(), raw))
        if self.lose_answer:
            raise AtlasError("no answer", transient=True, ambiguous=True, timed_out=True)
        return self._view(self.clock(), dict(raw, status="queued"))


def request(**changes):
    values = dict(cluster_type="dedicated", project_id=PROJECT, cluster_name="prod", delivery_type="automated", snapshot_id=SNAPSHOT,
                  target_cluster_name="dr")
    values.update(changes)
    return RestoreRequest(**values)


def safety(target, clock, check_mode=False, **changes):
    warnings = []
    service = SafetySnapshot(target, request(**changes), sharded=False, check_mode=check_mode, warn=warnings.append, clock=clock,
                             sleep=clock.sleep)
    return service, warnings


@pytest.fixture
def clock():
    return FakeClock(5000.0)


def test_the_description_names_source_snapshot_or_point_in_time_and_target():
    text = description(request())
    assert f"{PROJECT}/prod" in text and SNAPSHOT in text and f"{PROJECT}/dr" in text
    pit = description(request(delivery_type="point_in_time", snapshot_id=None, point_in_time=1_763_626_500))
    assert "point in time 2025-11-20T08:15:00Z" in pit and pit != text
    assert description(request(target_cluster_name="dr2")) != text


def test_a_snapshot_is_taken_for_seven_days_and_waited_for_until_completed(clock):
    target = FakeTarget(clock, seconds=30)
    service, dummy = safety(target, clock)
    report = service.ensure(clock() + 600)
    assert target.posts == [(description(request()), RETENTION_DAYS)] and RETENTION_DAYS == 7
    assert report["action"] == "taken" and report["status"] == "completed" and clock.now >= 5030
    assert report["undo"] == undo_message(report["id"], PROJECT, "dr") and "restore_allow_overwrite_source: true" in report["undo"]


def test_a_re_run_re_uses_the_snapshot_that_names_this_restore(clock):
    target = FakeTarget(clock, existing=[{"id": "6800" + "0" * 19 + "9", "description": description(request()), "status": "completed"},
                                         {"id": "6800" + "0" * 19 + "a", "description": "someone else's"}])
    service, dummy = safety(target, clock)
    report = service.ensure(clock() + 600)
    assert target.posts == [] and report["action"] == "reused" and report["id"].endswith("9")


def test_a_failed_one_is_not_re_used(clock):
    target = FakeTarget(clock, existing=[{"id": "6800" + "0" * 19 + "9", "description": description(request()), "status": "failed"}])
    service, dummy = safety(target, clock)
    assert service.ensure(clock() + 600)["action"] == "taken" and len(target.posts) == 1


def test_check_mode_says_it_would_take_one_and_sends_nothing(clock):
    target = FakeTarget(clock)
    service, dummy = safety(target, clock, check_mode=True)
    report = service.ensure(clock() + 600)
    assert report["action"] == "would_take" and report["id"] is None and target.posts == [] and target.gets == 0


def test_not_completed_in_time_fails_saying_nothing_was_restored(clock):
    target = FakeTarget(clock, seconds=1000)
    service, dummy = safety(target, clock)
    with pytest.raises(AtlasError, match="not completed in time.*nothing was restored") as caught:
        service.ensure(clock() + 100)
    assert caught.value.timed_out and clock.now <= 5100


def test_a_failed_snapshot_refuses_the_restore(clock):
    target = FakeTarget(clock, seconds=5, outcome="failed")
    service, dummy = safety(target, clock)
    with pytest.raises(InvalidInputError, match="failed; nothing was restored"):
        service.ensure(clock() + 600)


def test_a_lost_answer_finds_the_snapshot_instead_of_taking_another(clock):
    target = FakeTarget(clock, seconds=5, lose_answer=True)
    service, warnings = safety(target, clock)
    report = service.ensure(clock() + 600)
    assert len(target.posts) == 1 and report["action"] == "taken" and report["status"] == "completed"
    assert "found the snapshot it took" in warnings[0]
    target = FakeTarget(clock, lose_answer=True, made_when_lost=False)
    service, dummy = safety(target, clock)
    with pytest.raises(AtlasError, match="Re-running the task is safe"):
        service.ensure(clock() + 600)
    assert len(target.posts) == 1


def test_flex_targets_and_targets_without_backup_are_refused():
    assert "flex cluster" in refusal("flex", {}, "dr")
    assert "backup disabled" in refusal("dedicated", {"backup_enabled": False}, "dr")
    assert refusal("dedicated", {"backup_enabled": True}, "dr") is None
    assert refusal("dedicated", None, "dr") is None  # unreadable: Atlas's answer to the snapshot request will say


# --- the hook before the create ---------------------------------------------------------------

class FakeSource:
    cluster_type = "dedicated"

    def __init__(self, jobs=()):
        self.jobs, self.posts = list(jobs), 0

    def restore_jobs(self, deadline=None):
        return iter(self.jobs)

    def create_restore_job(self, body, deadline=None):
        self.posts += 1
        job = {"id": "6900" + "0" * 19 + "1", "status": "in_progress", "delivery_type": "automated", "snapshot_id": SNAPSHOT,
               "target_cluster_name": "dr", "target_project_id": PROJECT}
        return [job]


def restorer(source, check_mode=False):
    return Restorer(source, {}, check_mode=check_mode, diff=False, warn=lambda message: None, max_retries=1, request_timeout=5)


def test_the_hook_runs_before_the_create_and_can_refuse_it():
    source = FakeSource()
    calls = []

    def refuse():
        calls.append("hook")
        raise InvalidInputError("pre-flight refused")

    service = restorer(source)
    with pytest.raises(InvalidInputError):
        service.ensure(request(), before_create=refuse)
    assert calls == ["hook"] and source.posts == 0
    assert restorer(source).ensure(request(), before_create=lambda: False)[0]["id"] and source.posts == 1


def test_the_hook_runs_in_check_mode_and_not_for_a_re_used_job():
    calls = []
    source = FakeSource()
    assert restorer(source, check_mode=True).ensure(request(), before_create=lambda: calls.append("check")) == []
    assert calls == ["check"] and source.posts == 0
    existing = {"id": "6900" + "0" * 19 + "2", "status": "in_progress", "delivery_type": "automated", "snapshot_id": SNAPSHOT,
                "target_cluster_name": "dr", "target_project_id": PROJECT, "point_in_time_utc_seconds": None, "oplog_ts": None,
                "oplog_inc": None}
    service = restorer(FakeSource([existing]))
    service.ensure(request(), before_create=lambda: calls.append("reused"))
    assert calls == ["check"] and service.result["reused"] is True


def test_a_refused_create_after_a_taken_snapshot_still_reports_a_change():
    class Refusing(FakeSource):
        def create_restore_job(self, body, deadline=None):
            raise AtlasError("refused", status=400, error_code="INCOMPATIBLE_MONGODB_VERSION")

    service = restorer(Refusing())
    with pytest.raises(AtlasError):
        service.ensure(request(), before_create=lambda: True)
    assert service.result["changed"] is True
    service = restorer(Refusing())
    with pytest.raises(AtlasError):
        service.ensure(request(), before_create=lambda: False)
    assert service.result["changed"] is False
