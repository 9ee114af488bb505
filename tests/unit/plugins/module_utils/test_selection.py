# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A snapshot chosen by policy in restore_job (latest_snapshot, snapshot_before): the choice, what a re-run does about an
earlier restore into the target (attach, re-use, refuse), and that a refusal sends nothing."""

from __future__ import annotations

import json

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils import _module
from ansible_collections.atlasops.backup.plugins.module_utils._client import AtlasClient
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._selection import (
    ATTACH, NEW, NO_SNAPSHOT, REFUSE_OLD, REFUSE_RUNNING, REUSE, SnapshotPolicy, decide, refusal_message,
)
from ansible_collections.atlasops.backup.plugins.module_utils._time import parse_atlas_time
from ansible_collections.atlasops.backup.plugins.modules import restore_job
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount
from ansible_collections.atlasops.backup.tests.unit.plugins.modules.module_runner import run_module

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
OLD, NEWER, RUNNING_SNAP = "6741a2b3c4d5e6f7a8b9c0a1", "6741a2b3c4d5e6f7a8b9c0a2", "6741a2b3c4d5e6f7a8b9c0a3"
JOB = "6741a2b3c4d5e6f7a8b9c0d1"
NOW = parse_atlas_time("2026-11-21T00:00:00Z")
REQUEST = RestoreRequest(cluster_type="dedicated", project_id=PROJECT, cluster_name="prod", delivery_type="automated",
                         target_cluster_name="dr")


def snapshot(snapshot_id, taken, status="completed"):
    return {"id": snapshot_id, "status": status, "taken_at": taken, "created_at": taken}


SNAPSHOTS = [snapshot(OLD, "2026-11-19T00:00:00Z"), snapshot(NEWER, "2026-11-20T00:00:00Z"),
             snapshot(RUNNING_SNAP, None, status="in_progress")]


def job(status="completed", snapshot_id=OLD, target="dr", delivery="automated", finished="2026-11-20T23:00:00Z", **extra):
    view = {"id": JOB, "status": status, "snapshot_id": snapshot_id, "delivery_type": delivery, "target_cluster_name": target,
            "target_project_id": PROJECT, "created_at": "2026-11-20T22:00:00Z"}
    if status == "completed":
        view["finished_at"] = finished
    return dict(view, **extra)


def choose(jobs, before=None, window=43200):
    return decide(REQUEST, SnapshotPolicy(before=before, reuse_window=window), jobs, SNAPSHOTS, now=NOW)


def test_without_earlier_restores_the_newest_completed_snapshot_is_chosen():
    chosen = choose([])
    assert (chosen.action, chosen.snapshot_id) == (NEW, NEWER)
    assert choose([], before=parse_atlas_time("2026-11-19T12:00:00Z")).snapshot_id == OLD


def test_no_completed_snapshot_at_or_before_the_time_is_a_refusal():
    chosen = choose([], before=parse_atlas_time("2026-11-18T00:00:00Z"))
    assert chosen.action == NO_SNAPSHOT and chosen.snapshot_id is None
    message = refusal_message(chosen, REQUEST, SnapshotPolicy(parse_atlas_time("2026-11-18T00:00:00Z"), 0))
    assert "no completed snapshot of cluster prod" in message and "2026-11-18T00:00:00Z" in message and "nothing was sent" in message


def test_a_running_earlier_restore_is_attached_to_even_when_a_newer_snapshot_exists():
    chosen = choose([job(status="in_progress")])
    assert (chosen.action, chosen.snapshot_id, chosen.job["id"]) == (ATTACH, OLD, JOB)


def test_a_running_earlier_restore_of_a_snapshot_after_the_time_is_refused():
    chosen = choose([job(status="in_progress", snapshot_id=NEWER)], before=parse_atlas_time("2026-11-19T12:00:00Z"))
    assert chosen.action == REFUSE_RUNNING and chosen.satisfies is False
    message = refusal_message(chosen, REQUEST, SnapshotPolicy(parse_atlas_time("2026-11-19T12:00:00Z"), 0))
    assert JOB in message and NEWER in message and "force: true" in message and "once job" in message


def test_a_completed_earlier_restore_is_reused_within_the_window_and_refused_after_it():
    assert choose([job()], window=3600).action == REUSE  # ended an hour ago
    old = choose([job()], window=3599)
    assert old.action == REFUSE_OLD and old.age_seconds == 3600
    assert "3600 s ago, longer ago than reuse_window=3599 s" in refusal_message(old, REQUEST, SnapshotPolicy(None, 3599))


@pytest.mark.parametrize("other", [
    job(status="failed"), job(status="cancelled"), job(status="expired"), job(target="elsewhere"), job(delivery="download"),
    job(target_project_id="5f1a2b3c4d5e6f7a8b9c0d99"),
])
def test_jobs_that_did_not_restore_this_source_into_this_target_are_no_earlier_restore(other):
    assert choose([other]).action == NEW


def test_the_newest_earlier_restore_decides():
    newest, older = job(status="in_progress", id="6741a2b3c4d5e6f7a8b9c0d2"), job()
    assert choose([newest, older]).job["id"] == "6741a2b3c4d5e6f7a8b9c0d2"


# --- restore_job in-process ---------------------------------------------------------------------------------------


class SnapshotAtlas:
    """The source's snapshots and restore jobs; a POST creates a job."""

    def __init__(self, jobs=(), snapshots=None):
        self.jobs = [dict(raw) for raw in jobs]
        self.snapshots = snapshots if snapshots is not None else [
            {"id": OLD, "status": "completed", "createdAt": "2026-11-19T00:00:00Z"},
            {"id": NEWER, "status": "completed", "createdAt": "2026-11-20T00:00:00Z"},
            {"id": RUNNING_SNAP, "status": "inProgress"}]
        self.sent = []

    def __call__(self, sent):
        method, path = sent["method"], sent["path"].split("?")[0]
        self.sent.append((method, path))
        if path.endswith("/snapshots"):
            return 200, {"results": self.snapshots, "totalCount": len(self.snapshots)}
        for raw in self.snapshots:
            if path.endswith(f"/snapshots/{raw['id']}"):
                return 200, raw
        if path.endswith("/restoreJobs") and method == "GET":
            return 200, {"results": self.jobs, "totalCount": len(self.jobs)}
        if path.endswith("/restoreJobs") and method == "POST":
            body = json.loads(sent["body"])
            created = {"id": "6741a2b3c4d5e6f7a8b9c0f0", "deliveryType": "automated", "snapshotId": body["snapshotId"],
                       "targetClusterName": body["targetClusterName"], "targetGroupId": body["targetGroupId"]}
            self.jobs.insert(0, created)
            return 200, created
        return 404, {"error": 404, "errorCode": "RESOURCE_NOT_FOUND", "detail": path}

    def posts(self):
        return [path for method, path in self.sent if method == "POST"]


