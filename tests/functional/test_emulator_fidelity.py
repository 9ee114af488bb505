# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One test per fact of what real Atlas sends (design: atlas-api-facts.md section 8) and per limit, over raw HTTP,
so that the emulator cannot drift back to answers Atlas never gives."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from emulator_fixtures import V2023, V2024, AtlasClient, emu, emu_process  # pylint: disable=unused-import
from atlas_emulator.control import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from atlas_emulator.state import DEFAULT_ORG

# pylint: disable=redefined-outer-name

P = "5f1a2b3c4d5e6f7a8b9c0d1e"
P2 = "6a1a2b3c4d5e6f7a8b9c0d1e"
JOBS = "/groups/%s/clusters/prod-db/backup/restoreJobs" % P
FLEX_JOBS = "/groups/%s/flexClusters/flex-db/backup/restoreJobs" % P


def seed(emu, cluster_type="dedicated", source="prod-db", target="dr-db", project=P, **cluster):
    emu.add_cluster(project, source, cluster_type=cluster_type, **cluster)
    if target:
        emu.add_cluster(project, target, cluster_type=cluster_type)
    return emu.add_snapshots(project, source, snapshots=[{"created_at": time.time() - 7200, "status": "completed"}])[0]["id"]


@pytest.fixture
def api(emu_process):
    return AtlasClient(emu_process.url)


def token(emu_process, secret=DEFAULT_CLIENT_SECRET):
    basic = base64.b64encode(("%s:%s" % (DEFAULT_CLIENT_ID, secret)).encode()).decode()
    return requests.post(emu_process.url + "/api/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": "Basic " + basic}, timeout=10)


def rels(body):
    return {link["rel"]: link["href"] for link in body["links"]}


# -- pages -------------------------------------------------------------------------------------------------


def test_a_page_holds_100_items_without_items_per_page(emu, api):
    snapshot = seed(emu)
    emu.add_restore_jobs(P, "prod-db", count=250, snapshot_id=snapshot, state="completed")
    body = api.get(JOBS).json()
    assert len(body["results"]) == 100 and body["totalCount"] == 250 and "next" in rels(body)


def test_a_page_shorter_than_asked_is_not_the_last(emu, api):
    snapshot = seed(emu)
    ids = emu.add_restore_jobs(P, "prod-db", count=25, snapshot_id=snapshot, state="completed")
    emu.configure(max_items_per_page=10)
    seen, page = [], 1
    while True:
        body = api.get(JOBS, params={"itemsPerPage": 20, "pageNum": page}).json()
        assert len(body["results"]) <= 10 and body["totalCount"] == 25
        seen += [job["id"] for job in body["results"]]
        if "next" not in rels(body):
            break
        assert "itemsPerPage=20" in rels(body)["next"] and "pageNum=%d" % (page + 1) in rels(body)["next"]
        page += 1
    assert page == 3 and seen == ids


def test_include_count_false_skips_total_count(emu, api):
    seed(emu)
    assert "totalCount" not in api.get(JOBS, params={"includeCount": "false"}).json()


def test_flex_jobs_come_newest_first_and_flex_snapshots_oldest_first(emu, api):
    emu.add_cluster(P, "flex-db", cluster_type="flex")
    snaps = emu.add_snapshots(P, "flex-db", count=3, every_hours=1)
    ids = emu.add_restore_jobs(P, "flex-db", count=3, snapshot_id=snaps[0]["id"], state="completed")
    assert [j["id"] for j in api.get(FLEX_JOBS, version=V2024).json()["results"]] == ids[::-1]
    listed = api.get("/groups/%s/flexClusters/flex-db/backup/snapshots" % P, version=V2024).json()["results"]
    assert [s["id"] for s in listed] == [s["id"] for s in snaps]


@pytest.mark.parametrize("order", ["oldest", "newest", "mixed"])
def test_the_order_of_dedicated_lists_is_configurable(emu, api, order):
    snapshot = seed(emu)
    ids = emu.add_restore_jobs(P, "prod-db", count=30, snapshot_id=snapshot, state="completed")
    emu.configure(list_order={"dedicated": order})
    pages = [j["id"] for page in (1, 2, 3) for j in api.get(JOBS, params={"itemsPerPage": 10, "pageNum": page}).json()["results"]]
    assert sorted(pages) == sorted(ids)  # every job once, whatever the order
    expected = {"oldest": ids, "newest": ids[::-1]}.get(order)
    assert pages == expected if expected else pages not in (ids, ids[::-1])


