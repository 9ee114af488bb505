# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's promises against a hostile network and server, over real sockets (hostile_server.py).

Each test tries to break one promise of the transport: credentials sent elsewhere, hangs past the
documented bounds, tracebacks instead of AtlasErrors, unhelpful messages, a POST sent twice.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import socket
import time

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ansible_collections.atlasops.backup.plugins.module_utils._auth import ApiKey, ServiceAccount
from ansible_collections.atlasops.backup.plugins.module_utils._client import AtlasClient
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError

from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.hostile_server import (
    HostileServer, Reply, answers, self_signed_certificate, tls_available,
)

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
JOB_ID = "6b02a2788cc216cd2a002c81"
PARAMS = dict(project_id=PROJECT, cluster_name="prod-orders", job_id=JOB_ID)
SECRET = "private-key-must-not-leak"
TOKEN = "bearer-token-must-not-leak"
GET = endpoint("dedicated", "get_restore_job")
CREATE = endpoint("dedicated", "create_restore_job")
LIST = endpoint("dedicated", "list_restore_jobs")
JOB = {"id": JOB_ID, "deliveryType": "automated"}


@pytest.fixture(autouse=True)
def no_netrc_or_bundle(monkeypatch, tmp_path):
    """No netrc, proxy or CA bundle of the machine running the tests leaks in; a test sets its own."""
    empty = tmp_path / "empty-netrc"
    empty.write_text("")
    monkeypatch.setenv("NETRC", str(empty))
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,127.0.0.2,localhost")


@pytest.fixture
def server():
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def other_host():
    """Another host: another loopback address and port."""
    with HostileServer(host="127.0.0.2") as hostile:
        yield hostile


class Sleeps(list):
    """An injected sleep that records and does not pause."""

    def __call__(self, seconds):
        self.append(seconds)


def client(url, credentials=None, **kwargs):
    sleeps = Sleeps()
    kwargs.setdefault("request_timeout", 5)
    atlas = AtlasClient(url, credentials or ApiKey("public", SECRET), sleep=sleeps, jitter=lambda low, high: low, **kwargs)
    return atlas, sleeps


def all_items(atlas, operation, params):
    """Every item of a list, through items()."""
    return list(atlas.items(operation, params))


def token_then(reply_for_api):
    """A handler: the token endpoint hands out TOKEN, every other request gets reply_for_api(received)."""
    def handler(received):
        if received.path == "/api/oauth/token":
            return answers.token(TOKEN)
        return reply_for_api(received)
    return handler


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# --- redirects and credentials sent elsewhere ----------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("operation, body", [(GET, None), (CREATE, {"deliveryType": "automated"})])
def test_no_redirect_is_followed_and_the_error_names_status_and_host_only(server, other_host, status, operation, body):
    server.script([answers.redirect(other_host.url + "/api/atlas/v2/elsewhere?signature=s3cr3t-query", status)])
    other_host.script([answers.json(JOB)] * 3)
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(operation, PARAMS, body=body)
    message = str(caught.value)
    assert caught.value.status == status and f"HTTP {status}" in message
    assert f"127.0.0.2:{other_host.port}" in message
    assert "s3cr3t-query" not in message and "elsewhere" not in message
    assert not caught.value.transient
    assert len(server.received) == 1 and other_host.received == []


def test_a_redirect_to_itself_is_not_followed(server):
    server.script(handler=lambda received: answers.redirect(server.url + received.path, 307))
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert caught.value.status == 307 and len(server.received) == 1


def test_the_session_itself_never_follows_a_redirect(server, other_host):
    """Even a request made on the session with allow_redirects left at its default stays where it was sent."""
    server.script([answers.redirect(other_host.url + "/x", 307)])
    other_host.script([answers.json({})])
    atlas, dummy = client(server.url)
    response = atlas.session.post(server.url + "/x", json={})
    assert response.status_code == 307 and other_host.received == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_digest_challenge_from_another_host_is_never_answered(server, other_host, method):
    """base_url redirects to another host that challenges with its own realm and nonce: nothing of the key goes there."""
    server.script(handler=lambda received: answers.redirect(other_host.url + received.path, 307))
    other_host.script(handler=lambda received: answers.digest_challenge(realm="Other realm", nonce="attacker-nonce")
                      if "authorization" not in received.headers else answers.json(JOB))
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError):
        if method == "GET":
            atlas.call(GET, PARAMS)
        else:
            atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert all("authorization" not in received.headers for received in other_host.received)