@pytest.fixture
def atlas(no_atlas_env):
    state = {}

    def build(base_url, credentials, **kwargs):
        built = AtlasClient(base_url, credentials, **kwargs)
        mount(built, Scripted(handler=state["atlas"]))
        return built

    no_atlas_env.setattr(_module, "AtlasClient", build)
    no_atlas_env.setenv("MONGODB_ATLAS_BASE_URL", "https://atlas.example.test")
    return state


def run(capsys, **options):
    args = dict(dict(public_key="pub", private_key="private-key-never-shown", project_id=PROJECT, cluster_name="prod",
                     target_cluster_name="dr", preflight=False), **options)
    return run_module(restore_job.main, args, capsys)


def raw_job(status="completed", snapshot_id=OLD, finished="2026-11-20T23:00:00Z"):
    raw = {"id": JOB, "deliveryType": "automated", "snapshotId": snapshot_id, "targetClusterName": "dr", "targetGroupId": PROJECT}
    if status == "completed":
        raw["finishedAt"] = finished
    else:
        raw["expired"] = False
    return raw


def test_latest_snapshot_restores_the_newest_completed_one_in_one_run(atlas, capsys):
    atlas["atlas"] = fake = SnapshotAtlas()
    result = run(capsys, latest_snapshot=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["request"]["snapshotId"] == NEWER and result["snapshot"]["id"] == NEWER
    assert result["selection"]["action"] == "new" and result["reused_status"] is None
    # the jobs once (earlier restores and matching), the snapshots once, the create
    assert [method for method, dummy in fake.sent] == ["GET", "GET", "POST"]


def test_snapshot_before_chooses_the_last_good_one_before_the_incident(atlas, capsys):
    atlas["atlas"] = SnapshotAtlas()
    result = run(capsys, snapshot_before="2026-11-19T06:00:00+00:00")
    assert result["request"]["snapshotId"] == OLD and result["snapshot"]["id"] == OLD


def test_an_old_earlier_restore_is_refused_and_nothing_is_sent(atlas, capsys):
    atlas["atlas"] = fake = SnapshotAtlas(jobs=[raw_job(finished="2026-01-01T00:00:00Z")])
    result = run(capsys, latest_snapshot=True, reuse_window=60)
    assert result["failed"] and fake.posts() == []
    assert result["selection"]["action"] == "refuse_old" and result["selection"]["job"]["id"] == JOB
    assert JOB in result["msg"] and "reuse_window=60" in result["msg"] and result["snapshot"]["id"] == OLD
    forced = run(capsys, latest_snapshot=True, reuse_window=60, force=True)
    assert not forced.get("failed"), forced.get("msg")
    assert forced["changed"] and forced["request"]["snapshotId"] == NEWER and len(fake.posts()) == 1


def test_a_running_earlier_restore_is_attached_to_and_reported_as_found(atlas, capsys):
    atlas["atlas"] = fake = SnapshotAtlas(jobs=[raw_job(status="in_progress")])
    result = run(capsys, latest_snapshot=True)
    assert not result.get("failed"), result.get("msg")
    assert result["reused"] and not result["changed"] and result["restore_job"]["id"] == JOB and fake.posts() == []
    assert result["selection"]["action"] == "attach" and result["reused_status"] not in ("completed", None)


def test_check_mode_predicts_the_choice_and_sends_nothing(atlas, capsys):
    atlas["atlas"] = fake = SnapshotAtlas()
    result = run(capsys, latest_snapshot=True, _ansible_check_mode=True)
    assert result["changed"] and result["request"]["snapshotId"] == NEWER and fake.posts() == []


def test_a_given_snapshot_that_is_not_completed_is_refused_before_the_create(atlas, capsys):
    atlas["atlas"] = fake = SnapshotAtlas()
    result = run(capsys, snapshot_id=RUNNING_SNAP, preflight=True)
    assert result["failed"] and fake.posts() == []
    assert result["selection"]["action"] == "snapshot_not_completed" and "in_progress, not completed" in result["msg"]
    missing = run(capsys, snapshot_id="6741a2b3c4d5e6f7a8b9c0ff", preflight=True)
    assert missing["failed"] and missing["selection"]["action"] == "snapshot_not_found" and fake.posts() == []


@pytest.mark.parametrize("options, expected", [
    (dict(latest_snapshot=True, snapshot_id=OLD), "not both"),
    (dict(snapshot_before="yesterday"), "snapshot_before"),
    (dict(latest_snapshot=True, delivery_type="point_in_time", point_in_time="2026-11-20T00:00:00Z"), "takes none"),
    (dict(latest_snapshot=True, reuse_window=-1), "reuse_window must be at least 0"),
    (dict(latest_snapshot=True, job_id=JOB), "not with job_id"),
    (dict(latest_snapshot=True, sharded=True, cluster_type="flex"), "sharded applies to dedicated clusters only"),
])
def test_bad_selection_options_are_refused_before_any_request(atlas, capsys, options, expected):
    atlas["atlas"] = fake = SnapshotAtlas()
    result = run(capsys, **options)
    assert result["failed"] and expected in result["msg"], result["msg"]
    assert fake.sent == []