def test_success_answers_carry_charset_utf8(emu, api):
    seed(emu)
    assert api.get(JOBS).headers["Content-Type"] == V2023 + ";charset=utf-8"


# -- snapshots ---------------------------------------------------------------------------------------------


def test_unfinished_snapshots_have_no_created_at_provider_or_version(emu, api):
    emu.add_cluster(P, "prod-db")
    emu.add_snapshots(P, "prod-db", snapshots=[{"status": "queued"}, {"status": "in_progress"}, {"status": "completed"}])
    listed = api.get("/groups/%s/clusters/prod-db/backup/snapshots" % P).json()["results"]
    for snap in listed:
        unfinished = snap["status"] in ("queued", "inProgress")
        assert all((name in snap) != unfinished for name in ("createdAt", "cloudProvider", "mongodVersion")), snap


def test_on_demand_snapshots_say_ondemand_and_carry_policy_items(emu, api):
    emu.add_cluster(P, "prod-db")
    emu.add_snapshots(P, "prod-db", snapshots=[{"status": "completed", "snapshot_type": "on_demand"}])
    snap = api.get("/groups/%s/clusters/prod-db/backup/snapshots" % P).json()["results"][0]
    assert snap["frequencyType"] == "ondemand" and snap["snapshotType"] == "onDemand" and snap["policyItems"]
    assert emu.violations() == []


# -- dedicated restore jobs --------------------------------------------------------------------------------


def test_jobs_carry_desired_timestamp_with_nulls_unless_point_in_time(emu, api):
    snapshot = seed(emu)
    job = api.post(JOBS, {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db",
                          "targetGroupId": P}).json()
    assert job["desiredTimestamp"] == {"date": None, "increment": None, "time": None}
    when = int(time.time()) - 600
    pit = api.post(JOBS, {"deliveryType": "pointInTime", "pointInTimeUTCSeconds": when, "targetClusterName": "prod-db",
                          "targetGroupId": P}).json()
    assert pit["desiredTimestamp"]["date"] is not None
    assert emu.violations() == []


def test_automated_jobs_carry_the_target_name_an_empty_delivery_url_and_four_links(emu, api):
    snapshot = seed(emu)
    job = api.post(JOBS, {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db",
                          "targetGroupId": P}).json()
    assert job["targetDeploymentItemName"] == "dr-db" and job["deliveryUrl"] == []
    assert len(job["links"]) == 4 and job["links"][0]["rel"] == "self"


def test_a_ready_download_has_urls_and_expires_at_and_no_finished_at(emu, api):
    snapshot = seed(emu)
    job_id = emu.add_restore_jobs(P, "prod-db", delivery_type="download", snapshot_id=snapshot, state="completed")[0]
    job = api.get(JOBS + "/" + job_id).json()
    assert job["deliveryUrl"] and job["expiresAt"] and "finishedAt" not in job


def test_a_cancelled_download_is_cancelled_and_failed(emu, api):
    snapshot = seed(emu, job_seconds=60)
    job = api.post(JOBS, {"deliveryType": "download", "snapshotId": snapshot}).json()
    assert api.delete(JOBS + "/" + job["id"]).status_code == 204
    cancelled = api.get(JOBS + "/" + job["id"]).json()
    assert cancelled["cancelled"] is True and cancelled["failed"] is True and cancelled["finishedAt"]


@pytest.mark.parametrize("expire_after", [None, 0])
def test_whether_finished_automated_jobs_turn_expired_is_configurable(emu, api, expire_after):
    snapshot = seed(emu)
    job_id = emu.add_restore_jobs(P, "prod-db", snapshot_id=snapshot, target_cluster_name="dr-db", state="completed",
                                  created_at=time.time() - 3600)[0]
    emu.configure(expire_automated_after_seconds=expire_after)
    job = api.get(JOBS + "/" + job_id).json()
    assert job["expired"] is (expire_after is not None)
    assert job["cancelled"] is False and job["failed"] is False
    assert job["finishedAt"]  # it finished before it expired


# -- flex restore jobs -------------------------------------------------------------------------------------


