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
from .state import State, StateError
from .util import HEX24, CLUSTER_NAME, ApiError, api_error_body

TOKEN_PATH = "/api/oauth/token"
REVOKE_PATH = "/api/oauth/revoke"

BUILTIN_DEFAULTS = {
    "job_seconds": 3.0,
    "token_ttl": 3600.0,
    "nonce_ttl": 1800.0,
    "rate_limit": 1000,
    "fault_seed": None,
    "api_keys": [{"public_key": DEFAULT_PUBLIC_KEY, "private_key": DEFAULT_PRIVATE_KEY}],
    "service_accounts": [{"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}],
}


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
        self._log_lock = threading.Lock()
        self.log = []
        self.seq = 0
        self.violations = []
        self._rate = {}
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
            self._rate = {}

    def configure(self, changes: dict):
        allowed = set(BUILTIN_DEFAULTS)
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise StateError("unknown config keys: %s" % ", ".join(unknown))
        for key in ("job_seconds", "token_ttl", "nonce_ttl"):
            if key in changes:
                value = float(changes[key])
                if value < 0 or (key != "job_seconds" and value <= 0):
                    raise StateError("%s must be positive" % key)
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

    def rate_headers(self, principal):
        limit = int(self.config.get("rate_limit") or 1000)
        now = time.time()
        with self._log_lock:
            window = self._rate.get(principal)
            if window is None or now - window[0] >= 60.0:
                window = [now, 0]
                self._rate[principal] = window
            window[1] += 1
            remaining = max(0, limit - window[1])
        return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining)}


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

    # pylint: disable=invalid-name
    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()
    # pylint: enable=invalid-name

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _base(self) -> str:
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return "http://%s" % host

    def _send(self, response: Response, pretty=False, envelope=False):
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
                self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
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
        rate = app.rate_headers(auth.principal or "anonymous")
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
            response = self._process(route, params, exists, path, query, raw_body, entry)
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
        if action in ("status", "expire_token"):
            injected = _fault_response(rule, fault_headers) if action == "status" else expired()
            self._finish(entry, injected, flags, check=check)
            return
        if action == "delay" and rule.delay_before_processing:
            time.sleep(rule.delay_seconds)
        response = process()
        if action == "drop_after":
            self._record(entry, response, check)
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

    def _process(self, route, params, exists, path, query, raw_body, entry) -> Response:
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
        if not accept_matches(self.headers.get("Accept"), route.media_type):
            return error_response(ApiError(406, "INVALID_VERSION",
                                           "Invalid Accept header %r: this resource is available as %s only."
                                           % (self.headers.get("Accept"), route.media_type)))
        has_body = bool(raw_body.strip())
        if has_body and route.method in ("POST", "PUT", "PATCH"):
            content_type = media_type_of(self.headers.get("Content-Type"))
            if content_type not in (route.media_type, "application/json"):
                detail = "Unsupported Content-Type %r; send %s." % (self.headers.get("Content-Type"), route.media_type)
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
        ctx = Ctx(method, path, decoded, {k: v[-1] for k, v in query.items()}, body, self._base() + API_PREFIX)
        try:
            status, result = app.api.call(route, ctx)
        except ApiError as error:
            return error_response(error)
        if status == 204:
            return Response(204, None)
        return Response(status, result, content_type=route.media_type)

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
            token, ttl = app.auth.issue_token(client_id)
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
    headers = {}
    if rule.status == 429:
        headers.update(rate_headers)
        headers["RateLimit-Remaining"] = "0"
    if rule.retry_after is not None:
        headers["Retry-After"] = str(int(rule.retry_after)) if float(rule.retry_after).is_integer() else str(rule.retry_after)
    return Response(rule.status, api_error_body(rule.status, rule.error_code, detail), headers)


# ---------------------------------------------------------------------------------------------------
# admin API


