# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared token cache, and the client's revocations: one token for many runs, none left behind."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from urllib.parse import parse_qs

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils import _token_cache
from ansible_collections.atlasops.backup.plugins.module_utils._auth import BearerToken, ServiceAccount
from ansible_collections.atlasops.backup.plugins.module_utils._client import AtlasClient
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._token_cache import TokenCache, TokenCacheError, cache_directory

from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount

BASE = "https://atlas.example.test"
SECRET = "sa-secret-never-shown"
PARAMS = dict(project_id="5f1a2b3c4d5e6f7a8b9c0d1e", cluster_name="prod-orders", job_id="a" * 24)
GET = endpoint("dedicated", "get_restore_job")


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.wall_offset = 1.7e9

    def __call__(self):
        return self.now

    def wall(self):
        return self.wall_offset + self.now

    def sleep(self, seconds):
        self.now += seconds


def cache(directory, clock=None, secret=SECRET):
    clock = clock or Clock()
    return TokenCache(str(directory), BASE, "sa-id", secret, wall=clock.wall, sleep=clock.sleep)


def fetcher(*values, lifetime=3600.0, clock=None):
    values = list(values)
    calls = []

    def fetch():
        calls.append(1)
        now = clock() if clock else 1000.0
        return BearerToken.from_answer({"access_token": values.pop(0), "expires_in": lifetime}, now)
    fetch.calls = calls
    return fetch


@pytest.fixture
def private(tmp_path):
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    os.chmod(directory, 0o700)
    return directory


def test_two_runs_share_one_token_and_the_files_are_private(private):
    clock = Clock()
    first, second = cache(private, clock), cache(private, clock)
    fetch = fetcher("token-1", clock=clock)
    token, shared, displaced = first.obtain(fetch, now=clock())
    again, shared_again, dummy = second.obtain(fetcher(), now=clock())
    assert (token.value, shared, displaced) == ("token-1", True, None)
    assert (again.value, shared_again) == ("token-1", True)
    assert len(fetch.calls) == 1
    files = [name for name in os.listdir(private) if name.endswith(".token")]
    assert len(files) == 1 and "sa-id" not in files[0] and BASE not in files[0]
    assert stat.S_IMODE(os.stat(private / files[0]).st_mode) == 0o600
    assert not [name for name in os.listdir(private) if name.startswith(".")], "a temporary file was left behind"


def test_the_key_holds_base_url_client_and_secret(private):
    clock = Clock()
    cache(private, clock).obtain(fetcher("token-1", clock=clock), now=clock())
    other_secret = cache(private, clock, secret="another-secret")
    token, dummy, dummy = other_secret.obtain(fetcher("token-2", clock=clock), now=clock())
    assert token.value == "token-2"


def test_used_until_shortly_before_expiry_then_renewed_and_the_old_one_handed_back(private):
    clock = Clock()
    store = cache(private, clock)
    store.obtain(fetcher("token-1", clock=clock), now=clock())
    clock.now += 3290  # 10 s before the renewal point (300 s before the hour)
    token, dummy, displaced = cache(private, clock).obtain(fetcher("never", clock=clock), now=clock())
    assert token.value == "token-1" and displaced is None
    clock.now += 20
    token, shared, displaced = cache(private, clock).obtain(fetcher("token-2", clock=clock), now=clock())
    assert (token.value, shared, displaced.value) == ("token-2", True, "token-1")
    # times carried across processes by the wall clock: the new token is good for most of its hour
    assert token.renew_at - clock() == pytest.approx(3300)


def test_a_token_atlas_refused_is_never_taken_back(private):
    clock = Clock()
    cache(private, clock).obtain(fetcher("token-1", clock=clock), now=clock())
    token, dummy, displaced = cache(private, clock).obtain(fetcher("token-2", clock=clock), now=clock(), avoid={"token-1"})
    assert token.value == "token-2" and displaced is None  # refused: not worth a revoke


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o701])
def test_a_directory_others_can_enter_is_refused(tmp_path, mode):
    directory = tmp_path / "open"
    directory.mkdir()
    os.chmod(directory, mode)
    with pytest.raises(TokenCacheError) as caught:
        cache(directory)
    assert "refused" in str(caught.value) and oct(mode)[2:] in str(caught.value)
    assert stat.S_IMODE(os.stat(directory).st_mode) == mode, "the directory was changed instead of refused"


def test_a_symbolic_link_is_refused(tmp_path, private):
    link = tmp_path / "link"
    link.symlink_to(private)
    with pytest.raises(TokenCacheError):
        cache(link)


