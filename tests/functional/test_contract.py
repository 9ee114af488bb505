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
