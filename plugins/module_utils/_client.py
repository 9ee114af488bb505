# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for the Atlas Admin API v2 restore-job and snapshot operations.

It knows nothing of Ansible: one requests session, digest or OAuth auth, retries with backoff,
pagination, and AtlasError for everything that goes wrong.

What it promises against a hostile network or server:
- no redirect is followed, and no credential goes to any host but base_url's;
- ~/.netrc and URL credentials never replace its own auth; validate_certs=False beats CA bundle variables;
- one exchange (connect, send, the whole answer) ends within its time, however slowly the server sends;
- answers over 64 MiB, nested too deeply, not JSON or of the wrong shape are AtlasErrors;
- a POST is never sent again after a failure that may have left it carried out.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import errno
import json
import math
import random
import socket
import ssl
import threading
import time
import traceback
import warnings
from urllib.parse import urlsplit

from ansible_collections.atlasops.backup.plugins.module_utils._auth import (
    REVOKE_PATH, TOKEN_PATH, ApiKey, BearerToken, ServiceAccount, TokenAnswerError, check_credentials,
)
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import Endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import (
    AMBIGUOUS_STATUSES, AtlasError, api_error,
)
from ansible_collections.atlasops.backup.plugins.module_utils._validation import shown

try:
    import requests
    from requests.adapters import HTTPAdapter
    from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    HTTPAdapter = AuthBase = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

COLLECTION_VERSION = "0.2.0"
PAGE_SIZE = 500
# Never follow more pages than this, whatever the server claims: a million items.
MAX_PAGES = 2000
BACKOFF_FIRST = 1.0
BACKOFF_CEILING = 60.0
# Retry-After is honoured up to this many seconds; a longer demand is treated as this long.
RETRY_AFTER_CEILING = 300.0
# No answer of the Atlas API is anywhere near this large.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Atlas documents nest a few levels; anything deeper is not an Atlas answer.
MAX_JSON_DEPTH = 64
_CHUNK = 64 * 1024
_DEFAULT = object()  # call(expect=...) not given: an object for a GET, anything for other methods