def test_a_bearer_token_never_goes_to_another_host(server, other_host):
    server.script(handler=token_then(lambda received: answers.redirect(other_host.url + received.path, 307)))
    other_host.script(handler=lambda received: answers.json(JOB))
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET))
    with pytest.raises(AtlasError):
        atlas.call(GET, PARAMS)
    assert all("authorization" not in received.headers for received in other_host.received)


def test_the_digest_challenge_of_base_url_is_answered_once_then_reused(server):
    def handler(received):
        if "authorization" not in received.headers:
            return answers.digest_challenge()
        return answers.json(JOB)

    server.script(handler=handler)
    atlas, dummy = client(server.url)
    assert atlas.call(GET, PARAMS) == JOB
    assert atlas.call(GET, PARAMS) == JOB
    authorizations = [received.headers.get("authorization", "") for received in server.received]
    assert authorizations[0] == "" and len(authorizations) == 3
    assert all(value.startswith('Digest username="public"') and 'realm="MMS Public API"' in value for value in authorizations[1:])
    assert all(SECRET not in value for value in authorizations)


def test_netrc_never_replaces_the_collections_auth(server, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server.script(handler=token_then(lambda received: answers.json(JOB)))
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET))
    assert atlas.call(GET, PARAMS) == JOB
    netrc_basic = "Basic " + base64.b64encode(b"netrc-user:netrc-password").decode()
    token_call, api_call = server.received
    assert token_call.headers["authorization"] == "Basic " + base64.b64encode(f"sa-id:{SECRET}".encode()).decode()
    assert api_call.headers["authorization"] == "Bearer " + TOKEN
    assert all(received.headers.get("authorization") != netrc_basic for received in server.received)

    server.script(handler=lambda received: answers.json(JOB))
    atlas, dummy = client(server.url)  # an API key: its first request carries no credentials at all
    atlas.call(GET, PARAMS)
    assert "authorization" not in server.received[0].headers


@pytest.mark.parametrize("url", ["http://user:hunter2-pass@127.0.0.1:1", "https://hunter2-pass@cloud.mongodb.com"])
def test_a_base_url_with_credentials_is_refused_without_showing_them(url):
    with pytest.raises(ValueError) as caught:
        AtlasClient(url, ApiKey("public", SECRET))
    assert "hunter2-pass" not in str(caught.value) and "user:password@" in str(caught.value)


@pytest.mark.parametrize("credentials, field", [
    (ServiceAccount("sa-id", "s\u20acxyz-\u4e2d"), "client_secret"),
    (ServiceAccount("sa-\u20ac", SECRET), "client_id"),
    (ApiKey("public", "key-\u0100-tail"), "private_key"),
    (ApiKey("public", "key-with\r\nInjected: header"), "private_key"),
])
def test_credentials_that_cannot_be_sent_are_refused_without_showing_them(credentials, field):
    with pytest.raises(ValueError) as caught:
        AtlasClient("https://cloud.mongodb.com", credentials)
    message = str(caught.value)
    assert field in message
    for forbidden in ("\u20ac", "\u4e2d", "\u0100", "position", "xyz", "tail", "Injected", "U+"):
        assert forbidden not in message


def test_every_new_token_goes_to_on_secret_before_it_is_used(server):
    events = []
    tokens = iter(["token-one", "token-two"])

    def handler(received):
        events.append(("sent", received.headers.get("authorization", "")))
        if received.path == "/api/oauth/token":
            return answers.token(next(tokens))
        if received.headers.get("authorization") == "Bearer token-one":
            return answers.json({"error": 401, "errorCode": "UNAUTHORIZED"}, 401)  # revoked: a new token is fetched
        return answers.json(JOB)

    server.script(handler=handler)
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET), on_secret=lambda value: events.append(("secret", value)))
    assert atlas.call(GET, PARAMS) == JOB
    for token in ("token-one", "token-two"):
        masked_at = events.index(("secret", token))
        first_use = events.index(("sent", "Bearer " + token))
        assert masked_at < first_use


