# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""restore_job in-process against a scripted Atlas with an injected clock: the refusal comes before the POST, and
waiting for the target counts against the same deadline (ready, never ready, unreadable)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils import _module
from ansible_collections.atlasops.backup.plugins.module_utils._client import AtlasClient
from ansible_collections.atlasops.backup.plugins.modules import restore_job
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount
from ansible_collections.atlasops.backup.tests.unit.plugins.modules.module_runner import run_module
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_clock import FakeClock

PROJECT, SNAPSHOT, JOB = "5f1a2b3c4d5e6f7a8b9c0d1e", "6741a2b3c4d5e6f7a8b9c0aa", "6741a2b3c4d5e6f7a8b9c0dd"
CREDENTIALS = dict(public_key="pub", private_key="private-key-never-shown")


class FakeAtlas:
    """Answers the few operations of one restore; the target leaves IDLE for `busy_reads` reads after the job."""

    def __init__(self, source=None, target=None, busy_reads=0, target_status=200):
        self.source = dict({"name": "prod", "clusterType": "REPLICASET", "mongoDBMajorVersion": "7.0", "mongoDBVersion": "7.0.14",
                            "stateName": "IDLE", "paused": False, "backupEnabled": True, "encryptionAtRestProvider": "NONE"},
                           **(source or {}))
        self.target = dict(self.source, name="dr", **(target or {}))
        self.busy_reads, self.target_status = busy_reads, target_status
        self.sent, self.created = [], False

    def __call__(self, sent):
        method, path = sent["method"], sent["path"]
        self.sent.append((method, path))
        if path.endswith("/clusters/prod"):
            return 200, self.source
        if path.endswith("/clusters/dr"):
            if self.target_status != 200:
                return self.target_status, {"error": self.target_status, "errorCode": "USER_UNAUTHORIZED", "detail": "no"}
            if self.created and self.busy_reads:
                self.busy_reads -= 1
                return 200, dict(self.target, stateName="UPDATING")
            return 200, self.target
        if path.endswith(f"/snapshots/{SNAPSHOT}"):
            return 200, {"id": SNAPSHOT, "status": "completed", "createdAt": "2026-11-20T06:00:00Z", "mongodVersion": "7.0.14"}
        job = {"id": JOB, "deliveryType": "automated", "snapshotId": SNAPSHOT, "targetClusterName": "dr", "targetGroupId": PROJECT,
               "finishedAt": "2026-11-20T07:00:00Z"}
        if path.endswith("/restoreJobs") and method == "GET":
            return 200, {"results": [job] if self.created else [], "totalCount": int(self.created)}
        if path.endswith("/restoreJobs") and method == "POST":
            self.created = True
            return 200, job
        if path.endswith(f"/restoreJobs/{JOB}"):
            return 200, job
        return 404, {"error": 404, "errorCode": "RESOURCE_NOT_FOUND", "detail": path}

    def posts(self):
        return [path for method, path in self.sent if method == "POST"]

    def target_reads(self):
        return [path for method, path in self.sent if path.endswith("/clusters/dr")]


@pytest.fixture
def atlas(no_atlas_env):
    """restore_job on a real AtlasClient whose transport is `state["atlas"]` and whose time is `state["clock"]`."""
    state = {"clock": FakeClock(100.0)}

    def build(base_url, credentials, **kwargs):
        clock = state["clock"]
        built = AtlasClient(base_url, credentials, sleep=clock.sleep, clock=clock, **kwargs)
        mount(built, Scripted(handler=state["atlas"]))
        return built

    no_atlas_env.setattr(_module, "AtlasClient", build)
    no_atlas_env.setenv("MONGODB_ATLAS_BASE_URL", "https://atlas.example.test")
    return state


def run(atlas, fake, capsys, **args):
    atlas["atlas"] = fake
    options = dict(CREDENTIALS, project_id=PROJECT, cluster_name="prod", snapshot_id=SNAPSHOT, target_cluster_name="dr", **args)
    return run_module(restore_job.main, options, capsys)


def test_a_broken_rule_is_refused_before_the_post(atlas, capsys):
    fake = FakeAtlas(target={"mongoDBMajorVersion": "6.0", "mongoDBVersion": "6.0.20"})
    result = run(atlas, fake, capsys)
    assert result["failed"] and "mongodb_version" in result["msg"] and fake.posts() == []
    assert [row["check"] for row in result["preflight"] if row["ok"] is False] == ["mongodb_version"]
    assert CREDENTIALS["private_key"] not in json.dumps(result)
    # The same restore without the checks is sent (and the scripted Atlas takes it).
    fake = FakeAtlas(target={"mongoDBMajorVersion": "6.0", "mongoDBVersion": "6.0.20"})
    assert run(atlas, fake, capsys, preflight=False)["changed"] and len(fake.posts()) == 1


def test_the_target_is_waited_for_until_ready_within_the_same_deadline(atlas, capsys):
    fake = FakeAtlas(busy_reads=4)
    result = run(atlas, fake, capsys, wait=True, wait_timeout=600, wait_for_target=True)
    assert not result.get("failed"), result
    assert result["target_ready_at"] and result["target_ready_at"].endswith("Z")
    # One read for the checks, four while UPDATING, one that saw IDLE.
    assert len(fake.target_reads()) == 6
    assert atlas["clock"].now - 100.0 < 600


def test_a_target_never_ready_fails_at_the_deadline_saying_the_restore_completed(atlas, capsys):
    fake = FakeAtlas(busy_reads=10**6)
    result = run(atlas, fake, capsys, wait=True, wait_timeout=300, wait_for_target=True)
    assert result["failed"] and "the restore completed, but target cluster dr is not ready within wait_timeout (300 s)" in result["msg"]
    assert "UPDATING" in result["msg"] and result["restore_job"]["status"] == "completed" and result["target_ready_at"] is None
    assert atlas["clock"].now - 100.0 <= 300 + 1


def test_a_target_the_credentials_may_not_read_is_a_warning_not_a_failure(atlas, capsys):
    fake = FakeAtlas(target_status=403)
    result = run(atlas, fake, capsys, wait=True, wait_timeout=300, wait_for_target=True)
    assert not result.get("failed"), result["msg"] if result.get("failed") else ""
    assert result["target_ready_at"] is None and result["changed"]
    warnings = json.dumps(result.get("warnings", []))  # strings, or dicts on newer cores
    assert "target_ready_at is null" in warnings and "not judged" in warnings