class AtlasClient:
    """Calls Atlas operations described by Endpoint rows.

    sleep, clock and jitter are injectable so that tests run without real pauses. on_secret, when
    given, is called with every secret the client comes to hold (each new bearer token, before it
    is used) so that the caller can mask it in its output.

    Service accounts: token_cache (a TokenCache), when given, shares one token with the other
    module runs of this user; without it, the tokens the client fetches are its own. A renewal
    revokes the token it replaced; release() revokes, at the end of a run, what the client holds.
    """

    def __init__(self, base_url: str, credentials: ApiKey | ServiceAccount, *, request_timeout: float = 30.0,
                 max_retries: int = 5, validate_certs: bool = True, sleep=time.sleep, clock=time.monotonic,
                 jitter=random.uniform, on_secret=None, token_cache=None):
        self.base_url = _checked_base_url(base_url)
        check_credentials(credentials)
        if isinstance(request_timeout, bool) or not isinstance(request_timeout, (int, float)) \
                or not math.isfinite(request_timeout) or request_timeout <= 0:
            raise ValueError("request_timeout must be a finite number of seconds greater than 0")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be a whole number, 0 or more")
        self.credentials = credentials
        self.request_timeout = float(request_timeout)
        self.max_retries = max_retries
        self.validate_certs = bool(validate_certs)
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._on_secret = on_secret or (lambda value: None)
        self._token: BearerToken | None = None
        self._token_shared = False  # whether _token is the one of the token cache (other runs use it too)
        self._rejected: str | None = None  # the token Atlas just refused with a 401: never taken back
        self._token_cache = token_cache if isinstance(credentials, ServiceAccount) else None
        self.revoke_warnings: list = []  # revocations that failed (the caller reports them as warnings)
        parts = urlsplit(self.base_url)
        self._origin = _origin(self.base_url)
        self._host = parts.netloc
        self.session = _Session()
        self.session.verify = self.validate_certs
        self.session.headers["User-Agent"] = f"atlasops.backup/{COLLECTION_VERSION} python-requests/{requests.__version__}"
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, _WatchedAdapter())
        if isinstance(credentials, ApiKey):
            self._auth = _Digest(credentials.public_key, credentials.private_key, self._origin)
            self._secret_values = [credentials.private_key]
        else:
            self._auth = None  # a _Bearer per request
            self._token_auth = HTTPBasicAuth(credentials.client_id, credentials.client_secret)
            basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode("latin-1")).decode("ascii")
            self._secret_values = [credentials.client_secret, basic]
            self._on_secret(basic)

    # --- operations -------------------------------------------------------------------------

    def call(self, endpoint: Endpoint, params: dict, *, query: dict | None = None, body: dict | None = None,
             deadline: float | None = None, expect=_DEFAULT, max_retries: int | None = None):
        """One operation; returns the decoded JSON answer (None for a 204 or, outside GET, an empty body).

        expect: the type the answer must have (dict, list), or None for anything; by default a GET
        must answer a JSON object and other methods may answer anything. A POST is sent once: a lost
        answer raises AtlasError(ambiguous=True) instead of a blind retry.
        """
        if expect is _DEFAULT:
            expect = dict if endpoint.method == "GET" else None
        url = self.base_url + endpoint.path(params)
        headers = {"Accept": endpoint.media_type}
        payload = None
        if body is not None:
            headers["Content-Type"] = endpoint.media_type
            try:  # here, so that a body that cannot be sent never counts as a request that may have been sent
                payload = json.dumps(body, allow_nan=False).encode("utf-8")
            except (TypeError, ValueError):
                raise ValueError(f"{endpoint.operation_id}: the request body cannot be sent as JSON") from None
        return self._exchange(endpoint.method, url, endpoint.operation_id, headers=headers, query=query, data=payload,
                              replay_safe=endpoint.method != "POST", deadline=deadline, expect=expect, role=endpoint.role,
                              cluster_type=endpoint.cluster_type, max_retries=max_retries)

    def without_retries(self) -> "_NoRetries":
        """This client, but each call tried once: a caller with its own schedule (the fleet wait) retries, so that a
        pause for one request (a 429, a 5xx) does not stop its other requests. Token calls keep their retries."""
        return _NoRetries(self)

    def items(self, endpoint: Endpoint, params: dict, *, query: dict | None = None, deadline: float | None = None):
        """Every item (a dict) of a list operation, page after page, duplicates (same id) left out.

        The last page is the one after which neither a `next` link nor totalCount says more (without
        either, a full page says more). A page that brings nothing new ends the walk, so a server
        cannot keep it looping; more than MAX_PAGES pages is an AtlasError, not a silent cut.
        """
        if not endpoint.paginated:
            answer = self.call(endpoint, params, query=query, deadline=deadline, expect=dict)
            seen: set = set()
            for item in _page_results(answer, endpoint.operation_id):
                if _item_key(item) not in seen:
                    seen.add(_item_key(item))
                    yield item
            return
        seen = set()
        received = 0
        for page_number in range(1, MAX_PAGES + 1):
            page_query = dict(query or {}, itemsPerPage=PAGE_SIZE, pageNum=page_number, includeCount="true")
            answer = self.call(endpoint, params, query=page_query, deadline=deadline, expect=dict)
            results = _page_results(answer, endpoint.operation_id)
            received += len(results)
            fresh = 0
            for item in results:
                key = _item_key(item)
                if key not in seen:
                    seen.add(key)
                    fresh += 1
                    yield item
            if not fresh or not _more_after(answer, results, received):
                return
        raise AtlasError(f"{endpoint.operation_id}: the list goes on past {MAX_PAGES} pages; refusing to read more",
                         operation=endpoint.operation_id)

    @property
    def clock(self):
        """The monotonic clock the client measures time with (injectable for tests)."""
        return self._clock

    @property
    def sleep(self):
        """How the client pauses (injectable for tests)."""
        return self._sleep

    def pause_before_retry(self, retries: int, retry_after: float | None = None) -> None:
        """Sleep as the client does between two tries of one request."""
        self._sleep(self._pause(retries, retry_after))

    # --- transport --------------------------------------------------------------------------

    def _exchange(self, method: str, url: str, operation: str, *, headers: dict, query=None, data=None, replay_safe: bool,
                  deadline: float | None, expect=None, role: str | None = None, cluster_type: str | None = None,
                  token_call: bool = False, max_retries: int | None = None):
        max_retries = self.max_retries if max_retries is None else max_retries
        attempts = 0
        retries = 0
        renewals = 0  # 401s answered by a fresh token or digest nonce since the last other answer
        while True:
            auth = self._token_auth if token_call else (self._auth or _Bearer(self._bearer(deadline), self._origin))
            timeout = self._time_for_request(deadline, operation, attempts)
            attempts += 1
            try:
                status, response_headers, content = self._send(method, url, timeout, headers=headers, query=query, data=data,
                                                               auth=auth)
            except _Failure as failure:
                error = self._transport_error(failure, operation, replay_safe, attempts, timeout)
            else:
                if 200 <= status < 300:
                    return self._decoded(status, content, operation, expect, replay_safe, attempts, token_call)
                if 300 <= status < 400:
                    raise self._redirect_error(status, response_headers, operation, attempts)
                if status == 401 and not token_call and self._renewable(response_headers, renewals):
                    renewals += 1
                    continue
                if status != 401:
                    renewals = 0
                error = self._status_error(status, response_headers, content, operation, replay_safe, attempts, deadline,
                                           role, cluster_type)
            if not error.transient or error.ambiguous or retries >= max_retries:
                raise error
            pause = self._pause(retries, error.retry_after)
            if deadline is not None and self._clock() + pause >= deadline:
                raise error
            retries += 1
            self._sleep(pause)

    def _time_for_request(self, deadline: float | None, operation: str, attempts: int) -> float:
        """request_timeout, or the time left before the deadline when that is shorter; none left: an AtlasError."""
        if deadline is None:
            return self.request_timeout
        left = deadline - self._clock()
        if left <= 0:
            before = f" ({_tries(attempts)} made before)" if attempts else ""
            # transient: a caller's own loop (a wait) may treat it as the end of its time like a lost poll
            raise AtlasError(f"{operation} not sent: the deadline has passed{before}", operation=operation,
                             transient=True, never_sent=True, attempts=attempts)
        return min(self.request_timeout, left)

    def _send(self, method, url, timeout, *, headers, query, data, auth):
        """One HTTP exchange within `timeout` seconds in all: (status, headers, body bytes) or _Failure."""
        watch = _Watch(timeout)
        response = None
        try:
            with watch, warnings.catch_warnings():
                # validate_certs: false is the caller's informed choice; it warns once, not per request.
                warnings.filterwarnings("ignore", message="Unverified HTTPS request")
                response = self.session.request(method, url, params=query, data=data, headers=headers,
                                                auth=auth, timeout=timeout, verify=self.validate_certs, stream=True,
                                                allow_redirects=False)
                status = response.status_code
                if 300 <= status < 400:
                    return status, response.headers, b""
                content = _read_body(response, watch)
            if watch.fired:
                raise _Failure("timeout")
            return status, response.headers, content
        except _Failure:
            raise
        except (requests.exceptions.RequestException, OSError, ValueError) as exc:
            # also http.client and urllib3 errors that escape requests while the body streams
            raise _Failure("timeout" if watch.fired else _failure_kind(exc)) from None
        except Exception as exc:  # pylint: disable=broad-except
            if watch.fired or type(exc).__module__.split(".", maxsplit=1)[0] in ("urllib3", "http"):
                raise _Failure("timeout" if watch.fired else "closed") from None
            raise
        finally:
            if response is not None:
                response.close()

    def _decoded(self, status: int, content: bytes, operation: str, expect, replay_safe: bool, attempts: int,
                 constants: bool = False):
        # An unusable success answer to a POST still means Atlas carried it out: the caller must look.
        def unusable(what: str) -> AtlasError:
            return AtlasError(f"Atlas answered {operation} with HTTP {status} and {what}", status=status, operation=operation,
                              ambiguous=not replay_safe, attempts=attempts)

        if status == 204 or not content:
            if expect is not None and status != 204:
                raise unusable("an empty body where a JSON answer was expected")
            return None
        answer = _parse_json(content, unusable, constants)
        if expect is not None and not isinstance(answer, expect):
            raise unusable(f"a JSON {_json_type(answer)} where {_json_type_name(expect)} was expected")
        return answer

    def _redirect_error(self, status: int, headers, operation: str, attempts: int) -> AtlasError:
        # final: a redirect is an answer that the request was not carried out here
        location = headers.get("Location") or ""
        target = _location_host(location, self._host)
        where = f" to {target}" if target else " without a Location"
        return AtlasError(f"Atlas answered {operation} with HTTP {status}, a redirect{where}; redirects are never followed: "
                          "check base_url (scheme, host and path) and any proxy in between",
                          status=status, operation=operation, attempts=attempts)

    def _status_error(self, status, headers, content, operation, replay_safe, attempts, deadline, role,
                      cluster_type) -> AtlasError:
        retry_after = parse_retry_after(headers.get("Retry-After"), now=time.time())
        if retry_after is not None and deadline is not None:
            retry_after = min(retry_after, max(0.0, deadline - self._clock()))
        text = content.decode("utf-8", "replace") if content else ""
        body = _json_or_none(content)
        return api_error(status, body, text, operation, role=role, cluster_type=cluster_type, retry_after=retry_after,
                         ambiguous=not replay_safe and status in AMBIGUOUS_STATUSES, attempts=attempts,
                         max_retries=self.max_retries, secrets=self._secrets())

    def _renewable(self, headers, renewals: int) -> bool:
        """Whether a 401 asks for fresh credentials rather than other ones: an expired or revoked
        bearer token (fetch a new one, twice at most), or a digest challenge not yet answered or a
        stale nonce (the first challenge of a run is no renewal: three at most)."""
        if isinstance(self.credentials, ServiceAccount):
            if renewals >= 2:
                return False
            if self._token is not None:
                self._rejected = self._token.value
            self._token = None
            return True
        return renewals < 3 and self._auth.take_challenge(headers.get("WWW-Authenticate", ""))

    def _transport_error(self, failure: "_Failure", operation: str, replay_safe: bool, attempts: int,
                         timeout: float) -> AtlasError:
        kind = failure.kind
        host = self._host
        what = {
            "refused": f"could not connect to {host}: connection refused",
            "dns": f"could not resolve the host name of {host}",
            "unreachable": f"could not reach {host}: no route to the host or its network",
            "connect_timeout": f"could not connect to {host} within {timeout:g} s (the host did not answer)",
            "connect": f"could not connect to {host}",
            "certificate": f"the TLS certificate of {host} could not be verified (a certificate problem: give the CA "
                           "through REQUESTS_CA_BUNDLE, or set validate_certs: false for a test endpoint only)",
            "tls": f"the TLS handshake with {host} failed",
            "timeout": f"no complete answer from {host} within {timeout:g} s",
            "too_large": f"the answer from {host} is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB; refused",
            "closed": f"the connection to {host} failed or was closed before the whole answer arrived",
        }[kind]
        never_sent = kind in _NEVER_SENT
        timed_out = kind == "timeout"
        transient = kind not in ("certificate", "tls", "too_large")
        ambiguous = not replay_safe and not never_sent
        message = f"{operation}: {what} ({_tries(attempts)})"
        if ambiguous:
            message += "; the request may have been carried out"
        # The exception's own text is left out on purpose: it is not needed and may quote headers.
        return AtlasError(message, operation=operation, transient=transient, ambiguous=ambiguous, timed_out=timed_out,
                          never_sent=never_sent, attempts=attempts)

    def _pause(self, retries: int, retry_after: float | None) -> float:
        step = min(BACKOFF_CEILING, BACKOFF_FIRST * (2 ** retries))
        pause = step / 2 + self._jitter(0, step / 2)
        if retry_after is not None:
            pause = max(pause, min(retry_after, RETRY_AFTER_CEILING))
        return pause

    def _secrets(self) -> list:
        return self._secret_values + ([self._token.value] if self._token else [])

    def _bearer(self, deadline: float | None) -> str:
        now = self._clock()
        if self._token is not None and self._token.fresh(now):
            return self._token.value
        replaced, replaced_shared, rejected = self._token, self._token_shared, self._rejected
        self._rejected = None
        avoid = {value for value in (rejected, replaced.value if replaced else None) if value}
        if self._token_cache is not None:
            token, shared, displaced = self._token_cache.obtain(lambda: self._fetch_token(deadline), now=now, avoid=avoid,
                                                                lock_wait=self._lock_wait(deadline))
        else:
            token, shared, displaced = self._fetch_token(deadline), False, None
        self._on_secret(token.value)  # masked before it is ever sent
        self._token, self._token_shared = token, shared
        # A renewal revokes what it replaced: this run's own token, or the shared one it displaced in the cache
        # (a shared token another run renewed first is that run's to revoke).
        old_tokens = [displaced] + ([replaced] if replaced is not None and not replaced_shared else [])
        revoked = set()
        for old in old_tokens:
            if old is not None and old.value not in revoked and old.value != token.value and old.value != rejected \
                    and old.alive(self._clock()):
                revoked.add(old.value)
                self._on_secret(old.value)
                self._revoke(old.value)
        return self._token.value

    def _fetch_token(self, deadline: float | None) -> BearerToken:
        now = self._clock()
        answer = self._exchange(
            "POST", self.base_url + TOKEN_PATH, "oauth_token", headers={"Accept": "application/json"},
            data={"grant_type": "client_credentials"}, replay_safe=True, deadline=deadline, expect=None,
            token_call=True,
        )
        try:
            token = BearerToken.from_answer(answer, now)
        except TokenAnswerError as error:
            raise AtlasError(f"oauth_token: Atlas answered with a token that cannot be used: {error}",
                             operation="oauth_token") from None
        self._on_secret(token.value)
        return token

    def _lock_wait(self, deadline: float | None) -> float:
        """How long to wait for another run that is fetching the shared token: its whole token call with retries."""
        wait = self.request_timeout * (self.max_retries + 1) + BACKOFF_CEILING
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self._clock()))
        return wait

    # --- giving tokens back -----------------------------------------------------------------

    def release(self, *, shared: bool = False) -> list:
        """Revoke what this client holds at the end of a run: its own token, and with shared also the token it
        shares with other runs through the cache (which is then forgotten). Returns the warnings of failed revokes."""
        tokens = []
        if self._token is not None and (shared or not self._token_shared):
            tokens.append(self._token.value)
        if shared and self._token_cache is not None:
            cached = self._token_cache.take(now=self._clock())
            if cached is not None and cached.value not in tokens:
                self._on_secret(cached.value)
                tokens.append(cached.value)
        self._token, self._token_shared = None, False
        start = len(self.revoke_warnings)
        for value in tokens:
            self._revoke(value)
        return self.revoke_warnings[start:]

    def _revoke(self, value: str) -> bool:
        """POST the token to the revocation endpoint, once, within one request_timeout; a failure is a warning."""
        if not isinstance(self.credentials, ServiceAccount):
            return False
        problem = None
        try:
            # The session's pool gives this its own connection, also in a signal handler during another request.
            status, dummy, dummy = self._send("POST", self.base_url + REVOKE_PATH, self.request_timeout,
                                              headers={"Accept": "application/json"}, query=None,
                                              data={"token": value, "token_type_hint": "access_token"}, auth=self._token_auth)
            if not 200 <= status < 300:
                problem = f"Atlas answered HTTP {status}"
        except _Failure as failure:
            problem = {"timeout": f"no answer within {self.request_timeout:g} s"}.get(failure.kind, "the connection failed")
        if problem:
            self.revoke_warnings.append(f"an access token of the service account could not be revoked ({problem}); Atlas "
                                        "ends it when it expires, within the hour")
            return False
        return True