def test_an_echoed_authorization_header_never_reaches_the_message(server):
    def echo(received):
        return answers.json({"error": 400, "errorCode": "ECHO", "reason": "Bad Request",
                             "detail": f"headers were: {json.dumps(received.headers)}"}, 400)

    server.script(handler=token_then(echo))
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET))
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert TOKEN not in str(caught.value) and TOKEN not in json.dumps(caught.value.as_dict())

    server.script(handler=echo)  # the token endpoint echoes the Basic header of the client id and secret
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET))
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    basic = base64.b64encode(f"sa-id:{SECRET}".encode()).decode()
    assert basic not in str(caught.value) and basic not in json.dumps(caught.value.as_dict())


def test_proxy_variables_are_honoured_and_the_exchange_stays_bounded(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("NO_PROXY", "")
    body = json.dumps(JOB).encode()
    server.script([answers.json(JOB), Reply(200, body, {"Content-Type": "application/json"}, drip=0.25, drip_for=8)])
    atlas, dummy = client("http://atlas.example.invalid", request_timeout=1, max_retries=0)
    assert atlas.call(GET, PARAMS) == JOB
    assert server.received[0].headers["host"] == "atlas.example.invalid"
    started = time.monotonic()
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert caught.value.timed_out and time.monotonic() - started < 2.5


# --- TLS -------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_server():
    reason = tls_available()
    if reason:
        pytest.skip(reason)
    with HostileServer(tls=True) as hostile:
        yield hostile


def test_validate_certs_false_wins_over_ca_bundle_variables(tls_server, tmp_path, monkeypatch):
    other_certificate, dummy = self_signed_certificate(str(tmp_path))  # a bundle that does not hold the server's CA
    tls_server.script(handler=lambda received: answers.json(JOB))
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(variable, other_certificate)
        atlas, dummy = client(tls_server.url, validate_certs=False)
        assert atlas.call(GET, PARAMS) == JOB
        monkeypatch.delenv(variable)


def test_a_ca_bundle_variable_is_honoured_when_certificates_are_checked(tls_server, monkeypatch):
    tls_server.script(handler=lambda received: answers.json(JOB))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_server.certificate)
    atlas, dummy = client(tls_server.url)
    assert atlas.call(GET, PARAMS) == JOB


def test_a_certificate_failure_is_final_and_says_so(tls_server):
    atlas, sleeps = client(tls_server.url, max_retries=5)
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert "certificate" in str(caught.value)
    assert not caught.value.transient and caught.value.never_sent
    assert tls_server.connections == 1 and sleeps == []


# --- hangs -----------------------------------------------------------------------------------------------


def slowly(data: bytes, every: float, bound: float = 8.0):
    """A body sent one byte every `every` seconds, for `bound` seconds at most."""
    ends = time.monotonic() + bound
    for index in range(len(data)):
        if time.monotonic() > ends:
            yield data[index:]
            return
        yield data[index:index + 1]
        time.sleep(every)


@pytest.mark.parametrize("where", ["whole answer", "body"])
def test_a_server_dripping_bytes_times_out_within_request_timeout(server, where):
    body = json.dumps(dict(JOB, padding="x" * 100)).encode()
    if where == "whole answer":
        reply = Reply(200, body, {"Content-Type": "application/json"}, drip=0.25, drip_for=8)
    else:
        reply = Reply(200, slowly(body, 0.25), {"Content-Type": "application/json", "Content-Length": str(len(body))},
                      content_length=None)
    server.script([reply])
    atlas, dummy = client(server.url, request_timeout=1, max_retries=0)
    started = time.monotonic()
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert time.monotonic() - started < 2.5
    assert caught.value.timed_out and "within 1 s" in str(caught.value)


def test_an_answer_claiming_200_mib_is_refused_without_reading_it(server):
    server.script([answers.claims(200 * 1024 * 1024)])
    atlas, dummy = client(server.url, max_retries=0)
    started = time.monotonic()
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert "64 MiB" in str(caught.value) and time.monotonic() - started < 2


def test_an_answer_streaming_past_64_mib_is_refused(server):
    server.script([answers.huge(70)])
    atlas, dummy = client(server.url, max_retries=0, request_timeout=30)
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert "64 MiB" in str(caught.value)


