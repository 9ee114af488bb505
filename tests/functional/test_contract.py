# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's operations and the bodies the modules build, checked against the official OpenAPI subset."""

from __future__ import annotations

import json
import time

import pytest

from harness import OTHER_PROJECT, PROJECT
from atlas_emulator.contract import load_contract

from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import ENDPOINTS
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest

SNAPSHOT = "6741a2b3c4d5e6f7a8b9c0aa"
PATH_PARAMS = dict(project_id=PROJECT, cluster_name="prod-orders", job_id="6741a2b3c4d5e6f7a8b9c0d1", snapshot_id=SNAPSHOT)


@pytest.fixture(scope="module")
def contract(spec_path):
    return load_contract(spec_path)


def check(contract, endpoint, query=None, body=None):
    headers = {"Accept": endpoint.media_type}
    if body is not None:
        headers["Content-Type"] = endpoint.media_type
    payload = json.dumps(body).encode() if body is not None else b""
    query = {name: [str(value)] for name, value in (query or {}).items()}
    return contract.check_request(endpoint.method, endpoint.path(PATH_PARAMS), query, headers, payload)


def test_every_operation_of_the_subset_is_covered_with_its_exact_media_type(contract):
    ours = {}
    for operations in ENDPOINTS.values():
        for endpoint in operations.values():
            operation_id, problems = check(contract, endpoint)
            assert operation_id == endpoint.operation_id, endpoint
            assert [problem for problem in problems if problem[0] in ("route", "accept", "path")] == []
            ours[endpoint.operation_id] = endpoint
    assert len(ours) == 27  # the 23 restore and snapshot operations, on-demand snapshots, and three cluster reads


@pytest.mark.parametrize("cluster_type", ["dedicated", "flex", "serverless", "legacy"])
def test_list_queries_are_declared(contract, cluster_type):
    paging = dict(itemsPerPage=500, pageNum=2, includeCount="true")
    for operation in ("list_restore_jobs", "list_snapshots"):
        query = dict(paging, completed="all") if (cluster_type, operation) == ("legacy", "list_snapshots") else paging
        dummy, problems = check(contract, ENDPOINTS[cluster_type][operation], query=query)
        assert problems == []


def restore(cluster_type, **changes):
    fields = dict(cluster_type=cluster_type, project_id=PROJECT, cluster_name="prod-orders", delivery_type="automated",
                  snapshot_id=SNAPSHOT, target_cluster_name="dr-orders")
    fields.update(changes)
    return RestoreRequest(**fields)


def restore_requests():
    hour_ago = int(time.time()) - 3600
    for cluster_type in ("dedicated", "serverless", "legacy", "flex"):
        yield restore(cluster_type)
        yield restore(cluster_type, target_project_id=OTHER_PROJECT)
        if cluster_type == "flex":
            continue
        yield restore(cluster_type, delivery_type="download", target_cluster_name=None)
        yield restore(cluster_type, delivery_type="point_in_time", snapshot_id=None, point_in_time=hour_ago)
        yield restore(cluster_type, delivery_type="point_in_time", snapshot_id=None, oplog_ts=hour_ago, oplog_inc=3)


@pytest.mark.parametrize("request_", list(restore_requests()), ids=lambda r: f"{r.cluster_type}-{r.delivery_type}")
def test_every_restore_body_is_valid(contract, request_):
    request_.check()
    endpoint = ENDPOINTS[request_.cluster_type]["create_restore_job"]
    operation_id, problems = check(contract, endpoint, body=request_.body())
    assert operation_id == endpoint.operation_id
    assert problems == [], request_.body()


# -- the clusters subset and the exemptions -----------------------------------------------------------------

V0805 = "application/vnd.atlas.2024-08-05+json"
JOB_ID = "6741a2b3c4d5e6f7a8b9c0d1"


def answer(contract, operation_id, body, status=200, media_type="application/vnd.atlas.2023-01-01+json;charset=utf-8"):
    headers = {"Content-Type": media_type, "RateLimit-Limit": "1200", "RateLimit-Remaining": "1199"}
    return contract.check_response(operation_id, status, headers, body)


def cluster(**changes):
    region = {"providerName": "AWS", "regionName": "US_EAST_1", "priority": 7, "electableSpecs": {"instanceSize": "M30", "nodeCount": 3}}
    body = {"id": JOB_ID, "name": "prod-orders", "groupId": PROJECT, "stateName": "IDLE", "mongoDBVersion": "7.0.14",
            "replicationSpecs": [{"zoneName": "Zone 1", "regionConfigs": [dict(region, **changes)]}]}
    return body


