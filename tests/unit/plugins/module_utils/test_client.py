# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


import pytest
import requests

from ansible_collections.atlasops.backup.plugins.module_utils._auth import ApiKey, ServiceAccount
from ansible_collections.atlasops.backup.plugins.module_utils._client import AtlasClient
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import MEDIA_2023, MEDIA_FLEX, endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError

from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
PARAMS = dict(project_id=PROJECT, cluster_name="prod-orders", job_id="a" * 24)
SECRET = "private-key-must-not-leak"


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(credentials=None, **kwargs):
    clock = Clock()
    client = AtlasClient("https://atlas.example.test", credentials or ApiKey("public", SECRET), sleep=clock.sleep, clock=clock,
                         jitter=lambda low, high: high, **kwargs)
    return client, clock


def test_pins_the_media_type_of_each_operation():
    client, dummy = make_client()
    adapter = mount(client, Scripted([(200, {"id": "a" * 24}), (200, {"id": "b" * 24})]))
    client.call(endpoint("dedicated", "get_restore_job"), PARAMS)
    client.call(endpoint("flex", "create_restore_job"), PARAMS, body={"snapshotId": "c" * 24})
    assert adapter.sent[0]["headers"]["Accept"] == MEDIA_2023
    assert "Content-Type" not in adapter.sent[0]["headers"]
    assert adapter.sent[1]["headers"]["Accept"] == MEDIA_FLEX
    assert adapter.sent[1]["headers"]["Content-Type"] == MEDIA_FLEX
    assert adapter.sent[1]["path"] == f"/api/atlas/v2/groups/{PROJECT}/flexClusters/prod-orders/backup/restoreJobs"


@pytest.mark.parametrize("params", [
    dict(PARAMS, cluster_name="../admin"),
    dict(PARAMS, cluster_name="a/b"),
    dict(PARAMS, project_id="5F1A2B3C4D5E6F7A8B9C0D1E"),
    dict(PARAMS, job_id="x" * 24),
])
def test_refuses_unsafe_path_parts_before_sending(params):
    client, dummy = make_client()
    adapter = mount(client, Scripted([]))
    with pytest.raises(ValueError):
        client.call(endpoint("dedicated", "get_restore_job"), params)
    assert adapter.sent == []


def test_retries_429_no_sooner_than_retry_after():
    client, clock = make_client()
    adapter = mount(client, Scripted([(429, {"error": 429, "errorCode": "RATE_LIMITED"}, {"Retry-After": "7"}), (200, {"ok": 1})]))
    assert client.call(endpoint("dedicated", "get_restore_job"), PARAMS) == {"ok": 1}
    assert len(adapter.sent) == 2
    assert clock.sleeps == [7.0]


def test_backoff_grows_and_gives_up_after_max_retries():
    client, clock = make_client(max_retries=3)
    mount(client, Scripted([(503, {"error": 503, "errorCode": "SERVICE_UNAVAILABLE"})] * 4))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "get_restore_job"), PARAMS)
    assert caught.value.status == 503 and caught.value.transient
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_501_and_4xx_are_not_retried():
    for status in (400, 404, 501):
        client, clock = make_client()
        adapter = mount(client, Scripted([(status, {"error": status, "errorCode": "X", "detail": "nope"})]))
        with pytest.raises(AtlasError) as caught:
            client.call(endpoint("dedicated", "get_restore_job"), PARAMS)
        assert len(adapter.sent) == 1 and clock.sleeps == []
        assert caught.value.error_code == "X" and caught.value.detail == "nope"


def test_get_is_retried_after_a_dropped_connection_but_post_is_not():
    client, dummy = make_client()
    adapter = mount(client, Scripted([requests.exceptions.ConnectionError("reset"), (200, {"ok": 1})]))
    assert client.call(endpoint("dedicated", "get_restore_job"), PARAMS) == {"ok": 1}
    assert len(adapter.sent) == 2

    client, dummy = make_client()
    adapter = mount(client, Scripted([requests.exceptions.ReadTimeout("slow")]))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "create_restore_job"), PARAMS, body={"deliveryType": "download"})
    assert caught.value.ambiguous and len(adapter.sent) == 1