def test_a_missing_directory_is_created_private(tmp_path):
    directory = tmp_path / "a" / "b"
    cache(directory)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_a_cache_file_others_could_read_is_ignored(private):
    clock = Clock()
    store = cache(private, clock)
    store.obtain(fetcher("token-1", clock=clock), now=clock())
    name = next(name for name in os.listdir(private) if name.endswith(".token"))
    os.chmod(private / name, 0o644)
    token, dummy, dummy = cache(private, clock).obtain(fetcher("token-2", clock=clock), now=clock())
    assert token.value == "token-2"
    assert stat.S_IMODE(os.stat(private / name).st_mode) == 0o600  # replaced by a private file


def test_a_garbled_cache_file_is_ignored(private):
    clock = Clock()
    cache(private, clock).obtain(fetcher("token-1", clock=clock), now=clock())
    name = next(name for name in os.listdir(private) if name.endswith(".token"))
    (private / name).write_text('{"format": 1, "access_token": "a b\\r\\n", "renew_at": 1e12, "expires_at": 1e12}')
    token, dummy, dummy = cache(private, clock).obtain(fetcher("token-2", clock=clock), now=clock())
    assert token.value == "token-2"


def test_a_held_lock_is_waited_for_then_the_run_fetches_its_own(private):
    clock = Clock()
    holder = cache(private, clock)
    lock = holder._acquire(1.0)  # another run, fetching
    try:
        token, shared, dummy = cache(private, clock).obtain(fetcher("own", clock=clock), now=clock(), lock_wait=0.5)
    finally:
        holder._release(lock)
    assert (token.value, shared) == ("own", False)
    assert clock.now >= 1000.5


def test_take_removes_the_shared_token(private):
    clock = Clock()
    cache(private, clock).obtain(fetcher("token-1", clock=clock), now=clock())
    taken = cache(private, clock).take(now=clock())
    assert taken.value == "token-1"
    assert cache(private, clock).take(now=clock()) is None


def _concurrent_run(directory, counter, barrier, results):
    store = TokenCache(directory, BASE, "sa-id", SECRET)

    def fetch():
        with counter.get_lock():
            counter.value += 1
        time.sleep(0.3)  # a slow token endpoint: the others must wait, not fetch too
        return BearerToken.from_answer({"access_token": f"token-{os.getpid()}", "expires_in": 3600}, time.monotonic())
    barrier.wait()
    token, dummy, dummy = store.obtain(fetch, now=time.monotonic())
    results.put(token.value)