def test_the_first_request_of_a_deadline_gets_only_the_time_left(server):
    server.script([Reply(200, json.dumps(JOB).encode(), delay=3)])
    atlas, dummy = client(server.url, request_timeout=30, max_retries=0)
    started = time.monotonic()
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS, deadline=started + 1)
    assert time.monotonic() - started < 2 and caught.value.timed_out


def test_no_request_starts_after_the_deadline(server):
    server.script(handler=lambda received: answers.json(JOB))
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS, deadline=time.monotonic() - 0.01)
    assert caught.value.never_sent and server.received == []


@pytest.mark.parametrize("value, slept", [
    ("86400", 300), ("9" * 400, 300), ("Fri, 31 Dec 9999 23:59:59 GMT", 300), ("120", 120),
    # not ASCII digits nor an HTTP date: ignored, the backoff alone (0.5 s with the lowest jitter)
    ("\u00b2", 0.5), ("\u0663", 0.5), ("-5", 0.5), ("1e3", 0.5), ("7.5", 0.5), ("Wed, 02 Dec 2026 25:61:00 GMT", 0.5),
    ("\x00", 0.5), ("", 0.5),
])
def test_retry_after_is_read_safely_and_bounded(server, value, slept):
    server.script([answers.rate_limited(value), answers.json(JOB)])
    atlas, sleeps = client(server.url)
    assert atlas.call(GET, PARAMS) == JOB
    assert sleeps == [slept]


def test_a_long_retry_after_inside_a_deadline_never_sleeps_past_it(server):
    server.script([answers.rate_limited("86400"), answers.json(JOB)])
    atlas, sleeps = client(server.url)
    started = time.monotonic()
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS, deadline=started + 5)
    assert sum(sleeps) <= 5 and caught.value.status == 429
    assert "kept rate-limiting" not in str(caught.value)


# --- tracebacks instead of errors ------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "null", "[]", '"a string"', "17", "<html>gateway</html>", "[" * 100000 + "]" * 100000,
                                  '{"a": ' * 70 + "1" + "}" * 70, '{"x": NaN}', "\xff\xfe"])
def test_a_get_answered_with_the_wrong_shape_is_an_atlas_error(server, body):
    server.script([answers.raw(body.encode("latin-1"))])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert caught.value.status == 200 and "HTTP 200" in str(caught.value)


@pytest.mark.parametrize("body", ["", "null", "{}", "[]", '{"results": null}', '{"results": "x"}', '{"results": [1]}',
                                  '{"results": [{"id": "a"}, "b"]}', '{"results": [[]]}'])
def test_a_list_answered_with_something_else_than_a_list_page_is_an_atlas_error(server, body):
    server.script([answers.raw(body)])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError):
        all_items(atlas, LIST, PARAMS)


def test_a_create_answered_with_an_unusable_body_is_ambiguous(server):
    for body in ("", "[]", "not json"):
        server.script([answers.raw(body, 201)])
        atlas, dummy = client(server.url)
        with pytest.raises(AtlasError) as caught:
            atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"}, expect=dict)
        assert caught.value.ambiguous and len(server.received) == 1


# --- pages ----------------------------------------------------------------------------------------------


def test_a_short_page_with_a_next_link_is_not_the_last(server):
    """Real Atlas pages hold 100 items by default, fewer than asked."""
    jobs = [dict(JOB, id=f"{index:024x}") for index in range(250)]

    def handler(received):
        number = int(received.query["pageNum"])
        chunk = jobs[(number - 1) * 100:number * 100]
        links = [{"rel": "self", "href": "x"}] + ([{"rel": "next", "href": "y"}] if number * 100 < len(jobs) else [])
        return answers.json({"results": chunk, "totalCount": len(jobs), "links": links})

    server.script(handler=handler)
    atlas, dummy = client(server.url)
    assert [job["id"] for job in all_items(atlas, LIST, PARAMS)] == [job["id"] for job in jobs]
    assert len(server.received) == 3


def test_a_short_page_below_total_count_is_not_the_last(server):
    jobs = [dict(JOB, id=f"{index:024x}") for index in range(150)]
    server.script([answers.json({"results": jobs[:100], "totalCount": 150}), answers.json({"results": jobs[100:], "totalCount": 150})])
    atlas, dummy = client(server.url)
    assert len(all_items(atlas, LIST, PARAMS)) == 150