class _NoRetries:
    """An AtlasClient whose calls are tried once (see AtlasClient.without_retries)."""

    def __init__(self, client: AtlasClient):
        self._client = client

    def call(self, endpoint: Endpoint, params: dict, **kwargs):
        kwargs.setdefault("max_retries", 0)
        return self._client.call(endpoint, params, **kwargs)

    def items(self, endpoint: Endpoint, params: dict, **kwargs):
        return self._client.items(endpoint, params, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


# --- auth that never leaves base_url's host --------------------------------------------------------


class _Bearer(AuthBase):
    """The Authorization header for one request, and only towards base_url's origin.

    Being an auth object also keeps requests from reading ~/.netrc for the request."""

    def __init__(self, token: str, origin: tuple):
        self._token = token
        self._origin = origin

    def __call__(self, request):
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = "Bearer " + self._token
        return request


class _Digest(AuthBase):
    """HTTP digest answered by the client itself: only to challenges of base_url's origin (no request
    goes anywhere else), the nonce kept for the whole run, no response hooks (they would read an
    answer without bounds and follow it elsewhere)."""

    def __init__(self, username: str, password: str, origin: tuple):
        self._digest = HTTPDigestAuth(username, password)
        self._digest.init_per_thread_state()
        self._origin = origin
        self._answered = False  # whether the challenge held has been answered at least once

    def take_challenge(self, header: str) -> bool:
        """Keep a new challenge; whether the request is worth sending again with it."""
        if not header.lower().lstrip().startswith("digest "):
            return False
        challenge = requests.utils.parse_dict_header(header.lstrip()[len("digest "):])
        if not challenge.get("realm") or not challenge.get("nonce"):
            return False
        stale = str(challenge.get("stale", "")).lower() == "true"
        if self._answered and not stale:
            return False  # the credentials themselves were refused
        state = self._digest._thread_local  # pylint: disable=protected-access
        state.chal = challenge
        state.last_nonce = ""
        state.nonce_count = 0
        self._answered = False
        return True

    def __call__(self, request):
        state = self._digest._thread_local  # pylint: disable=protected-access
        if state.chal and _origin(request.url) == self._origin:
            try:
                header = self._digest.build_digest_header(request.method, request.url)
            except (KeyError, ValueError, TypeError):
                header = None
            if header:
                request.headers["Authorization"] = header
                self._answered = True
        return request


# --- sessions and connections whose time is bounded ------------------------------------------------


class _Session(requests.Session if HAS_REQUESTS else object):
    """A session that cannot follow a redirect, whatever a request asks."""

    def __init__(self):
        super().__init__()
        self.max_redirects = 0

    def get_redirect_target(self, resp):  # pylint: disable=unused-argument
        return None


class _Failure(Exception):
    """A request that got no usable HTTP answer; kind says why (see _transport_error)."""

    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(kind)


_NEVER_SENT = frozenset({"refused", "dns", "unreachable", "connect_timeout", "connect", "certificate"})
_CURRENT = threading.local()


class _Watch:
    """Shuts the sockets of one exchange when its time is up: requests' timeout bounds each read,
    not the whole answer, and a server sending a byte now and then would never time out."""

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._connections: list = []
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self):
        _CURRENT.watch = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._done = True
            self._timer.cancel()
        _CURRENT.watch = None
        return False

    def add(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.fired:
                _shut(connection)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            unconnected = [connection for connection in self._connections if not _shut(connection)]
            if unconnected:
                # still connecting when the time was up: shut it as soon as it has a socket
                self._timer = threading.Timer(0.05, self._fire)
                self._timer.daemon = True
                self._timer.start()


def _shut(connection) -> bool:
    """Shut the connection's socket down (the reader wakes up at once); whether it had one."""
    sock = getattr(connection, "sock", None)
    sock = getattr(sock, "socket", sock)  # urllib3's TLS-in-TLS wrapper keeps the socket inside
    if not isinstance(sock, socket.socket):
        return False
    try:
        # the plain socket's shutdown: an SSLSocket's own would tear down its TLS state under the reader
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
    return True


_WATCHED_POOLS: dict = {}


def _watched(pool_class):
    """pool_class (a urllib3 connection pool) whose connections register with the current _Watch."""
    if pool_class in _WATCHED_POOLS.values():
        return pool_class
    if pool_class in _WATCHED_POOLS:
        return _WATCHED_POOLS[pool_class]

    class Watched(pool_class):
        def _get_conn(self, timeout=None):
            connection = super()._get_conn(timeout=timeout)
            watch = getattr(_CURRENT, "watch", None)
            if watch is not None:
                watch.add(connection)
            return connection

    Watched.__name__ = "Watched" + pool_class.__name__
    _WATCHED_POOLS[pool_class] = Watched
    return Watched


def _watch_pools(manager) -> None:
    """Make a urllib3 pool manager (plain, proxy or SOCKS) create watched pools."""
    classes = getattr(manager, "pool_classes_by_scheme", None)
    if isinstance(classes, dict):
        manager.pool_classes_by_scheme = {scheme: _watched(pool_class) for scheme, pool_class in classes.items()}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with connection pools that register each connection with the current _Watch."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _watch_pools(manager)
        return manager


def _read_body(response, watch: _Watch) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared.strip()) > MAX_ANSWER_BYTES:
        raise _Failure("too_large")
    if response.raw is None or getattr(response, "_content_consumed", False):
        content = response.content or b""  # an answer already in memory (transport adapters of tests)
        if len(content) > MAX_ANSWER_BYTES:
            raise _Failure("too_large")
        return content
    content = bytearray()
    for chunk in response.iter_content(_CHUNK):
        if len(content) + len(chunk) > MAX_ANSWER_BYTES:
            raise _Failure("too_large")
        content += chunk
        if watch.fired:
            raise _Failure("timeout")
    return content  # a bytearray: json and decode read it as bytes, without a copy