def test_post_answered_5xx_is_ambiguous_but_429_is_retried():
    client, dummy = make_client()
    mount(client, Scripted([(502, {"error": 502, "errorCode": "BAD_GATEWAY"})]))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "create_restore_job"), PARAMS, body={})
    assert caught.value.ambiguous

    client, dummy = make_client()
    adapter = mount(client, Scripted([(429, {"error": 429, "errorCode": "RATE_LIMITED"}), (200, {"id": "b" * 24})]))
    assert client.call(endpoint("dedicated", "create_restore_job"), PARAMS, body={}) == {"id": "b" * 24}
    assert len(adapter.sent) == 2


def test_post_that_never_connected_is_sent_again():
    client, dummy = make_client()
    refused = requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    adapter = mount(client, Scripted([refused, (200, {"id": "b" * 24})]))
    assert client.call(endpoint("dedicated", "create_restore_job"), PARAMS, body={}) == {"id": "b" * 24}
    assert len(adapter.sent) == 2


def test_no_retry_past_the_deadline():
    client, clock = make_client()
    mount(client, Scripted([(429, {"error": 429, "errorCode": "RATE_LIMITED"}, {"Retry-After": "30"})]))
    with pytest.raises(AtlasError):
        client.call(endpoint("dedicated", "get_restore_job"), PARAMS, deadline=clock.now + 10)
    assert clock.sleeps == []


def page(items, total, last):
    links = [{"rel": "self", "href": "x"}] + ([] if last else [{"rel": "next", "href": "y"}])
    return (200, {"results": items, "totalCount": total, "links": links})


def test_items_reads_10000_items_in_exactly_20_requests():
    client, dummy = make_client()

    def handler(sent):
        number = int(sent["query"]["pageNum"])
        assert sent["query"]["itemsPerPage"] == "500"
        items = [{"id": f"{(number - 1) * 500 + index:024x}"} for index in range(500)]
        return page(items, 10000, number == 20)

    adapter = mount(client, Scripted(handler=handler))
    items = list(client.items(endpoint("dedicated", "list_restore_jobs"), PARAMS))
    assert len(items) == 10000 and len(adapter.sent) == 20


def test_items_stops_on_a_server_that_repeats_a_page():
    client, dummy = make_client()
    adapter = mount(client, Scripted(handler=lambda sent: page([{"id": f"{i:024x}"} for i in range(500)], None, False)))
    assert len(list(client.items(endpoint("dedicated", "list_restore_jobs"), PARAMS))) == 500
    assert len(adapter.sent) == 2


def test_items_without_links_or_count_stops_on_a_short_page():
    client, dummy = make_client()
    answers = [(200, {"results": [{"id": f"{i:024x}"} for i in range(500)]}), (200, {"results": [{"id": "f" * 24}]})]
    adapter = mount(client, Scripted(answers))
    assert len(list(client.items(endpoint("legacy", "list_restore_jobs"), PARAMS))) == 501
    assert len(adapter.sent) == 2


def test_sharded_snapshot_list_is_one_request_without_paging():
    client, dummy = make_client()
    adapter = mount(client, Scripted([(200, {"results": [{"id": "a" * 24}], "totalCount": 1})]))
    list(client.items(endpoint("dedicated", "list_sharded_snapshots"), PARAMS))
    assert adapter.sent[0]["query"] == {}


def test_service_account_token_is_reused_then_renewed_before_expiry():
    client, clock = make_client(ServiceAccount("sa-id", SECRET))
    tokens = iter(["token-1", "token-2"])

    def handler(sent):
        if sent["path"] == "/api/oauth/token":
            assert sent["headers"]["Authorization"].startswith("Basic ")
            assert sent["body"] == "grant_type=client_credentials"
            return (200, {"access_token": next(tokens), "token_type": "Bearer", "expires_in": 3600})
        return (200, {"auth": sent["headers"]["Authorization"]})

    adapter = mount(client, Scripted(handler=handler))
    get = endpoint("dedicated", "get_restore_job")
    assert client.call(get, PARAMS) == {"auth": "Bearer token-1"}
    clock.now += 3000
    assert client.call(get, PARAMS) == {"auth": "Bearer token-1"}
    clock.now += 350  # inside the last 300 s of its hour
    assert client.call(get, PARAMS) == {"auth": "Bearer token-2"}
    assert [sent["path"] for sent in adapter.sent].count("/api/oauth/token") == 2


