# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the Atlas Admin API v2 emulator itself (tests/emulator/atlas_emulator)."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from requests.auth import HTTPDigestAuth

from emulator_fixtures import (  # pylint: disable=unused-import
    EMU_JOB_SECONDS, V2023, V2024, AtlasClient, emu, emu_process, need_spec,
)
from atlas_emulator.contract import find_spec
from atlas_emulator.control import (
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY, DEMO_PROJECT_ID, EmulatorProcess,
)

# pylint: disable=redefined-outer-name

P = "5f1a2b3c4d5e6f7a8b9c0d1e"
P2 = "6a1a2b3c4d5e6f7a8b9c0d1e"
MISSING = "0123456789abcdef01234567"


def seed(emu, cluster_type="dedicated", source="prod-db", target="dr-db", project=P, **cluster):
    emu.add_cluster(project, source, cluster_type=cluster_type, **cluster)
    if target:
        emu.add_cluster(project, target, cluster_type=cluster_type)
    snaps = emu.add_snapshots(project, source, snapshots=[{"created_at": time.time() - 7200, "status": "completed"}])
    return snaps[0]["id"]


def client(emu_process, **kwargs):
    return AtlasClient(emu_process.url, **kwargs)


def token(emu_process, client_id=DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET):
    basic = base64.b64encode(("%s:%s" % (client_id, secret)).encode()).decode()
    return requests.post(emu_process.url + "/api/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": "Basic " + basic}, timeout=10)


def wait_terminal(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        assert time.monotonic() < deadline, "no terminal state in time"
        time.sleep(0.1)


# -- authentication ----------------------------------------------------------------------------------


def test_digest_challenge_once_per_session(emu_process, emu):
    seed(emu)
    api = client(emu_process)
    for dummy in range(4):
        assert api.get("/groups/%s/clusters/prod-db/backup/snapshots" % P).status_code == 200
    log = emu.requests()
    assert [(e["status"], e["auth"], e["counted"]) for e in log] == [(401, "none", False)] + [(200, "digest", True)] * 4
    assert len(emu.api_requests()) == 4
    assert "Authorization" not in str(log) and DEFAULT_PRIVATE_KEY not in str(log)


def test_unauthenticated_and_wrong_key_get_401(emu_process, emu):
    seed(emu)
    path = emu_process.url + "/api/atlas/v2/groups/%s/clusters/prod-db/backup/restoreJobs" % P
    bare = requests.get(path, headers={"Accept": V2023}, timeout=10)
    assert bare.status_code == 401
    challenge = bare.headers["WWW-Authenticate"]
    assert challenge.startswith("Digest ") and 'realm="MMS Public API"' in challenge and 'qop="auth"' in challenge
    assert bare.json()["error"] == 401 and bare.json()["errorCode"]
    for auth in (HTTPDigestAuth(DEFAULT_PUBLIC_KEY, "wrong"), HTTPDigestAuth("nobody", DEFAULT_PRIVATE_KEY)):
        assert requests.get(path, headers={"Accept": V2023}, auth=auth, timeout=10).status_code == 401
    assert requests.get(path, headers={"Accept": V2023}, auth=(DEFAULT_PUBLIC_KEY, DEFAULT_PRIVATE_KEY), timeout=10).status_code == 401
    assert emu.api_requests() == []


def test_oauth_token_bearer_and_expiry(emu_process, emu):
    seed(emu)
    emu.configure(token_ttl=1)
    answer = token(emu_process)
    assert answer.status_code == 200
    data = answer.json()
    assert data["token_type"] == "Bearer" and data["expires_in"] == 1 and data["access_token"]
    api = client(emu_process, token=data["access_token"])
    assert api.get("/groups/%s/clusters/prod-db/backup/snapshots" % P).status_code == 200
    time.sleep(1.2)
    expired = api.get("/groups/%s/clusters/prod-db/backup/snapshots" % P)
    assert expired.status_code == 401 and expired.json()["errorCode"]
    assert client(emu_process, token="made-up").get("/groups/%s/clusters/prod-db/backup/snapshots" % P).status_code == 401
    bad = token(emu_process, secret="wrong")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    log = emu.requests()
    token_calls = [e for e in log if e["operation_id"] == "oauth_token"]
    assert len(token_calls) == 2 and not any(e["counted"] for e in token_calls) and token_calls[0]["auth"] == "basic"
    assert [e["status"] for e in emu.api_requests()] == [200]
    assert DEFAULT_CLIENT_SECRET not in str(log) and data["access_token"] not in str(log)


def test_credentials_can_be_changed(emu_process, emu):
    seed(emu)
    emu.configure(api_keys=[{"public_key": "other", "private_key": "other-secret"}])
    path = "/groups/%s/clusters/prod-db/backup/snapshots" % P
    assert client(emu_process).get(path).status_code == 401
    assert client(emu_process, auth=HTTPDigestAuth("other", "other-secret")).get(path).status_code == 200


# -- versions and pagination -------------------------------------------------------------------------


def test_wrong_or_missing_version_gets_406(emu_process, emu):
    seed(emu)
    seed(emu, "flex", source="flex-db", target=None)
    api = client(emu_process)
    assert api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, version=V2024).status_code == 406
    assert api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, version="*/*").status_code == 406
    assert api.get("/groups/%s/flexClusters/flex-db/backup/restoreJobs" % P, version=V2023).status_code == 406
    ok = api.get("/groups/%s/flexClusters/flex-db/backup/restoreJobs" % P, version=V2024)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == V2024 + ";charset=utf-8"
    assert int(ok.headers["RateLimit-Limit"]) > 0 and "RateLimit-Remaining" in ok.headers
    answer = api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, version="application/vnd.atlas.2025-03-12+json")
    assert answer.status_code == 406 and answer.json()["error"] == 406
    if find_spec() is not None:
        assert len([v for v in emu.violations() if v["kind"] == "request"]) == 4
        emu.clear_violations()