def test_flex_jobs_go_pending_queued_running_completed_without_links(emu, api):
    snapshot = seed(emu, "flex", source="flex-db", target="flex-dr", job_seconds=1.5)
    emu.configure(flex_pending_seconds=0.4, flex_queued_seconds=0.4)
    job = api.post(FLEX_JOBS, {"snapshotId": snapshot, "targetDeploymentItemName": "flex-dr"}, version=V2024).json()
    seen = []
    deadline = time.monotonic() + 10
    while not seen or seen[-1] != "COMPLETED":
        assert time.monotonic() < deadline
        answer = api.get(FLEX_JOBS + "/" + job["id"], version=V2024).json()
        assert "links" not in answer
        if not seen or seen[-1] != answer["status"]:
            seen.append(answer["status"])
        time.sleep(0.05)
    assert seen == ["PENDING", "QUEUED", "RUNNING", "COMPLETED"]


def test_a_failed_flex_job_carries_restore_finished_date(emu, api):
    snapshot = seed(emu, "flex", source="flex-db", target="flex-dr", job_outcome="failed")
    job_id = emu.add_restore_jobs(P, "flex-db", snapshot_id=snapshot, target_cluster_name="flex-dr", state="auto",
                                  job_seconds=0)[0]
    job = api.get(FLEX_JOBS + "/" + job_id, version=V2024).json()
    assert job["status"] == "FAILED" and job["restoreFinishedDate"]


def test_flex_jobs_created_in_the_same_second_exist(emu, api):
    snapshot = seed(emu, "flex", source="flex-db", target="flex-dr")
    ids = emu.add_restore_jobs(P, "flex-db", count=5, snapshot_id=snapshot, created_at=time.time() - 60, state="completed")
    listed = api.get(FLEX_JOBS, version=V2024).json()["results"]
    assert len({j["id"] for j in listed}) == 5 and len({j["restoreScheduledDate"] for j in listed}) == 1 and len(ids) == 5


# -- errors ------------------------------------------------------------------------------------------------


def test_errors_have_atlas_fields_string_parameters_and_headers(emu, api):
    emu.add_cluster(P, "prod-db")
    answer = api.get("/groups/%s/flexClusters/prod-db/backup/restoreJobs" % P, version=V2024)
    body = answer.json()
    assert answer.status_code == 400 and body["errorCode"] == "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API"
    assert set(body) >= {"detail", "error", "errorCode", "parameters", "reason"}
    assert body["parameters"] and all(isinstance(p, str) for p in body["parameters"])
    assert answer.headers["X-Error-Code"] == body["errorCode"] and answer.headers["Content-Type"] == "application/json"
    assert "RateLimit-Limit" in answer.headers and "RateLimit-Remaining" in answer.headers
    assert emu.violations() == []


# -- rate limits -------------------------------------------------------------------------------------------


def test_the_default_buckets_are_atlas_s(emu, api):
    seed(emu)
    emu.add_cluster(P, "flex-db", cluster_type="flex")
    assert api.get(JOBS).headers["RateLimit-Limit"] == "1200"
    assert api.get(FLEX_JOBS, version=V2024).headers["RateLimit-Limit"] == "1200"
    assert api.get("/groups/%s/clusters/prod-db" % P, version="application/vnd.atlas.2024-08-05+json").headers[
        "RateLimit-Limit"] == "10000"
    assert emu.config()["rate_limits"] == {"Cloud Backups": [1200, 500], "Flex Restore Jobs": [1200, 500],
                                           "Flex Snapshots": [1200, 500], "Clusters": [10000, 5000]}