def admin_call(app: EmulatorApp, method, path, query, body, base):  # noqa: C901 - a flat dispatch table
    """Handle ``/_emulator/<path>``; return (status, JSON-able result)."""
    parts = path.split("/") if path else []
    state = app.state
    if parts == ["health"] and method == "GET":
        return 200, {"ok": True, "spec": str(app.contract.path) if app.contract else None,
                     "quirks": list(app.contract.quirks) if app.contract else [], "uptime": time.time() - app.started}
    if parts == ["reset"] and method == "POST":
        app.reset()
        return 200, {"ok": True}
    if parts == ["config"]:
        if method == "GET":
            return 200, app.public_config()
        if method == "POST":
            return 200, app.configure(dict(body))
    if parts == ["scenario"] and method == "POST":
        name = body.get("name")
        scenarios.load(app, name, job_seconds=body.get("job_seconds"))
        return 200, {"ok": True, "name": name, "project_id": scenarios.DEMO_PROJECT_ID if name == "demo" else None}
    if parts == ["projects"]:
        if method == "POST":
            project = state.add_project(body.get("id"))
            return 200, {"id": project.id}
        if method == "GET":
            with state.lock:
                return 200, {"results": [{"id": p.id, "clusters": sorted(p.clusters)} for p in state.projects.values()]}
    if parts == ["clusters"]:
        if method == "POST":
            cluster = state.add_cluster(body["project_id"], body["name"], body.get("type", "dedicated"), body.get("sharded", False),
                                        body.get("job_seconds"), body.get("job_outcome"))
            return 200, cluster.as_dict()
        if method == "GET":
            with state.lock:
                return 200, {"results": [c.as_dict() for p in state.projects.values() for c in p.clusters.values()]}
    if parts == ["snapshots"] and method == "POST":
        cluster, created = state.add_snapshots(body["project_id"], body["cluster_name"], body.get("snapshots"),
                                               body.get("count"), body.get("every_hours"), body.get("newest"))
        return 200, {"ids": [s.id for s in created],
                     "snapshots": [views.render_snapshot(base, cluster, s) for s in created]}
    if parts == ["restore_jobs"]:
        if method == "POST":
            fields = dict(body)
            project_id = fields.pop("project_id")
            cluster_name = fields.pop("cluster_name")
            allowed = {"count", "delivery_type", "snapshot_id", "target_cluster_name", "target_project_id", "state",
                       "created_at", "job_seconds", "point_in_time_utc_seconds", "oplog_ts", "oplog_inc"}
            unknown = sorted(set(fields) - allowed)
            if unknown:
                raise StateError("unknown restore job fields: %s" % ", ".join(unknown))
            ids = state.seed_jobs(project_id, cluster_name, default_seconds=float(app.config.get("job_seconds", 3.0)), **fields)
            return 200, {"ids": ids}
        if method == "GET":
            with state.lock:
                cluster = state.cluster(query.get("project_id"), query.get("cluster_name"))
                now = time.time()
                results = [views.render_job(base, job, now) for job in cluster.jobs]
            return 200, {"results": results, "totalCount": len(results)}
    if len(parts) == 3 and parts[0] == "restore_jobs" and parts[2] == "state" and method == "POST":
        job = state.set_job_state(parts[1], body.get("state"))
        with state.lock:
            return 200, views.render_job(base, job)
    if len(parts) == 2 and parts[0] == "restore_jobs" and method == "GET":
        with state.lock:
            job = state.jobs.get(parts[1])
            if job is None:
                raise StateError("no restore job %s" % parts[1], not_found=True)
            return 200, views.render_job(base, job)
    if parts == ["faults"]:
        if method == "POST":
            if "seed" in body:
                app.faults.set_seed(body["seed"])
            rules = body.get("rules") if "rules" in body else ([body] if set(body) - {"seed"} else [])
            return 200, {"ids": app.faults.add(rules)}
        if method == "GET":
            return 200, app.faults.snapshot()
        if method == "DELETE":
            app.faults.clear(app.config.get("fault_seed"))
            return 200, {"ok": True}
    if parts == ["requests"]:
        if method == "GET":
            since = query.get("since")
            return 200, {"results": app.requests_since(int(since) if since is not None else None)}
        if method == "DELETE":
            app.clear_log()
            return 200, {"ok": True}
    if parts == ["violations"]:
        if method == "GET":
            with app._log_lock:  # pylint: disable=protected-access
                return 200, {"results": list(app.violations)}
        if method == "DELETE":
            with app._log_lock:  # pylint: disable=protected-access
                app.violations = []
            return 200, {"ok": True}
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