def _failure_kind(exc: BaseException) -> str:
    """What a transport exception means, from the exceptions requests, urllib3 and the socket wrap inside each other.

    Walks a wrapped first argument, urllib3's `reason` and an explicit cause, never `__context__`:
    that leads out of the transport error into whatever the caller was handling when it happened.
    """
    found = set()
    pending = [exc]
    for dummy in range(32):  # wrapping chains are short; the bound guards against cycles
        if not pending:
            break
        cause = pending.pop()
        name = type(cause).__name__
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in _safe_str(cause):
            return "certificate"
        if isinstance(cause, socket.gaierror) or name == "NameResolutionError":
            found.add("dns")
        elif isinstance(cause, ConnectionRefusedError):
            found.add("refused")
        elif isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            found.add("unreachable")
        elif name in ("ConnectTimeout", "ConnectTimeoutError"):
            found.add("connect_timeout")
        elif name == "NewConnectionError":
            found.add("connect")
        elif isinstance(cause, ssl.SSLError) and name != "SSLEOFError" and "EOF" not in _safe_str(cause):
            found.add("tls")
        elif isinstance(cause, (requests.exceptions.Timeout, socket.timeout)) or name == "ReadTimeoutError":
            found.add("timeout")
        pending += [inner for inner in (cause.args[0] if cause.args else None, getattr(cause, "reason", None), cause.__cause__)
                    if isinstance(inner, BaseException)]
    for kind in ("dns", "refused", "unreachable", "connect_timeout", "connect", "tls", "timeout"):
        if kind in found:
            return kind
    return "closed"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:500]
    except Exception:  # pylint: disable=broad-except
        return ""