def test_pagination_of_10000_jobs(emu_process, emu):
    snapshot = seed(emu)
    started = time.monotonic()
    ids = emu.add_restore_jobs(P, "prod-db", count=10000, snapshot_id=snapshot, target_cluster_name="dr-db", state="completed")
    assert len(ids) == 10000 and time.monotonic() - started < 5
    api = client(emu_process)
    seen = []
    started = time.monotonic()
    for page in range(1, 21):
        answer = api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, params={"itemsPerPage": 500, "pageNum": page})
        assert answer.status_code == 200
        body = answer.json()
        assert body["totalCount"] == 10000 and len(body["results"]) == 500
        rels = {link["rel"]: link["href"] for link in body["links"]}
        assert "pageNum=%d" % page in rels["self"]
        assert ("previous" in rels) == (page > 1) and ("next" in rels) == (page < 20)
        if page < 20:
            assert "pageNum=%d" % (page + 1) in rels["next"] and "itemsPerPage=500" in rels["next"]
        seen += [job["id"] for job in body["results"]]
    assert time.monotonic() - started < 10
    assert seen == ids and seen == sorted(seen)
    beyond = api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, params={"itemsPerPage": 500, "pageNum": 21}).json()
    assert beyond["results"] == []
    no_count = api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, params={"includeCount": "false"}).json()
    assert "totalCount" not in no_count and len(no_count["results"]) == 100
    for bad in ({"itemsPerPage": 501}, {"itemsPerPage": 0}, {"pageNum": 0}, {"pageNum": "x"}):
        assert api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, params=bad).status_code == 400
    emu.clear_violations()  # the out-of-range requests above are request violations by design


# -- lifecycles --------------------------------------------------------------------------------------


