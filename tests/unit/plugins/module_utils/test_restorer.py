# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore logic of restore_job (re-use, create never twice, lost answers, 409, batches, cancel).

No module and no network: a fake ClusterBackup whose job list can lag behind its creates, and an injected
clock, so the settle window is proven to the second without real pauses.
"""

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._restore import LostCreate, Restorer
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._views import job_view
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_clock import FakeClock

PROJECT, SNAPSHOT, OTHER_SNAPSHOT = "5f1a2b3c4d5e6f7a8b9c0d1e", "6741a2b3c4d5e6f7a8b9c0aa", "6741a2b3c4d5e6f7a8b9c0bb"
REQUEST_TIMEOUT = 7


def raw_job(number: int, snapshot: str = SNAPSHOT, target: str = "dr", **fields) -> dict:
    raw = {"id": f"6740{number:020x}", "deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": target,
           "targetGroupId": PROJECT}
    raw.update(fields)
    return raw


class FakeBackup:
    """A ClusterBackup whose jobs live in a list. Each POST follows the next step of `creates`,
    (an AtlasError to raise, whether Atlas made the job anyway), then succeeds; a job made by a failed
    POST shows in the list `lag` seconds after it (a slow create, or a lagging list)."""

    def __init__(self, clock, jobs=(), creates=(), lag=0.0, cluster_type="dedicated", batch=1):
        self.clock = clock
        self.cluster_type = cluster_type
        self.raws = [(0.0, raw) for raw in jobs]  # (visible from, job)
        self.creates = list(creates)
        self.lag = lag
        self.batch = batch
        self.posts = 0
        self.lists = 0
        self.list_error = None  # raised by every list from the first POST on
        self.list_error_after_post = None
        self.deleted = []
        self.numbers = iter(range(100, 200))

    def restore_jobs(self, deadline=None):
        self.lists += 1
        if self.list_error:
            raise self.list_error
        return (job_view(raw, self.cluster_type) for visible, raw in self.raws if visible <= self.clock())

    def restore_job(self, job_id, deadline=None):
        return next(job_view(raw, self.cluster_type) for dummy, raw in self.raws if raw["id"] == job_id)

    def create_restore_job(self, body, deadline=None):
        self.posts += 1
        self.list_error = self.list_error_after_post
        step = self.creates.pop(0) if self.creates else None  # (error, made), or None: a success
        error = step[0] if step is not None else None
        made = step is None or step[1]
        new = []
        if made:
            for dummy in range(self.batch):
                raw = raw_job(next(self.numbers), body["snapshotId"], body.get("targetClusterName", "dr"))
                self.raws.append((self.clock() + (self.lag if error else 0.0), raw))
                new.append(job_view(raw, self.cluster_type))
        if step is not None:
            raise step[0]
        return new

    def cancel_restore_job(self, job_id):
        self.deleted.append(job_id)
        next(raw for dummy, raw in self.raws if raw["id"] == job_id)["cancelled"] = True


def restorer(backup, clock, check_mode=False, max_retries=2, deadline=None):
    warnings = []
    service = Restorer(backup, {}, check_mode=check_mode, diff=True, warn=warnings.append, max_retries=max_retries,
                       request_timeout=REQUEST_TIMEOUT, deadline=deadline, clock=clock, sleep=clock.sleep)
    return service, warnings


def request(snapshot=SNAPSHOT, target="dr"):
    return RestoreRequest(cluster_type="dedicated", project_id=PROJECT, cluster_name="prod", delivery_type="automated",
                          snapshot_id=snapshot, target_cluster_name=target)


TIMED_OUT = AtlasError("no answer within request_timeout", transient=True, ambiguous=True, timed_out=True)
BAD_GATEWAY = AtlasError("bad gateway", status=502, transient=True, ambiguous=True)
CONFLICT = AtlasError("conflict", status=409, error_code="CLUSTER_RESTORE_IN_PROGRESS_CANNOT_UPDATE")


@pytest.fixture
def clock():
    return FakeClock(1000.0)


def test_a_matching_job_is_reused_without_a_post(clock):
    backup = FakeBackup(clock, jobs=[raw_job(1, finishedAt="2026-11-20T06:00:00Z")])
    service, dummy = restorer(backup, clock)
    jobs = service.ensure(request())
    assert backup.posts == 0 and jobs[0]["id"] == backup.raws[0][1]["id"]
    assert service.result["reused"] is True and service.result["changed"] is False
    assert service.result["diff"]["before"] == service.result["diff"]["after"]


def test_a_finished_automated_job_marked_expired_later_is_still_reused(clock):
    backup = FakeBackup(clock, jobs=[raw_job(1, finishedAt="2026-11-20T06:00:00Z", expired=True)])
    service, dummy = restorer(backup, clock)
    assert service.ensure(request())[0]["status"] == "completed" and backup.posts == 0


def test_a_failed_or_different_job_is_not_reused_and_one_post_starts_the_restore(clock):
    backup = FakeBackup(clock, jobs=[raw_job(1, failed=True), raw_job(2, snapshot=OTHER_SNAPSHOT), raw_job(3, target="other")])
    service, dummy = restorer(backup, clock)
    jobs = service.ensure(request())
    assert backup.posts == 1 and service.result["changed"] is True and service.result["reused"] is False
    assert jobs[0]["id"] == backup.raws[-1][1]["id"] and service.result["request"]["snapshotId"] == SNAPSHOT


def test_check_mode_predicts_without_posting(clock):
    backup = FakeBackup(clock)
    service, dummy = restorer(backup, clock, check_mode=True)
    assert service.ensure(request()) == []
    assert backup.posts == 0 and service.result["changed"] is True and service.result["restore_job"] is None
    assert service.result["diff"]["before"] == {} and service.result["diff"]["after"]["snapshot_id"] == SNAPSHOT


def test_force_starts_a_new_job_even_when_one_matches(clock):
    backup = FakeBackup(clock, jobs=[raw_job(1)])
    service, dummy = restorer(backup, clock)
    service.ensure(request(), force=True)
    assert backup.posts == 1


@pytest.mark.parametrize("error", [TIMED_OUT, BAD_GATEWAY], ids=["timed-out", "502"])
@pytest.mark.parametrize("lag", [0.0, 3.0, 5.0, REQUEST_TIMEOUT + 29.0])
def test_a_job_that_shows_up_late_within_the_settle_window_is_the_one(clock, error, lag):
    backup = FakeBackup(clock, creates=[(error, True)], lag=lag)
    service, warnings = restorer(backup, clock)
    started = clock()
    jobs = service.ensure(request())
    assert backup.posts == 1 and len(backup.raws) == 1 and jobs[0]["id"] == backup.raws[0][1]["id"]
    assert clock() - started <= REQUEST_TIMEOUT + 30 + 1e-9
    assert backup.lists >= 2 and "found the matching job" in warnings[0]
    assert service.result["changed"] is True and service.result["reused"] is False


def test_the_create_is_sent_again_only_after_a_whole_settle_window_without_its_job(clock):
    backup = FakeBackup(clock, creates=[(BAD_GATEWAY, False), (BAD_GATEWAY, False)])
    service, warnings = restorer(backup, clock)
    posted_at = []
    original = backup.create_restore_job

    def create(body, deadline=None):
        posted_at.append(clock())
        return original(body, deadline)

    backup.create_restore_job = create
    jobs = service.ensure(request())
    assert backup.posts == 3 and len(backup.raws) == 1 and jobs[0]["id"] == backup.raws[0][1]["id"]
    gaps = [later - earlier for earlier, later in zip(posted_at, posted_at[1:])]
    assert all(gap >= REQUEST_TIMEOUT + 30 for gap in gaps), gaps
    assert service.result["changed"] is True


def test_when_the_retries_are_spent_the_failure_says_a_create_was_sent_and_a_rerun_is_safe(clock):
    backup = FakeBackup(clock, creates=[(TIMED_OUT, False)] * 3)
    service, dummy = restorer(backup, clock, max_retries=2)
    with pytest.raises(LostCreate) as caught:
        service.ensure(request())
    assert backup.posts == 3  # the first try and max_retries more, each after a whole settle window
    assert "may still appear" in str(caught.value) and "Re-running the task is safe" in str(caught.value)
    assert service.result["changed"] is True  # something may have been made


def test_a_create_never_sent_again_when_the_look_up_fails(clock):
    backup = FakeBackup(clock, creates=[(TIMED_OUT, False)])
    backup.list_error_after_post = AtlasError("Atlas answered HTTP 503", status=503, transient=True)
    service, dummy = restorer(backup, clock)
    with pytest.raises(LostCreate) as caught:
        service.ensure(request())
    assert backup.posts == 1
    assert "a create request was sent" in str(caught.value) and "looking for it failed too" in str(caught.value)
    assert "503" in str(caught.value)


def test_the_settle_window_ends_at_the_deadline(clock):
    backup = FakeBackup(clock, creates=[(TIMED_OUT, False)] * 5)
    service, dummy = restorer(backup, clock, max_retries=5, deadline=clock() + 20)
    with pytest.raises(LostCreate):
        service.ensure(request())
    assert backup.posts == 1 and clock() <= 1000.0 + 20


def test_refused_creates_are_final_and_change_nothing(clock):
    for error in (AtlasError("bad request", status=400, error_code="INVALID_ATTRIBUTE"),
                  AtlasError("not implemented", status=501)):
        backup = FakeBackup(clock, creates=[(error, False)])
        service, dummy = restorer(backup, clock)
        with pytest.raises(AtlasError):
            service.ensure(request())
        assert backup.posts == 1 and service.result["changed"] is False


def test_a_409_names_the_job_in_the_way(clock):
    in_the_way = raw_job(1, snapshot=OTHER_SNAPSHOT)
    backup = FakeBackup(clock, jobs=[in_the_way], creates=[(CONFLICT, False)])
    service, dummy = restorer(backup, clock)
    with pytest.raises(AtlasError) as caught:
        service.ensure(request())
    assert in_the_way["id"] in str(caught.value) and "restore_job_info" in str(caught.value)
    assert caught.value.status == 409 and service.result["changed"] is False


def test_a_409_from_a_concurrent_run_of_the_same_restore_is_reused_not_claimed(clock):
    backup = FakeBackup(clock, creates=[(CONFLICT, True)])  # the other run's create made the job
    service, warnings = restorer(backup, clock)
    jobs = service.ensure(request())
    assert jobs[0]["id"] == backup.raws[0][1]["id"]
    assert service.result["changed"] is False and service.result["reused"] is True
    assert "another run" in warnings[0]


def test_a_409_after_a_lost_create_of_this_run_cannot_tell_whose_job_it_is(clock):
    backup = FakeBackup(clock, creates=[(BAD_GATEWAY, False), (CONFLICT, True)])
    service, warnings = restorer(backup, clock)
    service.ensure(request())
    assert service.result["changed"] is True and service.result["reused"] is False
    assert "either by that create or by another run" in warnings[-1]


def test_an_extra_job_made_by_a_lost_create_is_named(clock):
    backup = FakeBackup(clock, creates=[(BAD_GATEWAY, True)], lag=REQUEST_TIMEOUT + 60)  # lands after the window
    service, warnings = restorer(backup, clock)
    jobs = service.ensure(request())
    assert backup.posts == 2 and jobs[0]["id"] == backup.raws[1][1]["id"]
    clock.sleep(60)
    service.warn_about_extra_jobs()
    assert backup.raws[0][1]["id"] in warnings[-1] and "as well as" in warnings[-1]


def test_a_legacy_batch_is_kept_whole_with_the_worst_status(clock):
    backup = FakeBackup(clock, cluster_type="legacy", batch=3)
    backup.create_restore_job = lambda body, deadline=None: [
        job_view({"id": f"6740{n:020x}", "statusName": status, "snapshotId": SNAPSHOT, "batchId": "b" * 24,
                  "delivery": {"methodName": "HTTP", "targetClusterName": "dr", "targetGroupId": PROJECT}}, "legacy")
        for n, status in ((1, "FINISHED"), (2, "IN_PROGRESS"), (3, "FINISHED"))]
    legacy = RestoreRequest(cluster_type="legacy", project_id=PROJECT, cluster_name="prod", delivery_type="automated",
                            snapshot_id=SNAPSHOT, target_cluster_name="dr")
    service, dummy = restorer(backup, clock)
    jobs = service.ensure(legacy)
    assert len(jobs) == 3 and len(service.result["restore_jobs"]) == 3
    assert service.result["restore_job"]["id"] == jobs[0]["id"] and service.result["restore_job"]["status"] == "in_progress"


def test_cancel_rules(clock):
    download = raw_job(1, deliveryType="download", targetClusterName=None)
    automated = raw_job(2)
    done = raw_job(3, deliveryType="download", targetClusterName=None, deliveryUrl=["https://x"])
    backup = FakeBackup(clock, jobs=[download, automated, done])
    service, dummy = restorer(backup, clock)
    service.cancel(done["id"])
    assert service.result["changed"] is False and backup.deleted == []
    with pytest.raises(ValueError, match="cancels only download jobs"):
        service.cancel(automated["id"])
    service.cancel(download["id"])
    assert backup.deleted == [download["id"]] and service.result["changed"] is True
    assert service.result["restore_job"]["status"] == "cancelled"