def _tries(attempts: int) -> str:
    return "1 try" if attempts == 1 else f"{attempts} tries"


def _checked_base_url(base_url) -> str:
    if not isinstance(base_url, str):
        raise ValueError("base_url must be a string such as https://cloud.mongodb.com")
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:
        parts = port = None
    if parts is not None and "@" in parts.netloc:
        # never quoted: the part before @ is a user name and password
        raise ValueError("base_url must not hold a user name or password (user:password@): give the credentials "
                         "through the module's credential options")
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or base_url.endswith("?") or base_url.endswith("#") or port == 0 \
            or any(ord(char) <= 32 or ord(char) == 127 for char in base_url):
        raise ValueError(f"base_url must be an http(s) URL such as https://cloud.mongodb.com, without a query, got {shown(base_url)}")
    return base_url.rstrip("/")


def _origin(url: str) -> tuple:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        return (parts.scheme.lower(), (parts.hostname or "").lower(), port)
    except ValueError:
        return ("", "", None)


def _location_host(location: str, own_host: str) -> str:
    """The host (and port) a Location header points to, never its path or query; own_host when relative."""
    try:
        parts = urlsplit(location.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "an unreadable location"
    if not host:
        return own_host if location else ""
    shown_host = "".join(char for char in host if char.isalnum() or char in ".-_:[]")[:100]
    return f"{shown_host}:{port}" if port else shown_host


def parse_retry_after(value, now: float) -> float | None:
    """Seconds a Retry-After header asks for, at most RETRY_AFTER_CEILING; None when absent or unreadable.

    Only ASCII digits (delay-seconds) or an HTTP date are read; now is the wall-clock time in seconds.
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # more digits than a 300 s ceiling needs are not even converted
        digits = value.lstrip("0") or "0"
        return RETRY_AFTER_CEILING if len(digits) > 6 else min(float(digits), RETRY_AFTER_CEILING)
    if not value or len(value) > 64 or not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - now
    except (TypeError, ValueError, OverflowError, IndexError, OSError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_CEILING)


def _parse_json(content: bytes, unusable, constants: bool = False):
    """The JSON of an answer; NaN and Infinity only when constants (token answers: the field check names them)."""
    try:
        answer = json.loads(content, parse_constant=float if constants else _refuse_constant)
    except RecursionError:
        raise unusable(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise unusable("a body that is not JSON") from None
    if _too_deep(answer):
        raise unusable(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return answer


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _too_deep(value) -> bool:
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(current, dict):
            pending.extend((inner, depth + 1) for inner in current.values() if isinstance(inner, (dict, list)))
        elif isinstance(current, list):
            pending.extend((inner, depth + 1) for inner in current if isinstance(inner, (dict, list)))
    return False


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _json_type_name(expected) -> str:
    return {dict: "an object", list: "an array"}.get(expected, getattr(expected, "__name__", "another type"))


def _json_or_none(content: bytes):
    if not content:
        return None
    try:
        answer = json.loads(content, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    return None if _too_deep(answer) else answer


def _page_results(answer, operation: str) -> list:
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise AtlasError(f"Atlas answered {operation} with something that is not a list page (no results list)",
                         operation=operation)
    for item in results:
        if not isinstance(item, dict):
            raise AtlasError(f"Atlas answered {operation} with a list item that is a JSON {_json_type(item)}, not an object",
                             operation=operation)
    return results


def _more_after(answer: dict, results: list, received: int) -> bool:
    """Whether a page says more follow: a `next` link, or a totalCount above what came so far;
    without links and count, a full page."""
    links = answer.get("links")
    total = answer.get("totalCount")
    has_links = isinstance(links, list)
    has_total = isinstance(total, int) and not isinstance(total, bool)
    if has_links and any(isinstance(link, dict) and link.get("rel") == "next" for link in links):
        return True
    if has_total and received < total:
        return True
    if not has_links and not has_total:
        return len(results) >= PAGE_SIZE
    return False


def _item_key(item: dict) -> object:
    identifier = item.get("id")
    if isinstance(identifier, (str, int)) and not isinstance(identifier, bool):
        return ("id", identifier)
    return ("item", json.dumps(item, sort_keys=True, default=str))