def test_dedicated_and_serverless_lifecycles(emu_process, emu):
    snapshot = seed(emu)
    sls = seed(emu, "serverless", source="sls-db", target="sls-dr")
    api = client(emu_process)
    auto = api.post("/groups/%s/clusters/prod-db/backup/restoreJobs" % P,
                    {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db", "targetGroupId": P}).json()
    assert auto["cancelled"] is False and "finishedAt" not in auto and "status" not in auto
    download = api.post("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, {"deliveryType": "download", "snapshotId": snapshot}).json()
    assert download["deliveryUrl"] == []
    pit = api.post("/groups/%s/clusters/prod-db/backup/restoreJobs" % P,
                   {"deliveryType": "pointInTime", "pointInTimeUTCSeconds": int(time.time()) - 600, "targetClusterName": "prod-db",
                    "targetGroupId": P}).json()
    sls_job = api.post("/groups/%s/serverless/sls-db/backup/restoreJobs" % P,
                       {"deliveryType": "download", "snapshotId": sls, "targetClusterName": "sls-db", "targetGroupId": P}).json()

    def done(path, job_id):
        job = api.get(path + job_id).json()
        return job if job.get("finishedAt") or job["deliveryUrl"] else None  # a ready download has no finishedAt

    base = "/groups/%s/clusters/prod-db/backup/restoreJobs/" % P
    assert wait_terminal(lambda: done(base, auto["id"]))["failed"] is False
    assert wait_terminal(lambda: done(base, download["id"]))["deliveryUrl"]
    assert wait_terminal(lambda: done(base, pit["id"]))["pointInTimeUTCSeconds"] == pit["pointInTimeUTCSeconds"]
    finished = wait_terminal(lambda: done("/groups/%s/serverless/sls-db/backup/restoreJobs/" % P, sls_job["id"]))
    assert finished["deliveryUrl"] and finished["targetClusterName"] == "sls-db"


def test_flex_and_legacy_lifecycles_and_outcomes(emu_process, emu):
    flex_snap = seed(emu, "flex", source="flex-db", target="flex-dr")
    legacy_snap = seed(emu, "legacy", source="legacy-db", target="legacy-dr")
    bad_snap = seed(emu, source="bad-db", target="bad-dr", job_outcome="failed")
    api = client(emu_process)
    flex = api.post("/groups/%s/flexClusters/flex-db/backup/restoreJobs" % P,
                    {"snapshotId": flex_snap, "targetDeploymentItemName": "flex-dr", "targetProjectId": P}, version=V2024)
    assert flex.status_code == 200 and flex.json()["status"] in ("PENDING", "RUNNING") and flex.json()["deliveryType"] == "RESTORE"
    legacy = api.post("/groups/%s/clusters/legacy-db/restoreJobs" % P,
                      {"snapshotId": legacy_snap, "delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "legacy-dr",
                                                               "targetGroupId": P}})
    assert legacy.status_code == 200
    legacy_job = legacy.json()["results"][0]
    assert legacy_job["statusName"] == "IN_PROGRESS" and legacy_job["delivery"]["methodName"] == "HTTP"
    assert legacy_job["delivery"]["targetClusterName"] == "legacy-dr"
    bad = api.post("/groups/%s/clusters/bad-db/backup/restoreJobs" % P,
                   {"deliveryType": "automated", "snapshotId": bad_snap, "targetClusterName": "bad-dr", "targetGroupId": P}).json()

    def flex_done():
        job = api.get("/groups/%s/flexClusters/flex-db/backup/restoreJobs/%s" % (P, flex.json()["id"]), version=V2024).json()
        return job if job["status"] in ("COMPLETED", "FAILED") else None

    def legacy_done():
        job = api.get("/groups/%s/clusters/legacy-db/restoreJobs/%s" % (P, legacy_job["id"])).json()
        return job if job["statusName"] != "IN_PROGRESS" else None

    def bad_done():
        job = api.get("/groups/%s/clusters/bad-db/backup/restoreJobs/%s" % (P, bad["id"])).json()
        return job if job["failed"] else None

    finished = wait_terminal(flex_done)
    assert finished["status"] == "COMPLETED" and finished["restoreFinishedDate"]
    assert wait_terminal(legacy_done)["statusName"] == "FINISHED"
    assert "finishedAt" not in wait_terminal(bad_done)


def test_admin_forces_job_states(emu_process, emu):
    snapshot = seed(emu)
    held = emu.add_restore_jobs(P, "prod-db", delivery_type="download", snapshot_id=snapshot, state="running")[0]
    time.sleep(EMU_JOB_SECONDS + 0.1)
    api = client(emu_process)
    path = "/groups/%s/clusters/prod-db/backup/restoreJobs/%s" % (P, held)
    assert api.get(path).json()["deliveryUrl"] == []  # held running: no cluster job_seconds
    emu.set_job_state(held, "completed")
    job = api.get(path).json()
    assert job["deliveryUrl"] and job["expiresAt"] and "finishedAt" not in job
    assert emu.restore_jobs(P, "prod-db")[0]["id"] == held


# -- create rules ------------------------------------------------------------------------------------


def test_legacy_create_returns_a_list_and_batches(emu_process, emu):
    snapshot = seed(emu, "legacy", source="legacy-db", target=None)
    sharded = seed(emu, "legacy", source="legacy-shard", target=None, sharded=True)
    api = client(emu_process)
    single = api.post("/groups/%s/clusters/legacy-db/restoreJobs" % P, {"snapshotId": snapshot, "delivery": {"methodName": "HTTP"}})
    assert single.status_code == 200 and single.json()["totalCount"] == 1
    batch = api.post("/groups/%s/clusters/legacy-shard/restoreJobs" % P, {"snapshotId": sharded, "delivery": {"methodName": "HTTP"}})
    jobs = batch.json()["results"]
    assert len(jobs) == 3 and len({job["batchId"] for job in jobs}) == 1
    listed = api.get("/groups/%s/clusters/legacy-shard/restoreJobs" % P, params={"batchId": jobs[0]["batchId"]}).json()
    assert listed["totalCount"] == 3
    recent = int(time.time() - 600) * 1000
    pit = api.post("/groups/%s/clusters/legacy-db/restoreJobs" % P,
                   {"pointInTimeUTCMillis": recent, "delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "legacy-db",
                                                                 "targetGroupId": P}})
    assert pit.status_code == 200 and pit.json()["results"][0]["timestamp"]["date"]
    too_old = api.post("/groups/%s/clusters/legacy-db/restoreJobs" % P,
                       {"pointInTimeUTCMillis": recent - 2 * 86400000,
                        "delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "legacy-db", "targetGroupId": P}})
    assert too_old.status_code == 400
    again = api.post("/groups/%s/clusters/legacy-db/restoreJobs" % P,  # legacy has no 409
                     {"pointInTimeUTCMillis": recent, "delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "legacy-db",
                                                                   "targetGroupId": P}})
    assert again.status_code == 200


def test_cancel_rules(emu_process, emu):
    snapshot = seed(emu, job_seconds=60)
    shard_snap = seed(emu, source="shard-db", target=None, sharded=True, job_seconds=60)
    api = client(emu_process)
    running = emu.add_restore_jobs(P, "prod-db", delivery_type="download", snapshot_id=snapshot, state="running")[0]
    done = emu.add_restore_jobs(P, "prod-db", delivery_type="download", snapshot_id=snapshot, state="completed")[0]
    sharded = emu.add_restore_jobs(P, "shard-db", delivery_type="download", snapshot_id=shard_snap, state="running")[0]
    base = "/groups/%s/clusters/%%s/backup/restoreJobs/%%s" % P
    answer = api.delete(base % ("prod-db", running))
    assert answer.status_code == 204 and answer.content == b""
    assert api.get(base % ("prod-db", running)).json()["cancelled"] is True
    assert api.delete(base % ("prod-db", running)).status_code == 400
    assert api.delete(base % ("prod-db", done)).status_code == 400
    refused = api.delete(base % ("shard-db", sharded))
    assert refused.status_code == 405 and refused.json()["errorCode"] == "ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED"
    assert api.delete(base % ("prod-db", MISSING)).status_code == 404


def test_conflict_on_a_target_being_restored(emu_process, emu):
    snapshot = seed(emu, job_seconds=60)
    flex_snap = seed(emu, "flex", source="flex-db", target="flex-dr", job_seconds=60)
    api = client(emu_process)
    body = {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db", "targetGroupId": P}
    assert api.post("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, body).status_code == 200
    conflict = api.post("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, body)
    assert conflict.status_code == 409 and "dr-db" in conflict.json()["detail"]
    assert api.post("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, {"deliveryType": "download", "snapshotId": snapshot}).ok
    flex = {"snapshotId": flex_snap, "targetDeploymentItemName": "flex-dr"}
    assert api.post("/groups/%s/flexClusters/flex-db/backup/restoreJobs" % P, flex, version=V2024).status_code == 200
    assert api.post("/groups/%s/flexClusters/flex-db/backup/restoreJobs" % P, flex, version=V2024).status_code == 409


def test_family_mismatches_and_missing_things(emu_process, emu):
    seed(emu)
    seed(emu, "flex", source="flex-db", target=None)
    seed(emu, "serverless", source="sls-db", target=None)
    seed(emu, "legacy", source="legacy-db", target=None)
    api = client(emu_process)

    def code(path, version=V2023):
        answer = api.get("/groups/%s%s" % (P, path), version=version)
        return answer.status_code, answer.json()["errorCode"]

    assert code("/clusters/flex-db/backup/restoreJobs") == (400, "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API")
    assert code("/flexClusters/prod-db/backup/restoreJobs", V2024) == (400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API")
    assert code("/clusters/sls-db/backup/restoreJobs") == (404, "CLUSTER_NOT_FOUND")
    assert code("/serverless/prod-db/backup/restoreJobs") == (404, "SERVERLESS_INSTANCE_NOT_FOUND")
    assert code("/clusters/legacy-db/backup/snapshots")[0] == 400
    assert code("/clusters/prod-db/snapshots")[0] == 400
    assert code("/clusters/nope/backup/restoreJobs") == (404, "CLUSTER_NOT_FOUND")
    assert code("/clusters/prod-db/backup/restoreJobs/%s" % MISSING)[0] == 404
    assert code("/clusters/prod-db/backup/snapshots/%s" % MISSING)[0] == 404
    assert api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % MISSING).status_code == 404


def test_invalid_create_bodies(emu_process, emu):
    snapshot = seed(emu)
    api = client(emu_process)
    path = "/groups/%s/clusters/prod-db/backup/restoreJobs" % P
    now = int(time.time())
    bad_bodies = [
        {"deliveryType": "download", "snapshotId": snapshot, "targetClusterName": "dr-db", "targetGroupId": P},
        {"deliveryType": "automated", "snapshotId": snapshot},
        {"deliveryType": "automated", "snapshotId": MISSING, "targetClusterName": "dr-db", "targetGroupId": P},
        {"deliveryType": "pointInTime", "pointInTimeUTCSeconds": now - 60, "oplogTs": now - 60, "oplogInc": 1,
         "targetClusterName": "dr-db", "targetGroupId": P},
        {"deliveryType": "pointInTime", "targetClusterName": "dr-db", "targetGroupId": P},
        {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db", "targetGroupId": P, "color": "red"},
    ]
    for body in bad_bodies:
        answer = api.post(path, body)
        assert answer.status_code == 400, body
        assert answer.json()["errorCode"] in ("INVALID_ATTRIBUTE", "MISSING_ATTRIBUTE", "VALIDATION_ERROR")
        assert answer.json().get("badRequestDetail", {}).get("fields"), answer.json()
    missing_target = api.post(path, {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "nope", "targetGroupId": P})
    assert missing_target.status_code == 404 and missing_target.json()["errorCode"] == "CLUSTER_NOT_FOUND"
    serverless = seed(emu, "serverless", source="sls-db", target=None)
    sls = api.post("/groups/%s/serverless/sls-db/backup/restoreJobs" % P, {"deliveryType": "download", "snapshotId": serverless})
    assert sls.status_code == 400
    emu.clear_violations()


# -- faults ------------------------------------------------------------------------------------------


def test_fault_status_and_skip(emu_process, emu):
    seed(emu)
    emu.add_fault(operation_id="listGroupClusterBackupSnapshots", action="status", status=429, retry_after=2, skip=1)
    api = client(emu_process)
    path = "/groups/%s/clusters/prod-db/backup/snapshots" % P
    statuses = []
    for dummy in range(3):
        answer = api.get(path)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert answer.headers["Retry-After"] == "2" and answer.json()["errorCode"] == "RATE_LIMITED"
            assert answer.headers["X-Error-Code"] == "RATE_LIMITED" and answer.headers["RateLimit-Remaining"] == "0"
    assert statuses == [200, 429, 200]
    emu.add_fault(method="GET", path_contains="/snapshots", action="status", status=503, times=2)
    assert [api.get(path).status_code for dummy in range(3)] == [503, 503, 200]
    faults = emu.faults()
    assert faults["tallies"] == {"status": 3} and faults["status_tallies"] == {"429": 1, "503": 2}
    assert [e["fault"] for e in emu.api_requests()].count("status") == 3
    emu.clear_faults()
    emu.add_fault(operation_id="listGroupClusterBackupSnapshots", status=429, times=2)
    emu.add_fault(operation_id="listGroupClusterBackupSnapshots", status=500, skip=2)  # skip counts every matching request
    assert [api.get(path).status_code for dummy in range(4)] == [429, 429, 500, 200]


def test_fault_drops_and_delay(emu_process, emu):
    snapshot = seed(emu, job_seconds=60)
    api = client(emu_process)
    path = "/groups/%s/clusters/prod-db/backup/restoreJobs" % P
    body = {"deliveryType": "download", "snapshotId": snapshot}
    api.get(path)  # the digest handshake
    emu.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="drop_before")
    with pytest.raises(requests.ConnectionError):
        api.post(path, body)
    assert emu.restore_jobs(P, "prod-db") == []
    emu.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="drop_after")
    with pytest.raises(requests.ConnectionError):
        api.post(path, body)
    assert len(emu.restore_jobs(P, "prod-db")) == 1
    emu.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="delay", delay_seconds=1.0)
    with pytest.raises(requests.Timeout):
        api.post(path, body, timeout=0.3)
    assert len(emu.restore_jobs(P, "prod-db")) == 2  # processed before the delay
    assert api.post(path, body).status_code == 200
    assert emu.faults()["tallies"] == {"drop_before": 1, "drop_after": 1, "delay": 1}
    faults = [e["fault"] for e in emu.requests() if e["method"] == "POST"]
    assert faults == ["drop_before", "drop_after", "delay", None]


def test_fault_expire_token(emu_process, emu):
    seed(emu)
    access = token(emu_process).json()["access_token"]
    api = client(emu_process, token=access)
    path = "/groups/%s/clusters/prod-db/backup/snapshots" % P
    emu.add_fault(operation_id="listGroupClusterBackupSnapshots", action="expire_token")
    assert api.get(path).status_code == 401
    assert api.get(path).status_code == 401  # the token stays invalid
    assert client(emu_process, token=token(emu_process).json()["access_token"]).get(path).status_code == 200
    digest = client(emu_process)
    assert digest.get(path).status_code == 200
    emu.add_fault(operation_id="listGroupClusterBackupSnapshots", action="expire_token")
    assert digest.get(path).status_code == 200  # requests answers the stale challenge once more
    emu.add_fault(operation_id="oauth_token", action="status", status=503)
    assert token(emu_process).status_code == 503 and token(emu_process).status_code == 200


def test_probabilistic_faults_are_reproducible(emu_process, emu):
    seed(emu)
    path = "/groups/%s/clusters/prod-db/backup/snapshots" % P

    def run():
        emu.clear_faults()
        emu.add_faults([{"operation_id": "listGroupClusterBackupSnapshots", "action": "status", "status": 500, "times": -1,
                         "probability": 0.5, "seed": 7}])
        api = client(emu_process)
        return [api.get(path).status_code for dummy in range(16)]

    first = run()
    assert first == run() and 500 in first and 200 in first


# -- request log and contract ------------------------------------------------------------------------


def test_request_log_counts(emu_process, emu):
    seed(emu)
    api = client(emu_process)
    api.get("/groups/%s/clusters/prod-db/backup/snapshots" % P)
    mark = emu.requests()[-1]["seq"]
    api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P, params={"itemsPerPage": 5})
    token(emu_process)
    later = emu.requests(since=mark)
    assert [e["operation_id"] for e in later] == ["listGroupClusterBackupRestoreJobs", "oauth_token"]
    assert later[0]["query"] == {"itemsPerPage": "5"} and later[0]["counted"] and not later[1]["counted"]
    assert len(emu.api_requests()) == 2 and len(emu.api_requests(counted_only=False)) == 3
    emu.clear_requests()
    assert emu.requests() == []


def test_contract_records_bad_requests(emu_process, emu, need_spec):  # pylint: disable=unused-argument
    snapshot = seed(emu)
    api = client(emu_process)
    path = "/groups/%s/clusters/prod-db/backup/restoreJobs" % P
    answer = api.post(path, {"deliveryType": "download", "snapshotId": snapshot, "id": "x" * 24})  # id is readOnly
    assert answer.status_code == 400 and answer.json()["errorCode"] == "VALIDATION_ERROR"
    assert api.get(path, params={"color": "red"}).status_code == 400
    plain_json = api.post(path, {"deliveryType": "download", "snapshotId": snapshot}, headers={"Content-Type": "application/json"})
    assert plain_json.status_code == 200
    messages = [v["message"] for v in emu.violations()]
    assert all(v["kind"] == "request" for v in emu.violations())
    assert any("read-only" in m for m in messages)
    assert any("color" in m for m in messages)
    assert any("application/json" in m for m in messages)
    assert emu.restore_jobs(P, "prod-db")[0]["deliveryType"] == "download"
    emu.clear_violations()
    assert emu.violations() == []


def test_a_normal_session_over_all_operations_has_no_violations(emu_process, emu, need_spec):  # pylint: disable=unused-argument
    emu.load_scenario("demo", job_seconds=1.0)
    shard = seed(emu, source="shard-db", target=None, project=DEMO_PROJECT_ID, sharded=True)
    api = client(emu_process)
    g = "/groups/%s" % DEMO_PROJECT_ID
    snaps = api.get(g + "/clusters/prod-orders/backup/snapshots", params={"itemsPerPage": 500}).json()["results"]
    done = [s for s in snaps if s["status"] == "completed"]
    assert len(snaps) == 12 and len(done) == 10
    assert api.get(g + "/clusters/prod-orders/backup/snapshots/%s" % done[0]["id"]).ok
    closest = api.get(g + "/clusters/prod-orders/backup/snapshots", params={"pointInTimeUtcSeconds": int(time.time())}).json()
    assert [s["id"] for s in closest["results"]] == [done[-1]["id"]]
    sharded = api.get(g + "/clusters/shard-db/backup/snapshots/shardedClusters").json()["results"]
    assert sharded[0]["members"] and sharded[0]["type"] == "shardedCluster"
    assert api.get(g + "/clusters/shard-db/backup/snapshots/shardedCluster/%s" % shard).ok
    job = api.post(g + "/clusters/prod-orders/backup/restoreJobs",
                   {"deliveryType": "automated", "snapshotId": done[-1]["id"], "targetClusterName": "dr-orders",
                    "targetGroupId": DEMO_PROJECT_ID}).json()
    download = api.post(g + "/clusters/prod-orders/backup/restoreJobs", {"deliveryType": "download", "snapshotId": done[-1]["id"]}).json()
    assert api.delete(g + "/clusters/prod-orders/backup/restoreJobs/%s" % download["id"]).status_code == 204
    assert len(api.get(g + "/clusters/prod-orders/backup/restoreJobs").json()["results"]) == 5
    assert api.get(g + "/clusters/prod-orders/backup/restoreJobs/%s" % job["id"]).ok
    sls = api.get(g + "/serverless/sls-events/backup/snapshots").json()["results"]
    assert api.get(g + "/serverless/sls-events/backup/snapshots/%s" % sls[0]["id"]).ok
    sls_job = api.post(g + "/serverless/sls-events/backup/restoreJobs",
                       {"deliveryType": "automated", "snapshotId": sls[-1]["id"], "targetClusterName": "sls-events-dr",
                        "targetGroupId": DEMO_PROJECT_ID}).json()
    assert api.get(g + "/serverless/sls-events/backup/restoreJobs").ok
    assert api.get(g + "/serverless/sls-events/backup/restoreJobs/%s" % sls_job["id"]).ok
    flex = api.get(g + "/flexClusters/flex-catalog/backup/snapshots", version=V2024).json()["results"]
    assert api.get(g + "/flexClusters/flex-catalog/backup/snapshots/%s" % flex[0]["id"], version=V2024).ok
    flex_job = api.post(g + "/flexClusters/flex-catalog/backup/restoreJobs",
                        {"snapshotId": flex[-1]["id"], "targetDeploymentItemName": "flex-catalog-dr", "targetProjectId": DEMO_PROJECT_ID},
                        version=V2024).json()
    assert api.get(g + "/flexClusters/flex-catalog/backup/restoreJobs", version=V2024).ok
    assert api.get(g + "/flexClusters/flex-catalog/backup/restoreJobs/%s" % flex_job["id"], version=V2024).ok
    legacy = api.get(g + "/clusters/legacy-billing/snapshots", params={"completed": "all"}).json()["results"]
    assert api.get(g + "/clusters/legacy-billing/snapshots/%s" % legacy[0]["id"]).ok
    created = api.post(g + "/clusters/legacy-billing/restoreJobs",
                       {"snapshotId": legacy[-1]["id"], "delivery": {"methodName": "HTTP", "expirationHours": 2, "maxDownloads": 1}})
    legacy_job = created.json()["results"][0]
    assert api.get(g + "/clusters/legacy-billing/restoreJobs").ok
    time.sleep(1.1)
    finished = api.get(g + "/clusters/legacy-billing/restoreJobs/%s" % legacy_job["id"]).json()
    assert finished["statusName"] == "FINISHED" and finished["delivery"]["statusName"] == "READY"
    for path in ("/clusters/prod-orders/backup/restoreJobs/%s" % MISSING, "/clusters/nope/backup/snapshots"):
        assert api.get(g + path).status_code == 404
    assert api.get(g + "/clusters/prod-orders/backup/restoreJobs", params={"pretty": "true", "envelope": "false"}).ok
    v0805 = "application/vnd.atlas.2024-08-05+json"
    assert api.get(g + "/clusters", version=v0805).ok and api.get(g + "/clusters/prod-orders", version=v0805).ok
    assert api.get(g + "/clusters/prod-orders/backup/schedule", version=v0805).ok
    assert api.get(g + "/flexClusters", version=V2024).ok and api.get(g + "/flexClusters/flex-catalog", version=V2024).ok
    assert api.post(g + "/clusters/prod-orders/backup/snapshots", {"description": "before the upgrade"}).ok
    operations = {e["operation_id"] for e in emu.api_requests()}
    assert len(operations) == 29
    assert emu.violations() == []


# -- process and scenario ----------------------------------------------------------------------------


def test_no_spec_mode_runs_without_validation():
    with EmulatorProcess(spec=False, scenario="demo") as process:
        assert process.admin.health()["spec"] is None
        api = AtlasClient(process.url)
        path = "/groups/%s/clusters/prod-orders/backup/restoreJobs" % DEMO_PROJECT_ID
        assert len(api.get(path).json()["results"]) == 3
        assert api.post(path, {"deliveryType": "download", "snapshotId": "x"}).status_code == 400
        assert api.get(path, params={"itemsPerPage": 900}).status_code == 400
        assert process.admin.violations() == []
        assert process.admin.config()["job_seconds"] == 4.0
    assert "WITHOUT contract validation" in process.stderr()
    assert process.process.returncode == 0


def test_find_spec_honours_the_environment(monkeypatch, tmp_path, need_spec):
    (tmp_path / "atlas-restore-subset.yaml").write_text(need_spec.read_text())
    monkeypatch.setenv("ATLAS_OPENAPI_SPEC", str(tmp_path))
    assert find_spec() == (tmp_path / "atlas-restore-subset.yaml").resolve()
    monkeypatch.setenv("ATLAS_OPENAPI_SPEC", str(tmp_path / "missing.yaml"))
    found = find_spec()  # a wrong setting falls back to ../shared beside the repository
    assert found is None or found.name == "atlas-restore-subset.yaml"


def test_demo_scenario(emu):
    emu.load_scenario("demo")
    assert emu.config()["job_seconds"] == 4.0
    jobs = emu.restore_jobs(DEMO_PROJECT_ID, "prod-orders")
    assert len(jobs) == 3 and {j["failed"] for j in jobs} == {True, False}
    assert all(j.get("finishedAt") or j["failed"] or j["deliveryUrl"] for j in jobs)