def test_pages_of_new_ids_forever_stop_at_2000_pages_with_an_error():
    atlas, dummy = client("https://atlas.example.test")

    def handler(sent):
        number = int(sent["query"]["pageNum"])
        return (200, {"results": [{"id": f"{number:024x}"}], "totalCount": 10 ** 9, "links": [{"rel": "next", "href": "y"}]})

    adapter = mount(atlas, Scripted(handler=handler))
    with pytest.raises(AtlasError) as caught:
        all_items(atlas, LIST, PARAMS)
    assert len(adapter.sent) == 2000 and "2000 pages" in str(caught.value)


def test_items_is_a_generator_that_keeps_no_pages():
    atlas, dummy = client("https://atlas.example.test")
    adapter = mount(atlas, Scripted(handler=lambda sent: (200, {"results": [{"id": sent["query"]["pageNum"]}] * 3, "totalCount": 9,
                                                                "links": [{"rel": "next"}]})))
    walk = atlas.items(LIST, PARAMS)
    assert next(walk) == {"id": "1"} and len(adapter.sent) == 1


# --- a POST never sent twice -----------------------------------------------------------------------------


def truncated(status: int = 200, chunked: bool = True) -> Reply:
    body = json.dumps(dict(JOB, padding="y" * 2000)).encode()
    return Reply(status, body, {"Content-Type": "application/json"}, chunked=chunked, truncate_at=1000,
                 content_length=None if chunked else len(body))


@pytest.mark.parametrize("chunked", [True, False])
def test_a_post_closed_in_the_middle_of_its_answer_is_ambiguous_and_not_sent_again(server, chunked):
    server.script([truncated(chunked=chunked), answers.json(JOB)])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert caught.value.ambiguous and not caught.value.never_sent
    assert len(server.requests_to("restoreJobs")) == 1


@pytest.mark.parametrize("chunked", [True, False])
def test_a_get_closed_in_the_middle_of_its_answer_is_retried(server, chunked):
    server.script([truncated(chunked=chunked), answers.json(JOB)])
    atlas, dummy = client(server.url)
    assert atlas.call(GET, PARAMS) == JOB
    assert len(server.received) == 2


def test_a_post_closed_before_any_answer_is_ambiguous(server):
    server.script([Reply(close_before_answer=True)])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert caught.value.ambiguous and len(server.received) == 1


def test_a_post_that_timed_out_after_sending_is_ambiguous_and_timed_out(server):
    server.script([Reply(200, json.dumps(JOB).encode(), delay=2)])
    atlas, dummy = client(server.url, request_timeout=0.5)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert caught.value.ambiguous and caught.value.timed_out and len(server.received) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_post_answered_5xx_is_ambiguous_and_not_sent_again(server, status):
    server.script([answers.json({"error": status}, status), answers.json(JOB)])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert caught.value.ambiguous and len(server.received) == 1


@pytest.mark.parametrize("status", [400, 404, 409, 422, 501])
def test_a_post_answered_501_or_4xx_is_final(server, status):
    server.script([answers.json({"error": status, "errorCode": "NOPE"}, status), answers.json(JOB)])
    atlas, sleeps = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert not caught.value.ambiguous and not caught.value.transient
    assert len(server.received) == 1 and sleeps == []


def test_a_post_to_a_refused_port_never_left_and_is_tried_again():
    atlas, sleeps = client(f"http://127.0.0.1:{closed_port()}", max_retries=2)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    error = caught.value
    assert error.never_sent and not error.ambiguous and error.attempts == 3 and len(sleeps) == 2
    assert "refused" in str(error) and "3 tries" in str(error)


# --- messages ---------------------------------------------------------------------------------------------


def test_refused_port_and_dns_failure_are_told_apart_with_the_tries_made():
    refused, dummy = client(f"http://127.0.0.1:{closed_port()}", max_retries=1)
    unknown, dummy = client("http://no-such-host.invalid", max_retries=1)
    messages = []
    for atlas in (refused, unknown):
        with pytest.raises(AtlasError) as caught:
            atlas.call(GET, PARAMS)
        assert caught.value.never_sent and "2 tries" in str(caught.value)
        messages.append(str(caught.value))
    assert "refused" in messages[0] and "resolve" not in messages[0]
    assert "resolve" in messages[1] and "refused" not in messages[1]