def test_a_token_refused_early_is_renewed_once():
    client, dummy = make_client(ServiceAccount("sa-id", SECRET))
    answers = iter([(200, {"access_token": "old", "expires_in": 3600}), (401, {"error": 401, "errorCode": "UNAUTHORIZED"}),
                    (200, {"access_token": "new", "expires_in": 3600}), (200, {"ok": 1})])
    adapter = mount(client, Scripted(handler=lambda sent: next(answers)))
    assert client.call(endpoint("dedicated", "get_restore_job"), PARAMS) == {"ok": 1}
    assert adapter.sent[-1]["headers"]["Authorization"] == "Bearer new"


def test_errors_carry_atlas_fields_and_hints_but_no_secret():
    client, dummy = make_client()
    body = {"error": 400, "errorCode": "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API", "detail": "Flex cluster", "reason": "Bad Request"}
    mount(client, Scripted([(400, body)]))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "list_restore_jobs"), PARAMS)
    message = str(caught.value)
    assert "HTTP 400" in message and "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API" in message and "cluster_type: flex" in message
    assert caught.value.as_dict() == {"status": 400, "error_code": "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API",
                                      "detail": "Flex cluster", "reason": "Bad Request"}
    assert SECRET not in message


@pytest.mark.parametrize("cluster_type, expected", [("dedicated", "upgrade the collection"), ("serverless", "migrate the cluster to flex")])
def test_version_gone_hint(cluster_type, expected):
    client, dummy = make_client()
    mount(client, Scripted([(410, {"error": 410, "errorCode": "VERSION_GONE", "detail": "gone"})]))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint(cluster_type, "list_restore_jobs"), PARAMS)
    assert expected in str(caught.value)


def test_403_names_the_role_the_operation_needs():
    client, dummy = make_client()
    mount(client, Scripted([(403, {"error": 403, "errorCode": "USER_UNAUTHORIZED"})]))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "create_restore_job"), PARAMS, body={})
    assert "Project Backup Recovery Operator" in str(caught.value)


def test_transport_errors_do_not_quote_the_exception_text():
    client, dummy = make_client(max_retries=0)
    mount(client, Scripted([requests.exceptions.ConnectionError(f"Authorization: {SECRET}")]))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "get_restore_job"), PARAMS)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://x", "cloud.mongodb.com", "https://x?y=1", ""])
def test_refuses_a_base_url_that_is_not_http(url):
    with pytest.raises(ValueError):
        AtlasClient(url, ApiKey("a", "b"))


def test_validate_certs_and_request_timeout_reach_every_request():
    client, dummy = make_client(validate_certs=False, request_timeout=7.5)
    adapter = mount(client, Scripted([(200, {})]))
    client.call(endpoint("dedicated", "get_restore_job"), PARAMS)
    assert client.session.verify is False
    assert adapter.sent[0]["timeout"] == 7.5


def test_items_is_a_generator_a_caller_filters_page_by_page():
    client, dummy = make_client()
    adapter = mount(client, Scripted(handler=lambda sent: page([{"id": f"{i:024x}", "n": i} for i in range(3)], 3, True)))
    items = client.items(endpoint("dedicated", "list_restore_jobs"), PARAMS)
    assert adapter.sent == []  # nothing is fetched before the first item is asked for
    assert [item["n"] for item in items if item["n"]] == [1, 2] and len(adapter.sent) == 1


def test_items_of_an_unpaginated_list_is_one_request_without_duplicates():
    client, dummy = make_client()
    adapter = mount(client, Scripted([(200, {"results": [{"id": "a" * 24}, {"id": "a" * 24}, {"id": "b" * 24}]})]))
    assert [item["id"] for item in client.items(endpoint("dedicated", "list_sharded_snapshots"), PARAMS)] == ["a" * 24, "b" * 24]
    assert len(adapter.sent) == 1


def test_a_token_refused_again_and_again_is_renewed_twice_then_reported():
    client, dummy = make_client(ServiceAccount("sa-id", SECRET))
    adapter = mount(client, Scripted(handler=lambda sent: (200, {"access_token": "t", "expires_in": 3600}) if "oauth" in sent["path"]
                                     else (401, {"error": 401, "errorCode": "UNAUTHORIZED"})))
    with pytest.raises(AtlasError) as caught:
        client.call(endpoint("dedicated", "get_restore_job"), PARAMS)
    assert caught.value.status == 401
    assert [sent["path"] for sent in adapter.sent].count("/api/oauth/token") == 3