def test_an_empty_bucket_answers_429_with_retry_after_per_project_and_endpoint_set(emu, api):
    seed(emu)
    seed(emu, project=P2)
    emu.add_cluster(P, "flex-db", cluster_type="flex")
    emu.configure(rate_limits={"Cloud Backups": [3, 1]}, rate_period=2)
    statuses = [api.get(JOBS).status_code for dummy in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get(JOBS)
    assert limited.headers["Retry-After"] == "2" and limited.headers["RateLimit-Remaining"] == "0"
    assert limited.headers["RateLimit-Limit"] == "3" and limited.json()["errorCode"] == "RATE_LIMITED"
    assert api.get("/groups/%s/clusters/prod-db/backup/restoreJobs" % P2).status_code == 200  # another project
    assert api.get(FLEX_JOBS, version=V2024).status_code == 200  # another endpoint set
    time.sleep(2.1)
    assert api.get(JOBS).status_code == 200  # refilled
    assert emu.limits()["rate_limited"] == {P: 2}


SETS = {"Cloud Backups": (JOBS, V2023), "Flex Restore Jobs": (FLEX_JOBS, V2024),
        "Flex Snapshots": ("/groups/%s/flexClusters/flex-db/backup/snapshots" % P, V2024),
        "Clusters": ("/groups/%s/clusters/prod-db" % P, "application/vnd.atlas.2024-08-05+json")}


@pytest.mark.parametrize("endpoint_set", sorted(SETS))
def test_each_endpoint_set_has_its_own_bucket(emu, api, endpoint_set):
    seed(emu)
    emu.add_cluster(P, "flex-db", cluster_type="flex")
    emu.configure(rate_limits={endpoint_set: [1, 1]})
    path, version = SETS[endpoint_set]
    assert [api.get(path, version=version).status_code for dummy in range(2)] == [200, 429]
    for other, (other_path, other_version) in SETS.items():
        if other != endpoint_set:
            assert api.get(other_path, version=other_version).status_code == 200, other


# -- service-account tokens --------------------------------------------------------------------------------


def test_a_token_lives_an_hour_by_default(emu, emu_process):
    assert token(emu_process).json()["expires_in"] == 3600
    assert emu.config()["max_active_tokens"] == 100 and emu.config()["token_requests_per_minute"] == 50


def test_at_most_max_active_tokens_per_service_account(emu, emu_process):
    emu.configure(max_active_tokens=3)
    tokens = [token(emu_process).json()["access_token"] for dummy in range(3)]
    refused = token(emu_process)
    assert refused.status_code == 403 and refused.json() == {
        "error": "access_denied",
        "error_description": "Access Token limit reached. Please use the existing Access Tokens or create a new Service Account."}
    basic = base64.b64encode(("%s:%s" % (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)).encode()).decode()
    revoked = requests.post(emu_process.url + "/api/oauth/revoke", data={"token": tokens[0]},
                            headers={"Authorization": "Basic " + basic}, timeout=10)
    assert revoked.status_code == 200 and token(emu_process).status_code == 200
    counts = emu.limits()["tokens"]
    assert counts["active"] == 3 and counts["peak_active"] == 3 and counts["revoked"] == 1 and counts["refused"] == 1


def test_the_token_endpoint_takes_a_limited_rate_per_client(emu, emu_process):
    emu.configure(token_requests_per_minute=2)
    assert [token(emu_process).status_code for dummy in range(3)] == [200, 200, 429]
    assert int(token(emu_process).headers["Retry-After"]) >= 1


# -- serverless --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fate, status", [("served", 200), ("gone", 410), ("not_found", 404)])
def test_the_fate_of_the_serverless_endpoints_is_configurable(emu, api, fate, status):
    seed(emu, "serverless", source="sls-db", target=None)
    emu.configure(serverless_endpoints=fate)
    answer = api.get("/groups/%s/serverless/sls-db/backup/restoreJobs" % P)
    assert answer.status_code == status
    if fate == "gone":
        assert answer.json()["errorCode"] == "VERSION_GONE"


# -- clusters ----------------------------------------------------------------------------------------------

V0805 = "application/vnd.atlas.2024-08-05+json"


def test_cluster_descriptions_carry_the_seeded_attributes(emu, api):
    emu.add_cluster(P, "shard-db", sharded=True, shards=3, mongodb_version="8.0.4", fcv="7.0", config_server_type="DEDICATED",
                    database_edition="INFINITE", encryption_provider="AWS", pit_enabled=True, paused=True)
    cluster = api.get("/groups/%s/clusters/shard-db" % P, version=V0805).json()
    assert (cluster["clusterType"], len(cluster["replicationSpecs"]), cluster["mongoDBVersion"], cluster["mongoDBMajorVersion"],
            cluster["featureCompatibilityVersion"], cluster["configServerType"], cluster["databaseEdition"],
            cluster["encryptionAtRestProvider"], cluster["pitEnabled"], cluster["paused"], cluster["backupEnabled"],
            cluster["stateName"]) == ("SHARDED", 3, "8.0.4", "8.0", "7.0", "DEDICATED", "INFINITE", "AWS", True, True, True, "IDLE")
    assert [c["name"] for c in api.get("/groups/%s/clusters" % P, version=V0805).json()["results"]] == ["shard-db"]
    assert api.get("/groups/%s/clusters/shard-db" % P).status_code == 406  # only 2024-08-05 is served
    assert emu.violations() == []


def test_flex_cluster_descriptions(emu, api):
    emu.add_cluster(P, "flex-db", cluster_type="flex")
    emu.add_cluster(P, "prod-db")
    flex = api.get("/groups/%s/flexClusters/flex-db" % P, version=V2024).json()
    assert flex["name"] == "flex-db" and flex["stateName"] == "IDLE" and flex["providerSettings"]["providerName"] == "FLEX"
    assert [c["name"] for c in api.get("/groups/%s/flexClusters" % P, version=V2024).json()["results"]] == ["flex-db"]
    assert api.get("/groups/%s/flexClusters/prod-db" % P, version=V2024).json()["errorCode"] == \
        "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API"
    assert emu.violations() == []


def test_a_restore_target_leaves_idle_and_returns_a_while_after_the_job(emu, api):
    snapshot = seed(emu, job_seconds=0.6)
    emu.configure(cluster_idle_seconds=0.6)
    target = "/groups/%s/clusters/dr-db" % P
    assert api.get(target, version=V0805).json()["stateName"] == "IDLE"
    api.post(JOBS, {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db", "targetGroupId": P})
    assert api.get(target, version=V0805).json()["stateName"] == "UPDATING"
    time.sleep(0.8)  # the job has ended, the cluster is not back yet
    assert api.get(JOBS).json()["results"][0]["finishedAt"]
    assert api.get(target, version=V0805).json()["stateName"] == "UPDATING"
    time.sleep(0.6)
    assert api.get(target, version=V0805).json()["stateName"] == "IDLE"


def test_the_backup_schedule_carries_restore_window_days(emu, api):
    emu.add_cluster(P, "prod-db", restore_window_days=3)
    for version in (V0805, V2023):
        schedule = api.get("/groups/%s/clusters/prod-db/backup/schedule" % P, version=version).json()
        assert schedule["restoreWindowDays"] == 3 and schedule["policies"][0]["policyItems"]
    assert emu.violations() == []


def test_an_on_demand_snapshot_has_its_own_lifecycle(emu, api):
    emu.add_cluster(P, "prod-db")
    emu.configure(snapshot_seconds=1.0)
    path = "/groups/%s/clusters/prod-db/backup/snapshots" % P
    taken = api.post(path, {"description": "before the migration", "retentionInDays": 2})
    assert taken.status_code == 200
    snap = taken.json()
    assert snap["status"] == "queued" and "createdAt" not in snap and snap["frequencyType"] == "ondemand"
    time.sleep(0.4)
    assert api.get(path + "/" + snap["id"]).json()["status"] == "inProgress"
    time.sleep(0.8)
    done = api.get(path + "/" + snap["id"]).json()
    assert done["status"] == "completed" and done["createdAt"] and done["description"] == "before the migration"
    assert emu.violations() == []


def test_no_on_demand_snapshot_of_a_flex_cluster_or_without_backup(emu, api):
    emu.add_cluster(P, "flex-db", cluster_type="flex")
    emu.add_cluster(P, "nobackup-db", backup_enabled=False)
    flex = api.post("/groups/%s/clusters/flex-db/backup/snapshots" % P, {})
    assert flex.status_code == 400 and flex.json()["errorCode"] == "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API"
    assert api.post("/groups/%s/clusters/nobackup-db/backup/snapshots" % P, {}).status_code == 400


# -- restore rules -----------------------------------------------------------------------------------------

RULES = [
    ({"mongodb_version": "7.0.14"}, {"mongodb_version": "6.0.10"}, "INCOMPATIBLE_MONGODB_VERSION"),
    ({"mongodb_version": "7.2.1"}, {"mongodb_version": "7.0.14"}, "INCOMPATIBLE_MONGODB_VERSION"),
    ({"mongodb_version": "6.0.10"}, {"mongodb_version": "8.0.4"}, "INCOMPATIBLE_MONGODB_VERSION"),
    ({"mongodb_version": "7.0.14"}, {"mongodb_version": "8.0.4", "fcv": "8.0"}, "INCOMPATIBLE_FEATURE_COMPATIBILITY_VERSION"),
    ({"sharded": True}, {}, "CANNOT_RESTORE_SHARDED_TO_REPLICA_SET"),
    ({"sharded": True, "shards": 2}, {"sharded": True, "shards": 3}, "SHARD_TOPOLOGY_MISMATCH"),
    ({"sharded": True}, {"sharded": True, "config_server_type": "DEDICATED"}, "SHARD_TOPOLOGY_MISMATCH"),
    ({"database_edition": "INFINITE"}, {}, "DATABASE_EDITION_MISMATCH"),
    ({"database_edition": "INFINITE"}, {"database_edition": "INFINITE", "region": "EU_WEST_1"},
     "RESTORE_NOT_SUPPORTED_FOR_INFINITE_EDITION"),
    ({"encryption_provider": "AWS"}, {"encryption_provider": "GCP"}, "ENCRYPTION_AT_REST_MISMATCH"),
    ({}, {"encryption_provider": "AWS"}, "ENCRYPTION_AT_REST_MISMATCH"),
]


def _rule_clusters(emu, source, target):
    emu.add_cluster(P, "src-db", sharded=source.pop("sharded", False), **source)
    emu.add_cluster(P, "dst-db", sharded=target.pop("sharded", False), **target)
    return emu.add_snapshots(P, "src-db", count=1, every_hours=6)[0]["id"]


@pytest.mark.parametrize("source, target, code", RULES, ids=[r[2] + "-%d" % i for i, r in enumerate(RULES)])
def test_a_restore_that_breaks_a_documented_rule_is_refused(emu, api, source, target, code):
    snapshot = _rule_clusters(emu, dict(source), dict(target))
    answer = api.post("/groups/%s/clusters/src-db/backup/restoreJobs" % P,
                      {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dst-db", "targetGroupId": P})
    assert answer.status_code == 400 and answer.json()["errorCode"] == code
    assert emu.restore_jobs(P, "src-db") == []


@pytest.mark.parametrize("source, target", [({"mongodb_version": "7.0.14"}, {"mongodb_version": "7.3.1"}),
                                            ({"mongodb_version": "7.0.14"}, {"mongodb_version": "8.0.4"}),
                                            ({"sharded": True, "shards": 3}, {"sharded": True, "shards": 3})])
def test_a_restore_within_the_rules_runs(emu, api, source, target):
    snapshot = _rule_clusters(emu, dict(source), dict(target))
    answer = api.post("/groups/%s/clusters/src-db/backup/restoreJobs" % P,
                      {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dst-db", "targetGroupId": P})
    assert answer.status_code == 200


def test_infinite_clusters_have_no_download_and_pit_needs_a_valid_key(emu, api):
    emu.add_cluster(P, "inf-db", database_edition="INFINITE")
    snapshot = emu.add_snapshots(P, "inf-db", count=1, every_hours=6)[0]["id"]
    download = api.post("/groups/%s/clusters/inf-db/backup/restoreJobs" % P, {"deliveryType": "download", "snapshotId": snapshot})
    assert download.json()["errorCode"] == "RESTORE_NOT_SUPPORTED_FOR_INFINITE_EDITION"
    emu.add_cluster(P, "enc-db", encryption_provider="AZURE", encryption_key_valid=False)
    pit = api.post("/groups/%s/clusters/enc-db/backup/restoreJobs" % P,
                   {"deliveryType": "pointInTime", "pointInTimeUTCSeconds": int(time.time()) - 600, "targetClusterName": "enc-db",
                    "targetGroupId": P})
    assert pit.status_code == 400 and pit.json()["errorCode"] == "INVALID_ENCRYPTION_KEY"


def test_no_restore_into_another_organization_through_the_api(emu, api):
    snapshot = seed(emu, target=None)
    emu.add_project(P2, org_id="6f0000000000000000000002")
    emu.add_cluster(P2, "dr-db")
    answer = api.post(JOBS, {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db", "targetGroupId": P2})
    assert answer.status_code == 400 and answer.json()["errorCode"] == "CROSS_ORGANIZATION_RESTORE_NOT_ALLOWED"
    emu.add_project(P2, org_id=DEFAULT_ORG)  # back into the source's organization
    assert api.post(JOBS, {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db",
                           "targetGroupId": P2}).status_code == 200


def test_a_flex_snapshot_restores_only_into_a_replica_set(emu, api):
    snapshot = seed(emu, "flex", source="flex-db", target=None)
    emu.add_cluster(P, "shard-db", sharded=True)
    answer = api.post(FLEX_JOBS, {"snapshotId": snapshot, "targetDeploymentItemName": "shard-db"}, version=V2024)
    assert answer.status_code == 400 and answer.json()["errorCode"] == "INVALID_RESTORE_TARGET"


def test_broken_rules_can_fail_the_job_instead(emu, api):
    snapshot = _rule_clusters(emu, {"mongodb_version": "7.0.14"}, {"mongodb_version": "6.0.1"})
    emu.configure(restore_rule_failures="fail_job")
    job = api.post("/groups/%s/clusters/src-db/backup/restoreJobs" % P,
                   {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dst-db", "targetGroupId": P}).json()
    time.sleep(0.6)
    assert api.get("/groups/%s/clusters/src-db/backup/restoreJobs/%s" % (P, job["id"])).json()["failed"] is True


# -- faults of the real world ------------------------------------------------------------------------------


def test_a_lagging_list_shows_a_new_job_only_after_n_seconds(emu, api):
    snapshot = seed(emu, job_seconds=60)
    emu.add_fault(operation_id="listGroupClusterBackupRestoreJobs", action="lag_list", lag_seconds=1.0, times=-1)
    job = api.post(JOBS, {"deliveryType": "download", "snapshotId": snapshot}).json()
    assert api.get(JOBS).json()["results"] == []
    assert api.get(JOBS + "/" + job["id"]).status_code == 200  # the job exists
    time.sleep(1.1)
    assert [j["id"] for j in api.get(JOBS).json()["results"]] == [job["id"]]


def test_a_create_processed_after_the_client_s_timeout_still_makes_the_job(emu, api):
    snapshot = seed(emu, job_seconds=60)
    api.get(JOBS)  # the digest handshake
    emu.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="late", delay_seconds=1.0)
    with pytest.raises(requests.Timeout):
        api.post(JOBS, {"deliveryType": "download", "snapshotId": snapshot}, timeout=0.3)
    assert emu.restore_jobs(P, "prod-db") == []  # not yet
    time.sleep(1.0)
    assert len(emu.restore_jobs(P, "prod-db")) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_cut_off_mid_body(emu, api, chunked):
    seed(emu)
    api.get(JOBS)
    emu.add_fault(operation_id="listGroupClusterBackupRestoreJobs", action="truncate", chunked=chunked)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        api.get(JOBS)
    assert api.get(JOBS).status_code == 200


def test_a_redirect_to_another_host_and_port(emu, api):
    seed(emu)
    api.get(JOBS)
    emu.add_fault(operation_id="listGroupClusterBackupRestoreJobs", action="redirect", status=307,
                  location="http://127.0.0.2:9/elsewhere")
    answer = api.session.get(api.base + JOBS, headers={"Accept": V2023}, allow_redirects=False, timeout=5)
    assert answer.status_code == 307 and answer.headers["Location"] == "http://127.0.0.2:9/elsewhere"


# -- the process -------------------------------------------------------------------------------------------


def test_start_up_config_and_relaxed_limits_survive_resets():
    from atlas_emulator.control import EmulatorProcess  # pylint: disable=import-outside-toplevel
    with EmulatorProcess(spec=False, relaxed_limits=True, config={"max_items_per_page": 7}) as process:
        for dummy in range(2):
            process.admin.reset()
            config = process.admin.config()
            assert config["max_items_per_page"] == 7 and config["rate_limits"]["Cloud Backups"] == [10 ** 6, 10 ** 6]
            assert config["max_active_tokens"] == 10 ** 6 and config["token_requests_per_minute"] == 10 ** 6
    assert process.process.returncode == 0  # stopped by SIGTERM


def test_it_binds_127_0_0_1_only():
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    from atlas_emulator.control import EMULATOR_PATH  # pylint: disable=import-outside-toplevel
    refused = subprocess.run([sys.executable, "-m", "atlas_emulator", "--no-spec", "--host", "0.0.0.0"], cwd=EMULATOR_PATH,
                             capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode == 2 and "only 127.0.0.1" in refused.stderr