def test_an_unreachable_host_is_told_apart():
    atlas, dummy = client("https://atlas.example.test", max_retries=0)
    unreachable = NewConnectionError(None, "Failed to establish a new connection")
    unreachable.__cause__ = OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH))
    mount(atlas, Scripted([requests.exceptions.ConnectionError(MaxRetryError(None, "/x", reason=unreachable))]))
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert "no route" in str(caught.value) and "refused" not in str(caught.value) and caught.value.never_sent


def test_a_huge_error_detail_is_cut_short_in_the_message(server):
    server.script([answers.json({"error": 400, "errorCode": "BIG", "detail": "d" * 2_000_000}, 400)])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert len(str(caught.value)) < 1000 and "BIG" in str(caught.value)
    assert len(caught.value.detail) < 5000


def test_spent_429_retries_name_max_retries(server):
    server.script([answers.rate_limited("1")] * 3)
    atlas, dummy = client(server.url, max_retries=2)
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert "max_retries" in str(caught.value) and "3 tries" in str(caught.value)


def test_a_429_the_retries_got_past_leaves_no_trace(server):
    server.script([answers.rate_limited("1"), answers.json(JOB)])
    atlas, sleeps = client(server.url)
    assert atlas.call(GET, PARAMS) == JOB and sleeps == [1.0]


def test_a_404_on_a_create_names_the_target_too(server):
    server.script([answers.json({"error": 404, "errorCode": "RESOURCE_NOT_FOUND", "detail": "not found"}, 404)])
    atlas, dummy = client(server.url)
    with pytest.raises(AtlasError) as caught:
        atlas.call(CREATE, PARAMS, body={"deliveryType": "automated"})
    assert "target_cluster_name" in caught.value.hint and "target_project_id" in caught.value.hint
    assert "cluster_name" in caught.value.hint


# --- token answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, field", [
    ('{"access_token": "t", "expires_in": "abc"}', "expires_in"),
    ('{"access_token": "t", "expires_in": [1]}', "expires_in"),
    ('{"access_token": "t", "expires_in": 0}', "expires_in"),
    ('{"access_token": "t", "expires_in": -60}', "expires_in"),
    ('{"access_token": "t", "expires_in": NaN}', "expires_in"),
    ('{"access_token": "t", "expires_in": 1e400}', "expires_in"),
    ('{"access_token": "t", "expires_in": true}', "expires_in"),
    ('{"expires_in": 3600}', "access_token"),
    ('{"access_token": "", "expires_in": 3600}', "access_token"),
    ('{"access_token": ["t"], "expires_in": 3600}', "access_token"),
    ('{"access_token": "t\\r\\nX-Injected: 1", "expires_in": 3600}', "access_token"),
])
def test_a_token_answer_that_cannot_be_used_is_an_atlas_error_naming_the_field(server, answer, field):
    server.script([answers.raw(answer), answers.json(JOB)])
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET))
    with pytest.raises(AtlasError) as caught:
        atlas.call(GET, PARAMS)
    assert field in str(caught.value) and caught.value.operation == "oauth_token"
    assert len(server.received) == 1


@pytest.mark.parametrize("expires_in", [3600, "3600", 7200.5])
def test_a_good_token_answer_is_used(server, expires_in):
    server.script(handler=lambda received: answers.token(TOKEN, expires_in) if "oauth" in received.path else answers.json(JOB))
    atlas, dummy = client(server.url, ServiceAccount("sa-id", SECRET))
    assert atlas.call(GET, PARAMS) == JOB


def test_the_token_endpoint_is_retried_after_429_and_5xx_honouring_retry_after(server):
    server.script([answers.rate_limited("4"), answers.json({"error": 503}, 503), answers.token(TOKEN), answers.json(JOB)])
    atlas, sleeps = client(server.url, ServiceAccount("sa-id", SECRET))
    assert atlas.call(GET, PARAMS) == JOB
    assert sleeps[0] == 4.0 and len(sleeps) == 2
    assert [received.path for received in server.received].count("/api/oauth/token") == 3
