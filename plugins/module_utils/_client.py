# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for the Atlas Admin API v2 restore-job and snapshot operations.

It knows nothing of Ansible: one requests session, digest or OAuth auth, retries with backoff,
pagination, and AtlasError for everything that goes wrong.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import email.utils
import random
import time
import traceback
from urllib.parse import urlsplit

from ansible_collections.atlasops.backup.plugins.module_utils._auth import TOKEN_PATH, ApiKey, BearerToken, ServiceAccount
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import Endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError, api_error
from ansible_collections.atlasops.backup.plugins.module_utils._validation import shown

try:
    import requests
    from requests.auth import HTTPBasicAuth, HTTPDigestAuth
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

COLLECTION_VERSION = "0.1.0"
PAGE_SIZE = 500
# Never follow more pages than this, whatever the server claims: 5 million items.
MAX_PAGES = 10000
BACKOFF_FIRST = 1.0
BACKOFF_CEILING = 60.0


class AtlasClient:
    """Calls Atlas operations described by Endpoint rows.

    sleep, clock and jitter are injectable so that tests run without real pauses.
    """

    def __init__(self, base_url: str, credentials: ApiKey | ServiceAccount, *, request_timeout: float = 30.0,
                 max_retries: int = 5, validate_certs: bool = True, sleep=time.sleep, clock=time.monotonic,
                 jitter=random.uniform):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"base_url must be an http(s) URL such as https://cloud.mongodb.com, got {shown(base_url)}")
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._token: BearerToken | None = None
        self.session = requests.Session()
        self.session.verify = validate_certs
        self.session.headers["User-Agent"] = f"atlasops.backup/{COLLECTION_VERSION} python-requests/{requests.__version__}"
        if isinstance(credentials, ApiKey):
            # The session keeps the digest nonce, so one 401 challenge serves the whole module run.
            self.session.auth = HTTPDigestAuth(credentials.public_key, credentials.private_key)

    # --- operations -------------------------------------------------------------------------

    def call(self, endpoint: Endpoint, params: dict, *, query: dict | None = None, body: dict | None = None,
             deadline: float | None = None):
        """One operation; returns the decoded JSON answer (None when there is no body).

        A POST is sent once: a lost answer raises AtlasError(ambiguous=True) instead of a blind retry.
        """
        url = self.base_url + endpoint.path(params)
        headers = {"Accept": endpoint.media_type}
        if body is not None:
            headers["Content-Type"] = endpoint.media_type
        return self._exchange(endpoint.method, url, endpoint.operation_id, headers=headers, query=query, json_body=body,
                              replay_safe=endpoint.method != "POST", deadline=deadline,
                              cluster_type=endpoint.cluster_type, role=endpoint.role)

    def items(self, endpoint: Endpoint, params: dict, *, query: dict | None = None, deadline: float | None = None):
        """Every item of a list operation, page after page, without duplicates (a generator).

        Stops at the last page (totalCount reached, no `next` link, a short or empty page) and on a page
        that brings nothing new, so an inconsistent server cannot keep it looping.
        """
        if not endpoint.paginated:
            yield from _results(self.call(endpoint, params, query=query, deadline=deadline))
            return
        seen: set = set()
        for page_number in range(1, MAX_PAGES + 1):
            page_query = dict(query or {}, itemsPerPage=PAGE_SIZE, pageNum=page_number, includeCount="true")
            answer = self.call(endpoint, params, query=page_query, deadline=deadline)
            results = _results(answer)
            fresh = [item for item in results if _item_key(item) not in seen]
            seen.update(_item_key(item) for item in fresh)
            yield from fresh
            total = answer.get("totalCount") if isinstance(answer, dict) else None
            links = answer.get("links") if isinstance(answer, dict) else None
            last_page = (
                len(results) < PAGE_SIZE
                or not fresh
                or (isinstance(total, int) and page_number * PAGE_SIZE >= total)
                or (isinstance(links, list) and not any(isinstance(link, dict) and link.get("rel") == "next" for link in links))
            )
            if last_page:
                return

    def list_all(self, endpoint: Endpoint, params: dict, *, query: dict | None = None, deadline: float | None = None,
                 keep=None) -> list:
        """items() as a list; keep(item) may turn each item into what the caller wants, or None to leave it out."""
        convert = keep or (lambda item: item)
        return [kept for kept in map(convert, self.items(endpoint, params, query=query, deadline=deadline)) if kept is not None]

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

    def _exchange(self, method: str, url: str, operation: str, *, headers: dict, query=None, json_body=None,
                  form=None, auth=None, replay_safe: bool, deadline: float | None, cluster_type: str | None = None,
                  role: str | None = None, token_call: bool = False):
        retries = 0
        renewals = 0  # 401s answered by a fresh token or digest nonce since the last other answer
        while True:
            request_headers = dict(headers)
            if not token_call and isinstance(self.credentials, ServiceAccount):
                request_headers["Authorization"] = "Bearer " + self._bearer(deadline)
            try:
                response = self.session.request(method, url, params=query, json=json_body, data=form, headers=request_headers,
                                                auth=auth, timeout=self.request_timeout)
            except requests.exceptions.RequestException as exc:
                error = self._transport_error(exc, operation, replay_safe)
            else:
                if response.status_code < 400:
                    return _decode(response)
                if response.status_code == 401 and not token_call and renewals < 2 and self._renewable(response):
                    renewals += 1
                    continue
                if response.status_code != 401:
                    renewals = 0
                error = api_error(response.status_code, _json_or_none(response), response.text, operation, role=role,
                                  cluster_type=cluster_type, retry_after=_retry_after(response),
                                  ambiguous=not replay_safe and response.status_code >= 500)
            if not error.transient or error.ambiguous or retries >= self.max_retries:
                raise error
            pause = self._pause(retries, error.retry_after)
            if deadline is not None and self._clock() + pause > deadline:
                raise error
            retries += 1
            self._sleep(pause)

    def _renewable(self, response) -> bool:
        """Whether a 401 asks for fresh credentials rather than other ones: an expired or revoked
        bearer token (fetch a new one), or a stale digest nonce (answer the new challenge)."""
        if isinstance(self.credentials, ServiceAccount):
            self._token = None
            return True
        challenge = response.headers.get("WWW-Authenticate", "")
        return "stale=true" in challenge.replace(" ", "").replace('"', "").lower()

    def _transport_error(self, exc, operation: str, replay_safe: bool) -> AtlasError:
        # A refused or timed-out connect never reached Atlas, so even a POST may be sent again.
        never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or _connection_refused(exc)
        timed_out = isinstance(exc, requests.exceptions.Timeout) and not never_sent
        if timed_out:
            what = f"no answer within request_timeout ({self.request_timeout:g} s)"
        elif never_sent:
            what = "could not connect"
        else:
            what = "the connection failed or was closed before an answer arrived"
        retryable = isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))
        # The exception's own text is left out on purpose: it is not needed and may quote headers.
        return AtlasError(f"{operation} to {urlsplit(self.base_url).netloc}: {what} ({type(exc).__name__})", operation=operation,
                          transient=retryable, ambiguous=retryable and not replay_safe and not never_sent, timed_out=timed_out)

    def _pause(self, retries: int, retry_after: float | None) -> float:
        step = min(BACKOFF_CEILING, BACKOFF_FIRST * (2 ** retries))
        pause = step / 2 + self._jitter(0, step / 2)
        if retry_after is not None:
            pause = max(pause, retry_after)
        return pause

    def _bearer(self, deadline: float | None) -> str:
        now = self._clock()
        if self._token is None or not self._token.fresh(now):
            answer = self._exchange(
                "POST", self.base_url + TOKEN_PATH, "oauth_token", headers={"Accept": "application/json"},
                form={"grant_type": "client_credentials"},
                auth=HTTPBasicAuth(self.credentials.client_id, self.credentials.client_secret),
                replay_safe=True, deadline=deadline, token_call=True,
            )
            if not isinstance(answer, dict) or not answer.get("access_token"):
                raise AtlasError("oauth_token: Atlas answered without an access_token", operation="oauth_token")
            self._token = BearerToken.from_answer(answer, now)
        return self._token.value


def _decode(response):
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise AtlasError(f"Atlas answered HTTP {response.status_code} with a body that is not JSON", status=response.status_code) from None


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _results(answer) -> list:
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        return answer["results"]
    if isinstance(answer, list):
        return answer
    return []


def _item_key(item) -> object:
    if isinstance(item, dict) and item.get("id") is not None:
        return item["id"]
    return repr(item)


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _connection_refused(exc) -> bool:
    """Whether the connection was never made (refused, or the name did not resolve).

    Walks only the exceptions that requests and urllib3 wrap inside each other (a wrapped first
    argument, urllib3's `reason`, an explicit cause), never `__context__`: that leads out of the
    transport error into whatever the caller was handling when it happened.
    """
    pending = [exc]
    for dummy in range(16):  # wrapping chains are short; the bound guards against cycles
        if not pending:
            return False
        cause = pending.pop()
        if isinstance(cause, ConnectionRefusedError) or type(cause).__name__ in ("NewConnectionError", "NameResolutionError"):
            return True
        pending += [inner for inner in (cause.args[0] if cause.args else None, getattr(cause, "reason", None), cause.__cause__)
                    if isinstance(inner, BaseException)]
    return False