def test_the_clusters_subset_is_found_beside_the_main_one(contract, spec_path):
    assert contract.clusters_path == spec_path.parent / "atlas-clusters-subset.yaml"
    assert {"listGroupClusters", "getGroupCluster", "getGroupClusterBackupSchedule"} <= set(contract.operations)
    assert len(contract.operations) == 36


def test_cluster_answers_are_validated_through_the_discriminator(contract):
    assert answer(contract, "getGroupCluster", cluster(), media_type=V0805) == []
    wrong_type = answer(contract, "getGroupCluster", cluster(priority="high"), media_type=V0805)
    assert wrong_type and all("priority" in message for message in wrong_type)
    unknown = answer(contract, "getGroupCluster", cluster(providerName="MARS"), media_type=V0805)
    assert any("names no subtype" in message for message in unknown)
    assert answer(contract, "getGroupCluster", cluster(regionName="NOWHERE_1"), media_type=V0805)  # a string enum after all


def test_schedule_answers_are_validated_through_the_copy_policy_cycle(contract):
    item = {"frequencyType": "daily", "frequencyInterval": 1, "retentionUnit": "days", "retentionValue": 2}
    copy = {"cloudProvider": "AWS", "regionName": "US_EAST_1", "zoneId": JOB_ID, "frequencies": ["DAILY"]}
    schedule = {"clusterName": "prod-orders", "policies": [{"id": JOB_ID, "policyItems": [dict(item, id=JOB_ID)]}],
                "copySettings": [dict(copy, copyPolicyItems=[item, {"frequencyType": "ondemand"}])]}
    assert answer(contract, "getGroupClusterBackupSchedule", schedule, media_type=V0805) == []
    broken = dict(schedule, copySettings=[dict(copy, copyPolicyItems=[dict(item, retentionValue="two")])])
    messages = answer(contract, "getGroupClusterBackupSchedule", broken, media_type=V0805)
    assert any("retentionValue" in message for message in messages)


def snapshot(**changes):
    body = {"id": SNAPSHOT, "status": "completed", "type": "replicaSet", "snapshotType": "onDemand", "createdAt": "2026-11-20T00:00:00Z",
            "expiresAt": "2026-11-27T00:00:00Z", "frequencyType": "daily", "policyItems": [JOB_ID]}
    body.update(changes)
    return body


def test_exemption_frequency_type_ondemand_in_answers_only(contract):
    assert answer(contract, "getGroupClusterBackupSnapshot", snapshot(frequencyType="ondemand")) == []
    assert answer(contract, "getGroupClusterBackupSnapshot", snapshot(frequencyType="sometimes"))


def test_exemption_desired_timestamp_with_nulls_in_answers_only(contract):
    job = {"id": JOB_ID, "deliveryType": "automated", "desiredTimestamp": {"date": None, "increment": None, "time": None}}
    assert answer(contract, "getGroupClusterBackupRestoreJob", job) == []
    assert answer(contract, "getGroupClusterBackupRestoreJob", dict(job, desiredTimestamp={"date": "yesterday"}))
    body = {"deliveryType": "automated", "snapshotId": SNAPSHOT, "targetClusterName": "dr-orders", "targetGroupId": PROJECT,
            "desiredTimestamp": {"date": None}}
    dummy, problems = check(contract, ENDPOINTS["dedicated"]["create_restore_job"], body=body)
    assert any("desiredTimestamp" in message for dummy, message in problems)  # not exempt in a request


def test_exemption_api_error_parameters_as_strings(contract):
    error = {"error": 404, "errorCode": "RESOURCE_NOT_FOUND", "detail": "gone", "reason": "Not Found", "parameters": [PROJECT]}
    assert answer(contract, "getGroupClusterBackupRestoreJob", error, status=404, media_type="application/json") == []
    assert answer(contract, "getGroupClusterBackupRestoreJob", dict(error, parameters=[7]), status=404, media_type="application/json")


def test_exemption_database_edition_on_clusters(contract):
    assert answer(contract, "getGroupCluster", dict(cluster(), databaseEdition="INFINITE"), media_type=V0805) == []


def test_exemption_charset_after_the_versioned_media_type(contract):
    assert answer(contract, "getGroupClusterBackupSnapshot", snapshot()) == []
    assert answer(contract, "getGroupClusterBackupSnapshot", snapshot(),
                  media_type="application/vnd.atlas.2024-11-13+json;charset=utf-8")  # the wrong version still fails


def test_nothing_else_is_exempt(contract):
    from atlas_emulator.contract import EXEMPTIONS  # pylint: disable=import-outside-toplevel
    assert sorted(EXEMPTIONS) == ["ApiError parameters as strings", "desiredTimestamp with nulls", "frequencyType ondemand"]
