"""HTTP front end: authentication, faults, contract checks, request log and the /_emulator admin API."""

from __future__ import annotations

import copy
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import scenarios, views
from .api import API_PREFIX, AtlasApi, Ctx, match_route
from .auth import (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY, Authenticator,
                   parse_basic)
from .contract import accept_matches, media_type_of
from .faults import TOKEN_OPERATION, FaultEngine, FaultError
from .state import CLUSTER_ATTRIBUTES, State, StateError
from .util import HEX24, CLUSTER_NAME, ApiError, api_error_body

MAX_BODY = 16 * 1024 * 1024
TOKEN_PATH = "/api/oauth/token"
REVOKE_PATH = "/api/oauth/revoke"
TOKEN_LIMIT_TEXT = ("Access Token limit reached. Please use the existing Access Tokens or create a new "
                    "Service Account.")

BUILTIN_DEFAULTS = {
    "job_seconds": 3.0,
    "token_ttl": 3600.0,
    "nonce_ttl": 1800.0,
    "rate_limit": 1000,  # no longer used: the token buckets of rate_limits give RateLimit-Limit
    "fault_seed": None,
    # Atlas's published limits: per project and endpoint set, [capacity, refill per rate_period seconds]
    "rate_limits": {"Cloud Backups": [1200, 500], "Flex Restore Jobs": [1200, 500], "Flex Snapshots": [1200, 500],
                    "Clusters": [10000, 5000]},
    "rate_period": 60.0,
    "token_requests_per_minute": 50,  # per client id
    "max_active_tokens": 100,  # per service account
    "max_items_per_page": 500,  # a page holds at most this many items, whatever itemsPerPage asks
    "list_order": {"dedicated": "oldest", "serverless": "oldest", "legacy": "oldest", "flex": "newest",
                   "snapshots": "oldest"},
    "flex_pending_seconds": None,  # None: a fifth of the job's duration
    "flex_queued_seconds": None,  # None: a fifth of the job's duration
    "snapshot_seconds": 3.0,  # an on-demand snapshot: queued, inProgress, completed over this time
    "cluster_idle_seconds": 2.0,  # a restore's target returns to IDLE this long after the job ends
    "serverless_endpoints": "served",  # served | gone (410 VERSION_GONE) | not_found (404)
    "expire_automated_after_seconds": None,  # None: finished automated jobs never show expired
    "restore_rule_failures": "refuse",  # refuse (400 at create) | fail_job (the job is created, then fails)
    "api_keys": [{"public_key": DEFAULT_PUBLIC_KEY, "private_key": DEFAULT_PRIVATE_KEY}],
    "service_accounts": [{"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}],
}


# numeric config keys: (type, minimum); _POSITIVE ones must also be above 0
_NUMBERS = {"job_seconds": (float, 0), "token_ttl": (float, 0), "nonce_ttl": (float, 0), "rate_period": (float, 0),
            "token_requests_per_minute": (int, 1), "max_active_tokens": (int, 1), "max_items_per_page": (int, 1),
            "flex_pending_seconds": (float, 0), "flex_queued_seconds": (float, 0), "snapshot_seconds": (float, 0),
            "cluster_idle_seconds": (float, 0), "expire_automated_after_seconds": (float, 0)}
_POSITIVE = ("token_ttl", "nonce_ttl", "rate_period")

# Limits far above anything a functional test needs (--relaxed-limits, Emulator.relax_limits()).
RELAXED_LIMITS = {"rate_limits": {name: [10 ** 6, 10 ** 6] for name in BUILTIN_DEFAULTS["rate_limits"]},
                  "token_requests_per_minute": 10 ** 6, "max_active_tokens": 10 ** 6}


class Response:
    __slots__ = ("status", "body", "headers", "content_type")

    def __init__(self, status, body=None, headers=None, content_type="application/json"):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type


def error_response(error: ApiError) -> Response:
    return Response(error.status, error.body(), error.headers)


class EmulatorApp:
    """Everything the handler threads share."""

    def __init__(self, contract=None, defaults=None, verbose=False):
        self.defaults = copy.deepcopy(BUILTIN_DEFAULTS)
        self.defaults.update(defaults or {})
        self.config = copy.deepcopy(self.defaults)
        self.contract = contract
        self.verbose = verbose
        self.state = State()
        self.auth = Authenticator(self.config)
        self.faults = FaultEngine(self.config.get("fault_seed"))
        self.api = AtlasApi(self.state, self.config)
        views.SETTINGS = self.config
        self._log_lock = threading.Lock()
        self.log = []
        self.seq = 0
        self.violations = []
        self._buckets = {}
        self.limited = {}  # project -> 429 answers from the token buckets
        self._token_calls = {}  # client id -> times of its recent token requests
        self.started = time.time()

    # -- admin helpers ---------------------------------------------------------------------------

    def reset(self):
        self.state.reset()
        self.config.clear()
        self.config.update(copy.deepcopy(self.defaults))
        self.auth.reset()
        self.faults.clear(self.config.get("fault_seed"))
        with self._log_lock:
            self.log = []
            self.violations = []
            self._buckets, self.limited, self._token_calls = {}, {}, {}

    def configure(self, changes: dict):
        allowed = set(BUILTIN_DEFAULTS)
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise StateError("unknown config keys: %s" % ", ".join(unknown))
        for key in ("rate_limits", "list_order"):
            if key in changes:
                if not isinstance(changes[key], dict):
                    raise StateError("%s must be an object" % key)
                changes[key] = dict(self.config[key], **changes[key])
        for key in ("rate_limits", "list_order", "serverless_endpoints"):
            values = changes.get(key)
            if key == "rate_limits" and values and not all(isinstance(v, list) and len(v) == 2 and v[0] > 0 and v[1] > 0
                                                           for v in values.values()):
                raise StateError("rate_limits values must be [capacity, refill] (positive)")
            if key == "list_order" and values and not set(values.values()) <= {"oldest", "newest", "mixed"}:
                raise StateError("list_order values must be oldest, newest or mixed")
            if key == "serverless_endpoints" and values is not None and values not in ("served", "gone", "not_found"):
                raise StateError("serverless_endpoints must be served, gone or not_found")
        if changes.get("restore_rule_failures", "refuse") not in ("refuse", "fail_job"):
            raise StateError("restore_rule_failures must be refuse or fail_job")
        for key, (kind, minimum) in _NUMBERS.items():
            if changes.get(key) is not None:
                value = kind(changes[key])
                if value < minimum or (key in _POSITIVE and value <= 0):
                    raise StateError("%s must be %s %s" % (key, ">" if key in _POSITIVE else ">=", minimum))
                changes[key] = value
        for key, fields in (("api_keys", ("public_key", "private_key")), ("service_accounts", ("client_id", "client_secret"))):
            if key in changes:
                items = changes[key]
                if not isinstance(items, list) or not all(isinstance(i, dict) and all(isinstance(i.get(f), str) for f in fields)
                                                          for i in items):
                    raise StateError("%s must be a list of objects with %s" % (key, " and ".join(fields)))
                changes[key] = [{f: i[f] for f in fields} for i in items]
        self.config.update(changes)
        if "fault_seed" in changes:
            self.faults.set_seed(changes["fault_seed"])
        return self.public_config()

    def public_config(self):
        return copy.deepcopy(self.config)

    def next_entry(self, method, path, query, operation_id, body):
        return {"seq": None, "time": time.time(), "method": method, "path": path, "query": query,
                "operation_id": operation_id, "status": None, "auth": "none", "counted": False, "fault": None, "body": body}

    def append_log(self, entry):
        with self._log_lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)

    def requests_since(self, since=None):
        with self._log_lock:
            if since is None:
                return list(self.log)
            return [e for e in self.log if e["seq"] > since]

    def clear_log(self):
        with self._log_lock:
            self.log = []

    def record_violation(self, kind, operation_id, method, path, status, message):
        violation = {"kind": kind, "operation_id": operation_id, "method": method, "path": path, "status": status,
                     "message": message}
        with self._log_lock:
            self.violations.append(violation)
        sys.stderr.write("CONTRACT VIOLATION %s\n" % json.dumps(violation, sort_keys=True))
        sys.stderr.flush()

    def take_token(self, operation_id, project):
        """Take one token of the project's bucket for this endpoint set: (headers, None) or (headers, 429)."""
        endpoint_set = endpoint_set_of(operation_id)
        capacity, refill = self.config["rate_limits"][endpoint_set]
        period = float(self.config["rate_period"])
        now = time.monotonic()
        with self._log_lock:
            tokens, last = self._buckets.get((endpoint_set, project), (float(capacity), now))
            tokens = min(float(capacity), tokens + (now - last) * refill / period)
            limited = tokens < 1.0
            if limited:
                self.limited[project] = self.limited.get(project, 0) + 1
            else:
                tokens -= 1.0
            self._buckets[(endpoint_set, project)] = (tokens, now)
        headers = {"RateLimit-Limit": str(capacity), "RateLimit-Remaining": str(int(tokens))}
        if not limited:
            return headers, None
        wait = max(1, int(-(-(1.0 - tokens) * period // refill)))
        error = ApiError(429, "RATE_LIMITED", "Rate limit exceeded for %s in project %s." % (endpoint_set, project),
                         parameters=[endpoint_set, project], headers=dict(headers, **{"Retry-After": str(wait)}))
        return headers, error_response(error)

    def token_request_allowed(self, client_id):
        """The token endpoint's per-client rate: (True, 0) or (False, seconds to wait)."""
        now = time.monotonic()
        limit = int(self.config["token_requests_per_minute"])
        with self._log_lock:
            recent = [t for t in self._token_calls.get(client_id, []) if now - t < 60.0][-limit:]
            allowed = len(recent) < limit
            if allowed:
                recent.append(now)
            self._token_calls[client_id] = recent
        return allowed, (0 if allowed else max(1, int(60.0 - (now - recent[0])) + 1))

    def limits(self):
        with self._log_lock:
            buckets = {"%s|%s" % key: round(value[0], 2) for key, value in self._buckets.items()}
            limited = dict(self.limited)
        return {"tokens": self.auth.token_counts(), "rate_limited": limited, "buckets": buckets}


def endpoint_set_of(operation_id):
    """Atlas's rate-limit endpoint set of an operation."""
    if operation_id in ("listGroupClusters", "getGroupCluster", "listGroupFlexClusters", "getGroupFlexCluster"):
        return "Clusters"
    if operation_id and "FlexCluster" in operation_id:
        return "Flex Restore Jobs" if "RestoreJob" in operation_id else "Flex Snapshots"
    return "Cloud Backups"


# ---------------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AtlasEmulator/1.0"
    sys_version = ""

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.app.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def do_GET(self):  # pylint: disable=invalid-name
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    def _read_body(self) -> bytes:
        """The request body, at most MAX_BODY bytes (a chunked body too: every loop here is bounded)."""
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.rfile.read(min(int(self.headers.get("Content-Length") or 0), MAX_BODY))
        chunks, total = [], 0
        for dummy in range(MAX_BODY):
            size = min(int(self.rfile.readline(65537).split(b";", 1)[0].strip() or b"0", 16), MAX_BODY - total)
            if size <= 0:
                break
            chunks.append(self.rfile.read(size))
            total += size
            self.rfile.readline(65537)
        for dummy in range(100):  # the trailer
            if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                break
        return b"".join(chunks)

    def _base(self) -> str:
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return "http://%s" % host

    def _send(self, response: Response, pretty=False, envelope=False, cut=None):
        body = response.body
        if envelope and body is not None:
            if isinstance(body, dict) and "results" in body:
                body = dict(body, status=response.status)
            else:
                body = {"status": response.status, "content": body}
        payload = b""
        if body is not None and response.status != 204:
            payload = json.dumps(body, indent=2 if pretty else None, separators=None if pretty else (",", ":")).encode("utf-8")
        try:
            self.send_response(response.status)
            if response.status != 204:
                self.send_header("Content-Type", response.content_type)
                if cut is not None and cut.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(payload) + (len(payload) // 2 + 1 if cut else 0)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if cut is not None:  # an answer cut off mid-body: half of it, then the connection closes
                half = payload[:len(payload) // 2]
                payload = b"%x\r\n%s\r\n" % (len(half), half) if cut.chunked else half
            # headers and body in one send (no Nagle / delayed-ACK stalls)
            self._headers_buffer.append(b"\r\n")
            if payload and self.command != "HEAD":
                self._headers_buffer.append(payload)
            self.flush_headers()
        except OSError:
            self.close_connection = True

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self):
        try:
            split = urlsplit(self.path)
            path = split.path
            query = parse_qs(split.query, keep_blank_values=True)
            body = self._read_body()
            if path == "/_emulator" or path.startswith("/_emulator/"):
                self._admin(path, query, body)
            elif path in (TOKEN_PATH, REVOKE_PATH):
                self._oauth(path, query, body)
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                self._api(path, query, body)
            elif path.startswith("/api/"):
                entry = self.app.next_entry(self.command, path, _flat(query), None, None)
                response = error_response(ApiError(404, "RESOURCE_NOT_FOUND", "Cannot find resource %s." % path))
                entry["status"] = response.status
                self.app.append_log(entry)
                self._send(response)
            else:
                self._send(Response(404, {"error": "not found", "path": path}))
        except Exception as exc:  # pylint: disable=broad-except
            sys.stderr.write("emulator error on %s %s: %r\n" % (self.command, self.path, exc))
            import traceback  # pylint: disable=import-outside-toplevel
            traceback.print_exc(file=sys.stderr)
            self._send(error_response(ApiError(500, "UNEXPECTED_ERROR", "Emulator error: %s" % exc)))

    # -- the Admin API v2 ------------------------------------------------------------------------

    def _api(self, path, query, raw_body):
        app = self.app
        method = self.command
        route, params, exists = match_route(method, path)
        operation_id = route.operation_id if route else None
        parsed_body = _json_or_none(raw_body)
        entry = app.next_entry(method, path, _flat(query), operation_id, parsed_body)
        auth = app.auth.check(method, self.path, self.headers.get("Authorization"))
        entry["auth"] = auth.kind
        flags = _flags(query)
        if not auth.ok:
            self._finish(entry, self._unauthorized(auth), flags)
            return
        entry["counted"] = True
        rate, limited = app.take_token(operation_id, params.get("groupId") or "-")
        if limited is not None:
            self._finish(entry, limited, flags)
            return
        rule = app.faults.pick(operation_id, method, path)

        def expired():
            if auth.kind == "bearer":
                app.auth.revoke(auth.token)
                auth.detail = "The access token has expired."
            elif auth.nonce:
                app.auth.forget_nonce(auth.nonce)
                auth.stale = True
                auth.detail = "The digest nonce has expired."
            return self._unauthorized(auth)

        def process():
            lag = rule.lag_seconds if rule is not None and rule.action == "lag_list" else 0.0
            response = self._process(route, params, exists, path, query, raw_body, entry, lag)
            for name, value in rate.items():
                response.headers.setdefault(name, value)
            return response

        self._serve(entry, rule, process, expired, flags, rate)

    def _serve(self, entry, rule, process, expired, flags, fault_headers, check=True):
        """Apply the fault rule picked for a request around carrying it out: the one fault lifecycle of
        every endpoint. process() carries the request out and returns its answer; expired() is the 401
        that an expire_token fault turns the request into; check says whether answers are checked
        against the spec."""
        action = rule.action if rule is not None else None
        if action is not None:
            entry["fault"] = action
        if action == "drop_before":
            self.app.append_log(entry)
            self._drop()
            return
        if action == "redirect":
            location = rule.location or ("http://%s%s" % (self.headers.get("Host") or "127.0.0.1", self.path))
            self._finish(entry, Response(rule.status, None, {"Location": location}), flags, check=False)
            return
        if action in ("status", "expire_token"):
            injected = _fault_response(rule, fault_headers) if action == "status" else expired()
            self._finish(entry, injected, flags, check=check)
            return
        if action in ("delay", "late") and (rule.delay_before_processing or action == "late"):
            time.sleep(rule.delay_seconds)
        response = process()
        if action == "drop_after":
            self._record(entry, response, check)
            self._drop()
            return
        if action == "truncate":
            self._record(entry, response, check)
            self._send(response, cut=rule)
            self._drop()
            return
        late = rule.delay_seconds if action == "delay" and not rule.delay_before_processing else 0.0
        self._finish(entry, response, flags, late, check=check)

    def _unauthorized(self, auth) -> Response:
        detail = auth.detail or "You are not authorized for this resource."
        response = error_response(ApiError(401, "UNAUTHORIZED", detail))
        if auth.kind == "bearer":
            response.headers["WWW-Authenticate"] = 'Bearer realm="MMS Public API", error="invalid_token"'
        else:
            response.headers["WWW-Authenticate"] = self.app.auth.challenge(stale=auth.stale)
        return response

    def _process(self, route, params, exists, path, query, raw_body, entry, lag=0.0) -> Response:
        app = self.app
        method = self.command
        contract = app.contract
        if route is None:
            if contract is not None:
                app.record_violation("request", None, method, path, None, "no operation of the spec matches %s %s" % (method, path))
            if exists:
                return error_response(ApiError(405, "METHOD_NOT_ALLOWED", "%s is not allowed on %s." % (method, path)))
            return error_response(ApiError(404, "RESOURCE_NOT_FOUND", "Cannot find resource %s." % path))
        problems = []
        if contract is not None:
            _op, problems = contract.check_request(method, path, query, self.headers, raw_body)
            for _code, message in problems:
                app.record_violation("request", route.operation_id, method, path, None, message)
        accepted = [m for m in route.media_types if accept_matches(self.headers.get("Accept"), m)]
        if not accepted:
            return error_response(ApiError(406, "INVALID_VERSION",
                                           "Invalid Accept header %r: this resource is available as %s only."
                                           % (self.headers.get("Accept"), ", ".join(route.media_types))))
        has_body = bool(raw_body.strip())
        if has_body and route.method in ("POST", "PUT", "PATCH"):
            content_type = media_type_of(self.headers.get("Content-Type"))
            if content_type not in route.media_types + ("application/json",):
                detail = "Unsupported Content-Type %r; send %s." % (self.headers.get("Content-Type"), route.media_types[0])
                return error_response(ApiError(415, "UNSUPPORTED_MEDIA_TYPE", detail))
        decoded = {name: unquote(value) for name, value in params.items()}
        path_error = _path_error(decoded)
        if path_error is not None:
            return error_response(path_error)
        codes = [code for code, _m in problems if code in ("path", "query", "body")]
        if "query" in codes:
            messages = [m for c, m in problems if c == "query"]
            return error_response(ApiError(400, "INVALID_QUERY_PARAMETER", "; ".join(messages)))
        if "body" in codes:
            messages = [m for c, m in problems if c == "body"]
            fields = [(m.split(":", 1)[0].replace("request body ", ""), m.split(":", 1)[-1].strip()) for m in messages]
            return error_response(ApiError(400, "VALIDATION_ERROR", "Invalid request body: %s" % "; ".join(messages),
                                           fields=fields))
        body = None
        if has_body:
            if entry.get("body") is None:
                return error_response(ApiError(400, "INVALID_JSON", "The request body is not valid JSON."))
            body = entry["body"]
        elif route.method == "POST":
            return error_response(ApiError(400, "INVALID_JSON", "The request body is required."))
        ctx = Ctx(method, path, decoded, {k: v[-1] for k, v in query.items()}, body, self._base() + API_PREFIX, lag)
        ctx.media_type = accepted[0]
        gone = app.config["serverless_endpoints"]
        if "Serverless" in route.operation_id and gone != "served":
            if gone == "gone":
                return error_response(ApiError(410, "VERSION_GONE", "The serverless backup endpoints were removed on 2026-01-22."))
            return error_response(ApiError(404, "RESOURCE_NOT_FOUND", "Cannot find resource %s." % path))
        try:
            status, result = app.api.call(route, ctx)
        except ApiError as error:
            return error_response(error)
        if status == 204:
            return Response(204, None)
        return Response(status, result, content_type=ctx.media_type + ";charset=utf-8")

    def _check_response(self, entry, response):
        contract = self.app.contract
        if contract is None:
            return
        headers = dict(response.headers)
        if response.status != 204:
            headers["Content-Type"] = response.content_type
        injected = entry.get("fault") in ("status", "expire_token")
        for message in contract.check_response(entry["operation_id"], response.status, headers, response.body, injected):
            self.app.record_violation("response", entry["operation_id"], entry["method"], entry["path"], response.status, message)

    def _record(self, entry, response, check=True):
        if check:
            self._check_response(entry, response)
        entry["status"] = response.status
        self.app.append_log(entry)

    def _finish(self, entry, response, flags, delay=0.0, check=True):
        """Check the answer, log it, (wait,) send it: the log holds the request as soon as it was processed."""
        self._record(entry, response, check)
        if delay > 0:
            time.sleep(delay)
        self._send(response, pretty=flags.get("pretty", False), envelope=flags.get("envelope", False))

    # -- OAuth -----------------------------------------------------------------------------------

    def _oauth(self, path, query, raw_body):
        app = self.app
        method = self.command
        form = parse_qs(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        operation = TOKEN_OPERATION if path == TOKEN_PATH else "oauth_revoke"
        logged_body = {"grant_type": form["grant_type"][-1]} if "grant_type" in form else None
        entry = app.next_entry(method, path, _flat(query), operation, logged_body)
        header = self.headers.get("Authorization")
        entry["auth"] = "basic" if header and header.lower().startswith("basic ") else "none"
        if method != "POST":
            self._log_send(entry, Response(405, {"error": "invalid_request", "error_description": "use POST"}))
            return
        client_id, secret = parse_basic(header)
        if client_id is None:
            client_id = (form.get("client_id") or [None])[-1]
            secret = (form.get("client_secret") or [None])[-1]
        if not (app.auth.client_ok(client_id, secret) or app.auth.client_ok(unquote(client_id or ""), unquote(secret or ""))):
            self._log_send(entry, Response(401, {"error": "invalid_client", "error_description": "Invalid client credentials."},
                                           {"WWW-Authenticate": 'Basic realm="MMS Public API"'}))
            return
        if path == REVOKE_PATH:
            app.auth.revoke((form.get("token") or [""])[-1])
            self._log_send(entry, Response(200, {}))
            return
        grant = (form.get("grant_type") or [None])[-1]
        if grant != "client_credentials":
            self._log_send(entry, Response(400, {"error": "unsupported_grant_type",
                                                 "error_description": "grant_type must be client_credentials"}))
            return
        rule = app.faults.pick(TOKEN_OPERATION, method, path)

        def issue():
            allowed, wait = app.token_request_allowed(client_id)
            if not allowed:
                return Response(429, {"error": "rate_limited", "error_description": "Too many token requests."},
                                {"Retry-After": str(wait)})
            token, ttl = app.auth.issue_token(client_id, int(app.config["max_active_tokens"]))
            if token is None:
                return Response(403, {"error": "access_denied", "error_description": TOKEN_LIMIT_TEXT})
            return Response(200, {"access_token": token, "token_type": "Bearer", "expires_in": max(1, int(ttl))},
                            {"Cache-Control": "no-store", "Pragma": "no-cache"})

        def expired():
            return Response(401, {"error": "invalid_client", "error_description": "Injected failure."})

        # The token endpoint is not part of the Admin API spec: its answers are not checked against it.
        self._serve(entry, rule, issue, expired, {}, {}, check=False)

    def _log_send(self, entry, response):
        self._finish(entry, response, {}, check=False)

    # -- /_emulator ------------------------------------------------------------------------------

    def _admin(self, path, query, raw_body):
        try:
            body = json.loads(raw_body) if raw_body.strip() else {}
        except ValueError:
            self._send(Response(400, {"error": "the body is not JSON"}))
            return
        try:
            status, result = admin_call(self.app, self.command, path[len("/_emulator"):].strip("/"), _flat(query), body,
                                        self._base() + API_PREFIX)
        except StateError as exc:
            status, result = (404 if exc.not_found else 400), {"error": str(exc)}
        except (FaultError, ValueError, TypeError, KeyError) as exc:
            status, result = 400, {"error": "%s: %s" % (type(exc).__name__, exc)}
        self._send(Response(status, result))


def _flat(query):
    return {name: (values[-1] if len(values) == 1 else values) for name, values in query.items()}


def _flags(query):
    out = {}
    for name in ("pretty", "envelope"):
        values = query.get(name)
        out[name] = bool(values) and values[-1].lower() == "true"
    return out


def _json_or_none(raw):
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _path_error(params):
    group_id = params.get("groupId")
    if group_id is not None and not HEX24.match(group_id):
        return ApiError(400, "INVALID_GROUP_ID", "An invalid group ID %s was specified." % group_id, parameters=[group_id])
    for name in ("clusterName", "name"):
        value = params.get(name)
        if value is not None and not CLUSTER_NAME.match(value):
            return ApiError(400, "INVALID_PATH_PARAMETER", "Invalid cluster name %r." % value, parameters=[value])
    for name in ("restoreJobId", "jobId", "snapshotId"):
        value = params.get(name)
        if value is not None and not HEX24.match(value):
            return ApiError(400, "INVALID_PATH_PARAMETER", "Invalid %s %r: expected 24 hexadecimal digits." % (name, value),
                            parameters=[value])
    return None


def _fault_response(rule, rate_headers) -> Response:
    detail = rule.detail or ("Rate limit exceeded (injected by the emulator)." if rule.status == 429 else
                             "Injected fault %d from the emulator." % rule.status)
    headers = dict(rate_headers, **{"X-Error-Code": rule.error_code})
    if rule.status == 429:
        headers["RateLimit-Remaining"] = "0"
    if rule.retry_after is not None:
        headers["Retry-After"] = str(int(rule.retry_after)) if float(rule.retry_after).is_integer() else str(rule.retry_after)
    return Response(rule.status, api_error_body(rule.status, rule.error_code, detail), headers)


# ---------------------------------------------------------------------------------------------------
# admin API


def _admin_scenario(app, body, _query, _base):
    name = body.get("name")
    scenarios.load(app, name, job_seconds=body.get("job_seconds"))
    return {"ok": True, "name": name, "project_id": scenarios.DEMO_PROJECT_ID if name == "demo" else None}


def _admin_projects(app, _body, _query, _base):
    with app.state.lock:
        return {"results": [{"id": p.id, "org_id": p.org_id, "clusters": sorted(p.clusters)} for p in app.state.projects.values()]}


def _admin_add_cluster(app, body, _query, _base):
    core = ("project_id", "name", "type", "sharded", "job_seconds", "job_outcome")
    unknown = sorted(set(body) - set(core) - set(CLUSTER_ATTRIBUTES))
    if unknown:
        raise StateError("unknown cluster fields: %s" % ", ".join(unknown))
    cluster = app.state.add_cluster(body["project_id"], body["name"], body.get("type", "dedicated"), body.get("sharded", False),
                                    body.get("job_seconds"), body.get("job_outcome"),
                                    {k: v for k, v in body.items() if k in CLUSTER_ATTRIBUTES})
    return cluster.as_dict()


def _admin_clusters(app, _body, _query, _base):
    with app.state.lock:
        return {"results": [c.as_dict() for p in app.state.projects.values() for c in p.clusters.values()]}


def _admin_add_snapshots(app, body, _query, base):
    cluster, created = app.state.add_snapshots(body["project_id"], body["cluster_name"], body.get("snapshots"),
                                               body.get("count"), body.get("every_hours"), body.get("newest"))
    with app.state.lock:
        return {"ids": [s.id for s in created], "snapshots": [views.render_snapshot(base, cluster, s) for s in created]}


_JOB_FIELDS = {"count", "delivery_type", "snapshot_id", "target_cluster_name", "target_project_id", "state", "created_at",
               "job_seconds", "point_in_time_utc_seconds", "oplog_ts", "oplog_inc"}


def _admin_add_jobs(app, body, _query, _base):
    fields = dict(body)
    project_id, cluster_name = fields.pop("project_id"), fields.pop("cluster_name")
    unknown = sorted(set(fields) - _JOB_FIELDS)
    if unknown:
        raise StateError("unknown restore job fields: %s" % ", ".join(unknown))
    return {"ids": app.state.seed_jobs(project_id, cluster_name, default_seconds=float(app.config["job_seconds"]), **fields)}


def _admin_jobs(app, _body, query, base):
    with app.state.lock:
        cluster = app.state.cluster(query.get("project_id"), query.get("cluster_name"))
        now = time.time()
        results = [views.render_job(base, job, now) for job in cluster.jobs]
    return {"results": results, "totalCount": len(results)}


def _admin_job(app, job_id, base):
    with app.state.lock:
        job = app.state.jobs.get(job_id)
        if job is None:
            raise StateError("no restore job %s" % job_id, not_found=True)
        return views.render_job(base, job)


def _admin_add_faults(app, body, _query, _base):
    if "seed" in body:
        app.faults.set_seed(body["seed"])
    rules = body.get("rules") if "rules" in body else ([body] if set(body) - {"seed"} else [])
    return {"ids": app.faults.add(rules)}


def _ok(action):
    def handler(*_args):
        action()
        return {"ok": True}
    return handler


def _clear_violations(app):
    with app._log_lock:  # pylint: disable=protected-access
        app.violations = []


# (method, path below /_emulator) -> handler(app, body, query, base) -> JSON
ADMIN = {
    ("GET", "health"): lambda app, *_: {"ok": True, "spec": str(app.contract.path) if app.contract else None,
                                        "clusters_spec": str(app.contract.clusters_path) if app.contract and
                                        app.contract.clusters_path else None,
                                        "quirks": list(app.contract.quirks) if app.contract else [],
                                        "uptime": time.time() - app.started},
    ("POST", "reset"): lambda app, *_: _ok(app.reset)(),
    ("GET", "config"): lambda app, *_: app.public_config(),
    ("POST", "config"): lambda app, body, *_: app.configure(dict(body)),
    ("POST", "scenario"): _admin_scenario,
    ("POST", "projects"): lambda app, body, *_: {"id": app.state.add_project(body.get("id"), body.get("org_id")).id},
    ("GET", "projects"): _admin_projects,
    ("POST", "clusters"): _admin_add_cluster,
    ("GET", "clusters"): _admin_clusters,
    ("POST", "snapshots"): _admin_add_snapshots,
    ("POST", "restore_jobs"): _admin_add_jobs,
    ("GET", "restore_jobs"): _admin_jobs,
    ("POST", "faults"): _admin_add_faults,
    ("GET", "faults"): lambda app, *_: app.faults.snapshot(),
    ("DELETE", "faults"): lambda app, *_: _ok(lambda: app.faults.clear(app.config.get("fault_seed")))(),
    ("GET", "requests"): lambda app, _body, query, _base: {
        "results": app.requests_since(int(query["since"]) if query.get("since") is not None else None)},
    ("DELETE", "requests"): lambda app, *_: _ok(app.clear_log)(),
    ("GET", "violations"): lambda app, *_: {"results": list(app.violations)},
    ("DELETE", "violations"): lambda app, *_: _ok(lambda: _clear_violations(app))(),
    ("GET", "limits"): lambda app, *_: app.limits(),
}


def admin_call(app: EmulatorApp, method, path, query, body, base):
    """Handle ``/_emulator/<path>``; return (status, JSON-able result)."""
    handler = ADMIN.get((method, path))
    if handler is not None:
        return 200, handler(app, body, query, base)
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "restore_jobs" and parts[2] == "state" and method == "POST":
        app.state.set_job_state(parts[1], body.get("state"))
        return 200, _admin_job(app, parts[1], base)
    if len(parts) == 2 and parts[0] == "restore_jobs" and method == "GET":
        return 200, _admin_job(app, parts[1], base)
    return 404, {"error": "no admin endpoint %s %s" % (method, "/_emulator/" + path)}


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app: EmulatorApp):
        self.app = app
        super().__init__(address, Handler)


def make_server(app: EmulatorApp, host="127.0.0.1", port=0) -> EmulatorServer:
    return EmulatorServer((host, port), app)