def test_concurrent_runs_fetch_one_token_between_them(private):
    context = multiprocessing.get_context("spawn")
    counter, barrier, results = context.Value("i", 0), context.Barrier(6), context.Queue()
    processes = [context.Process(target=_concurrent_run, args=(str(private), counter, barrier, results)) for dummy in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    values = {results.get(timeout=5) for dummy in processes}
    assert counter.value == 1 and len(values) == 1


def test_where_the_cache_lives(tmp_path):
    assert cache_directory({"ATLASOPS_BACKUP_TOKEN_CACHE": "off"}) is None
    assert cache_directory({"ATLASOPS_BACKUP_TOKEN_CACHE": str(tmp_path)}) == str(tmp_path)
    assert cache_directory({"XDG_RUNTIME_DIR": str(tmp_path)}) == str(tmp_path / "atlasops.backup")
    assert cache_directory({}).endswith(os.path.join(".cache", "atlasops.backup", "tokens"))
    dummy, warning = _token_cache.shared_token_cache(BASE, "sa-id", SECRET, environ={"ATLASOPS_BACKUP_TOKEN_CACHE": "/proc/nope"})
    assert "fetches its own access token" in warning and SECRET not in warning


# --- the client: renewals revoke what they replace, release() what is held ----------------------------


def make_client(token_cache=None, clock=None, **kwargs):
    clock = clock or Clock()
    client = AtlasClient(BASE, ServiceAccount("sa-id", SECRET), sleep=clock.sleep, clock=clock, jitter=lambda low, high: high,
                         token_cache=token_cache, **kwargs)
    return client, clock


def atlas(tokens, revoke_status=200, token_answers=None):
    """A handler: tokens in order from the token endpoint, revokes answered revoke_status, API calls echo the bearer."""
    tokens = list(tokens)

    def handler(sent):
        if sent["path"] == "/api/oauth/token":
            if token_answers:
                return token_answers.pop(0)
            return (200, {"access_token": tokens.pop(0), "token_type": "Bearer", "expires_in": 3600})
        if sent["path"] == "/api/oauth/revoke":
            if isinstance(revoke_status, BaseException):
                raise revoke_status
            return (revoke_status, {})
        return (200, {"auth": sent["headers"]["Authorization"]})
    return Scripted(handler=handler)


def revoked(adapter):
    found = []
    for sent in adapter.sent:
        if sent["path"] == "/api/oauth/revoke":
            form = parse_qs(sent["body"])
            assert form["token_type_hint"] == ["access_token"]
            assert sent["headers"]["Authorization"].startswith("Basic ")
            found.append(form["token"][0])
    return found


def test_a_renewal_revokes_the_token_it_replaced():
    client, clock = make_client()
    adapter = mount(client, atlas(["token-1", "token-2"]))
    client.call(GET, PARAMS)
    clock.now += 3350
    assert client.call(GET, PARAMS) == {"auth": "Bearer token-2"}
    assert revoked(adapter) == ["token-1"]


def test_a_token_atlas_refused_is_renewed_without_a_revoke():
    client, dummy = make_client()
    answers = iter([(200, {"access_token": "old", "expires_in": 3600}), (401, {"error": 401, "errorCode": "UNAUTHORIZED"}),
                    (200, {"access_token": "new", "expires_in": 3600}), (200, {"ok": 1})])
    adapter = mount(client, Scripted(handler=lambda sent: next(answers)))
    assert client.call(GET, PARAMS) == {"ok": 1}
    assert revoked(adapter) == []


def test_release_revokes_the_run_own_token_once():
    client, dummy = make_client()
    adapter = mount(client, atlas(["token-1"]))
    client.call(GET, PARAMS)
    assert client.release() == []
    assert client.release() == []
    assert revoked(adapter) == ["token-1"]


def test_a_shared_token_survives_a_run_and_is_revoked_by_the_one_that_releases_it(private):
    clock = Clock()
    first, dummy = make_client(cache(private, clock), clock)
    first_adapter = mount(first, atlas(["token-1"]))
    first.call(GET, PARAMS)
    first.release()
    assert revoked(first_adapter) == []
    second, dummy = make_client(cache(private, clock), clock)
    second_adapter = mount(second, atlas([]))
    assert second.call(GET, PARAMS) == {"auth": "Bearer token-1"}  # no token call
    last, dummy = make_client(cache(private, clock), clock)
    last_adapter = mount(last, atlas([]))
    assert last.release(shared=True) == []
    assert revoked(last_adapter) == ["token-1"]
    assert [sent["path"] for sent in second_adapter.sent] == ["/api/atlas/v2/groups/5f1a2b3c4d5e6f7a8b9c0d1e/clusters/prod-orders/"
                                                              "backup/restoreJobs/" + "a" * 24]


def test_a_run_that_renews_the_shared_token_revokes_the_old_one_and_others_follow(private):
    clock = Clock()
    first, dummy = make_client(cache(private, clock), clock)
    mount(first, atlas(["token-1"]))
    first.call(GET, PARAMS)
    clock.now += 3350
    second, dummy = make_client(cache(private, clock), clock)
    second_adapter = mount(second, atlas(["token-2"]))
    assert second.call(GET, PARAMS) == {"auth": "Bearer token-2"}
    assert revoked(second_adapter) == ["token-1"]
    first_adapter = mount(first, atlas([]))
    assert first.call(GET, PARAMS) == {"auth": "Bearer token-2"}  # the renewed one, from the cache
    assert revoked(first_adapter) == []  # token-1 was the other run's to revoke, and it did


@pytest.mark.parametrize("failure", [500, 401, ConnectionError("down")])
def test_a_failed_revoke_is_one_try_and_a_warning_without_the_token(failure):
    import requests
    client, dummy = make_client()
    adapter = mount(client, atlas(["token-1"], revoke_status=requests.ConnectionError("down") if isinstance(failure, Exception)
                                  else failure))
    client.call(GET, PARAMS)
    warnings = client.release()
    assert len(warnings) == 1 and "could not be revoked" in warnings[0]
    assert "token-1" not in warnings[0] and SECRET not in warnings[0]
    assert len(revoked(adapter)) == 1
    assert [sent["timeout"] for sent in adapter.sent if sent["path"] == "/api/oauth/revoke"] == [30.0]


def test_the_token_endpoint_429_is_retried_with_backoff():
    client, clock = make_client()
    limited = (429, {"error": "rate_limited"}, {"Retry-After": "3"})
    adapter = mount(client, atlas(["unused"], token_answers=[limited, limited, (200, {"access_token": "t", "expires_in": 3600})]))
    start = clock()
    assert client.call(GET, PARAMS) == {"auth": "Bearer t"}
    assert [sent["path"] for sent in adapter.sent].count("/api/oauth/token") == 3
    assert clock() - start >= 6.0


def test_without_retries_a_429_is_the_caller_to_handle():
    client, clock = make_client()
    answers = iter([(200, {"access_token": "t", "expires_in": 3600}), (429, {"error": 429, "errorCode": "RATE_LIMITED"},
                                                                       {"Retry-After": "9"})])
    mount(client, Scripted(handler=lambda sent: next(answers)))
    with pytest.raises(AtlasError) as caught:
        client.without_retries().call(GET, PARAMS)
    assert caught.value.status == 429 and caught.value.retry_after == 9.0
    assert clock() == 1000.0  # no pause inside the call
