"""Contract checks against the official OpenAPI subset of the Atlas Admin API v2.

The spec file is loaded at run time (never copied into the repository). Three upstream data quirks are
worked around in memory, exactly as ``shared/atlas-openapi/README.md`` prescribes:

1. the ``\\p{L}\\p{N}`` pattern of flex ``targetDeploymentItemName`` is checked with an equivalent Python
   pattern (``\\w`` plus the listed punctuation; ``_`` is in the class anyway);
2. the double-escaped pattern of the legacy ``BackupRestoreJob.oplogTs`` is skipped;
3. the ``minimum`` of ``ApiBSONTimestampView.increment`` is skipped.

Answers whose status the operation does not declare are checked for the ``ApiError`` shape only; a 204
answer has no body to check.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

SPEC_FILENAME = "atlas-restore-subset.yaml"
SPEC_ENV = "ATLAS_OPENAPI_SPEC"
API_PREFIX = "/api/atlas/v2"

_PL_PN = "\\p{L}\\p{N}"
_DOUBLE_ESCAPE = "\\\\d"


def repo_root() -> Path:
    """tests/emulator/atlas_emulator/contract.py -> the repository (collection) root."""
    return Path(__file__).resolve().parents[3]


def find_spec(explicit=None):
    """Locate ``atlas-restore-subset.yaml``; return a Path or None.

    Order: ``explicit`` (a file or a directory holding the file), the ``ATLAS_OPENAPI_SPEC`` environment
    variable (same), then ``../shared/atlas-openapi/`` beside the repository root or any of its parents.
    """
    for candidate in (explicit, os.environ.get(SPEC_ENV)):
        if candidate:
            found = _as_spec_file(Path(candidate))
            if found is not None:
                return found
    root = repo_root()
    for directory in [root] + list(root.parents):
        found = _as_spec_file(directory.parent / "shared" / "atlas-openapi")
        if found is not None:
            return found
        if directory.parent == directory:
            break
    return None


def spec_file(path):
    """``path`` (the spec file, or a directory holding it) -> the resolved file, or None."""
    return _as_spec_file(Path(path))


def _as_spec_file(path: Path):
    try:
        if path.is_file():
            return path.resolve()
        if path.is_dir() and (path / SPEC_FILENAME).is_file():
            return (path / SPEC_FILENAME).resolve()
    except OSError:
        return None
    return None


def media_type_of(value) -> str:
    """``application/vnd.atlas.2023-01-01+json; charset=utf-8`` -> the bare, lower-cased media type."""
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()


def accept_matches(accept_header, media_type: str) -> bool:
    """True when one of the comma-separated entries of ``Accept`` is exactly ``media_type``."""
    if not accept_header:
        return False
    return any(media_type_of(part) == media_type for part in accept_header.split(","))


# ---------------------------------------------------------------------------------------------------
# validators


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PATTERN_CACHE = {}


def _compiled(pattern: str):
    regex = _PATTERN_CACHE.get(pattern)
    if regex is None:
        regex = re.compile(pattern)
        _PATTERN_CACHE[pattern] = regex
    return regex


def _build_validator_classes():
    """(read class, write class, format checker), or raise ImportError."""
    from jsonschema import FormatChecker  # pylint: disable=import-outside-toplevel
    from jsonschema.exceptions import ValidationError  # pylint: disable=import-outside-toplevel
    from jsonschema.validators import extend  # pylint: disable=import-outside-toplevel
    import openapi_schema_validator as osv  # pylint: disable=import-outside-toplevel

    def python_pattern(validator, pattern, instance, schema):  # pylint: disable=unused-argument
        # Python ``re`` semantics regardless of whether the optional ECMA engine is installed
        if isinstance(instance, str) and not _compiled(pattern).search(instance):
            yield ValidationError("%r does not match %r" % (instance, pattern))

    checker = FormatChecker(formats=())
    base = osv.oas30_format_checker
    for name in ("int32", "int64", "float", "double", "byte", "binary", "password"):
        if name in base.checkers:
            func, raises = base.checkers[name]
            checker.checks(name, raises)(func)

    @checker.checks("date-time")
    def is_date_time(instance):  # pylint: disable=unused-variable
        return not isinstance(instance, str) or bool(_DATE_TIME.match(instance))

    @checker.checks("uuid")
    def is_uuid(instance):  # pylint: disable=unused-variable
        return not isinstance(instance, str) or bool(_UUID.match(instance))

    read_cls = extend(osv.OAS30ReadValidator, {"pattern": python_pattern})
    write_cls = extend(osv.OAS30WriteValidator, {"pattern": python_pattern})
    plain_cls = extend(osv.OAS30Validator, {"pattern": python_pattern})
    return read_cls, write_cls, plain_cls, checker


def _error_path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return "/".join(parts) if parts else "(root)"


# A compiled fast path. jsonschema's generic machinery costs ~0.1 ms per object, too slow for 500-item
# pages; the subset only uses a handful of keywords, so they are compiled into closures here. Whenever the
# fast path finds a problem (or meets a keyword it does not know), the library validator is run too and
# its messages are the ones reported, so the library stays the reference.

_ANNOTATIONS = frozenset(("description", "example", "externalDocs", "title", "default", "deprecated", "xml"))
_COMPILED_KEYWORDS = frozenset(("type", "nullable", "properties", "required", "items", "enum", "pattern", "minimum",
                                "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                                "minItems", "maxItems", "format", "readOnly", "writeOnly", "additionalProperties"))


class _Unsupported(Exception):
    pass


def _is_type(kind):
    if kind == "string":
        return lambda v: isinstance(v, str)
    if kind == "integer":
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if kind == "number":
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "boolean":
        return lambda v: isinstance(v, bool)
    if kind == "array":
        return lambda v: isinstance(v, list)
    if kind == "object":
        return lambda v: isinstance(v, dict)
    raise _Unsupported("type %r" % (kind,))


def _compile(schema, mode, formats):  # noqa: C901 - one branch per keyword
    """schema -> fn(instance, path, errors) appending (path, message); mode is read, write or plain."""
    if not isinstance(schema, dict):
        raise _Unsupported("schema is not an object")
    for key in schema:
        if key not in _COMPILED_KEYWORDS and key not in _ANNOTATIONS and not key.startswith("x-"):
            raise _Unsupported(key)
    checks = []
    if schema.get("readOnly") and mode == "write":
        checks.append(lambda v, p, e: e.append((p, "Tried to write read-only property")))
    if schema.get("writeOnly") and mode == "read":
        checks.append(lambda v, p, e: e.append((p, "Tried to read write-only property")))
    kind = schema.get("type")
    if kind is not None:
        is_kind = _is_type(kind)
        nullable = schema.get("nullable") is True

        def check_type(v, p, e, is_kind=is_kind, nullable=nullable, kind=kind):
            if v is None and nullable:
                return
            if not is_kind(v):
                e.append((p, "%r is not of type %r" % (v, kind)))
        checks.append(check_type)
    if "enum" in schema:
        allowed = tuple(schema["enum"])

        def check_enum(v, p, e, allowed=allowed):
            if not any(type(v) is type(a) and v == a for a in allowed):  # pylint: disable=unidiomatic-typecheck
                e.append((p, "%r is not one of %r" % (v, list(allowed))))
        checks.append(check_enum)
    if "pattern" in schema:
        regex = _compiled(schema["pattern"])

        def check_pattern(v, p, e, regex=regex):
            if isinstance(v, str) and not regex.search(v):
                e.append((p, "%r does not match %r" % (v, regex.pattern)))
        checks.append(check_pattern)
    if "format" in schema and schema["format"] in formats.checkers:
        fmt = schema["format"]

        def check_format(v, p, e, fmt=fmt):
            if v is not None and not formats.conforms(v, fmt):
                e.append((p, "%r is not a %r" % (v, fmt)))
        checks.append(check_format)
    for key, op, word in (("minimum", "lt", "less than the minimum of"), ("maximum", "gt", "greater than the maximum of")):
        if key in schema:
            bound = schema[key]
            exclusive = bool(schema.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum"))

            def check_bound(v, p, e, bound=bound, op=op, exclusive=exclusive, word=word):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return
                bad = (v < bound or (exclusive and v == bound)) if op == "lt" else (v > bound or (exclusive and v == bound))
                if bad:
                    e.append((p, "%r is %s %r" % (v, word, bound)))
            checks.append(check_bound)
    for key, is_min, kinds in (("minLength", True, str), ("maxLength", False, str), ("minItems", True, list), ("maxItems", False, list)):
        if key in schema:
            limit = schema[key]

            def check_len(v, p, e, limit=limit, is_min=is_min, kinds=kinds, key=key):
                if isinstance(v, kinds) and ((len(v) < limit) if is_min else (len(v) > limit)):
                    e.append((p, "length of %r violates %s %r" % (v, key, limit)))
            checks.append(check_len)
    if "items" in schema:
        item_check = _compile(schema["items"], mode, formats)

        def check_items(v, p, e, item_check=item_check):
            if isinstance(v, list):
                for index, item in enumerate(v):
                    item_check(item, p + (index,), e)
        checks.append(check_items)
    properties = schema.get("properties") or {}
    if properties:
        compiled = {name: _compile(sub, mode, formats) for name, sub in properties.items()}

        def check_properties(v, p, e, compiled=compiled):
            if isinstance(v, dict):
                for name, value in v.items():
                    fn = compiled.get(name)
                    if fn is not None:
                        fn(value, p + (name,), e)
        checks.append(check_properties)
    if schema.get("required"):
        needed = []
        for name in schema["required"]:
            sub = properties.get(name) or {}
            if mode in ("write", "plain") and sub.get("readOnly"):
                continue
            if mode in ("read", "plain") and sub.get("writeOnly"):
                continue
            needed.append(name)

        def check_required(v, p, e, needed=tuple(needed)):
            if isinstance(v, dict):
                for name in needed:
                    if name not in v:
                        e.append((p, "%r is a required property" % name))
        checks.append(check_required)
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        known = frozenset(properties)
        if extra is False:
            def check_extra(v, p, e, known=known):
                if isinstance(v, dict):
                    unexpected = [k for k in v if k not in known]
                    if unexpected:
                        e.append((p, "Additional properties are not allowed (%s unexpected)" % ", ".join(map(repr, unexpected))))
            checks.append(check_extra)
        elif isinstance(extra, dict):
            extra_check = _compile(extra, mode, formats)

            def check_extra_schema(v, p, e, known=known, extra_check=extra_check):
                if isinstance(v, dict):
                    for k, value in v.items():
                        if k not in known:
                            extra_check(value, p + (k,), e)
            checks.append(check_extra_schema)
    checks = tuple(checks)

    def run(v, p, e):
        for check in checks:
            check(v, p, e)
    return run


class _Checker:
    """Fast compiled check first; the library validator gives the reported messages."""

    def __init__(self, schema, library_validator, mode, formats):
        self.schema = schema
        self.library = library_validator
        try:
            self.fast = _compile(schema, mode, formats)
        except _Unsupported:
            self.fast = None

    def messages(self, instance, prefix=""):
        found = []
        if self.fast is not None:
            self.fast(instance, (), found)
            if not found:
                return []
        messages = ["%s%s: %s" % (prefix, _error_path(err), err.message) for err in self.library.iter_errors(instance)]
        if messages or self.fast is None:
            return messages
        return ["%s%s: %s" % (prefix, "/".join(str(x) for x in path) or "(root)", msg) for path, msg in found]


class _Operation:
    __slots__ = ("operation_id", "method", "template", "regex", "literals", "path_params", "query_params",
                 "media_type", "body_required", "body_validator", "responses")

    def __init__(self):
        self.operation_id = ""
        self.method = ""
        self.template = ""
        self.regex = None
        self.literals = 0
        self.path_params = {}
        self.query_params = {}
        self.media_type = ""
        self.body_required = False
        self.body_validator = None
        self.responses = {}


class Contract:
    """Prepared request/response validators of the spec's operations."""

    def __init__(self, spec_path):
        import yaml  # pylint: disable=import-outside-toplevel

        self.path = Path(spec_path)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(self.path, "rb") as handle:
            spec = yaml.load(handle, Loader=loader)  # nosec B506 - a safe loader
        self._read_cls, self._write_cls, self._plain_cls, self._formats = _build_validator_classes()
        self.quirks = []
        components = copy.deepcopy(spec.get("components") or {})
        self._apply_quirks(components)
        self._components = components
        self._inlined = {}
        self.operations = {}
        self._by_method = {}
        self._api_error = self._plain(self._inline({"$ref": "#/components/schemas/ApiError"}))
        for template, item in (spec.get("paths") or {}).items():
            shared = item.get("parameters") or []
            for method, op_spec in item.items():
                if method.lower() not in ("get", "put", "post", "patch", "delete", "head", "options"):
                    continue
                op = self._prepare(template, method.upper(), op_spec, shared)
                self.operations[op.operation_id] = op
                self._by_method.setdefault(op.method, []).append(op)
        for ops in self._by_method.values():
            ops.sort(key=lambda o: -o.literals)

    # -- preparation ---------------------------------------------------------------------------

    def _apply_quirks(self, components):
        schemas = components.get("schemas") or {}

        def walk(node, where):
            if isinstance(node, dict):
                pattern = node.get("pattern")
                if isinstance(pattern, str) and _PL_PN in pattern and "_" in pattern:
                    node["pattern"] = pattern.replace(_PL_PN, "\\w")
                    self.quirks.append("%s: \\p{L}\\p{N} pattern checked as \\w" % where)
                elif isinstance(pattern, str) and _DOUBLE_ESCAPE in pattern:
                    del node["pattern"]
                    self.quirks.append("%s: double-escaped pattern skipped" % where)
                for key, value in node.items():
                    walk(value, "%s.%s" % (where, key))
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    walk(value, "%s[%d]" % (where, index))

        for name, schema in schemas.items():
            walk(schema, name)
        increment = (schemas.get("ApiBSONTimestampView") or {}).get("properties", {}).get("increment")
        if isinstance(increment, dict) and "minimum" in increment:
            del increment["minimum"]
            self.quirks.append("ApiBSONTimestampView.increment: minimum skipped")

    def _resolve(self, ref: str):
        if not ref.startswith("#/components/"):
            raise ValueError("unsupported $ref %s" % ref)
        node = self._components
        for part in ref[len("#/components/"):].split("/"):
            node = node[part]
        return node

    def _inline(self, node, stack=()):
        """Replace every ``$ref`` by the (shared) inlined copy of its target; the subset has no cycles."""
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in self._inlined:
                    return self._inlined[ref]
                if ref in stack:
                    raise ValueError("recursive $ref %s" % ref)
                result = self._inline(self._resolve(ref), stack + (ref,))
                self._inlined[ref] = result
                return result
            return {key: self._inline(value, stack) for key, value in node.items()}
        if isinstance(node, list):
            return [self._inline(value, stack) for value in node]
        return node

    def _plain(self, schema):
        return self._plain_cls(schema, format_checker=self._formats)

    def _checker(self, schema, mode):
        cls = self._read_cls if mode == "read" else self._write_cls
        return _Checker(schema, cls(schema, format_checker=self._formats), mode, self._formats)

    def _prepare(self, template, method, op_spec, shared):
        op = _Operation()
        op.operation_id = op_spec["operationId"]
        op.method = method
        op.template = template
        parts = template.strip("/").split("/")
        regex = []
        for part in parts:
            if part.startswith("{") and part.endswith("}"):
                regex.append("(?P<%s>[^/]+)" % part[1:-1])
            else:
                regex.append(re.escape(part))
                op.literals += 1
        op.regex = re.compile("^/" + "/".join(regex) + "/?$")
        params = {}
        for param in list(shared) + list(op_spec.get("parameters") or []):
            param = self._inline(param)
            params[(param["name"], param["in"])] = param
        for (name, where), param in params.items():
            schema = param.get("schema") or {}
            entry = (schema, self._plain(schema), bool(param.get("required")))
            if where == "path":
                op.path_params[name] = entry
            elif where == "query":
                op.query_params[name] = entry
        body = op_spec.get("requestBody")
        if body:
            body = self._inline(body)
            op.body_required = bool(body.get("required"))
            content = body.get("content") or {}
            for media_type, media in content.items():
                op.media_type = media_type
                if media.get("schema") is not None:
                    op.body_validator = self._checker(media["schema"], "write")
        for status, response in (op_spec.get("responses") or {}).items():
            response = self._inline(response)
            content = {}
            for media_type, media in (response.get("content") or {}).items():
                schema = media.get("schema") if media else None
                content[media_type] = self._checker(schema, "read") if schema is not None else None
                if str(status).startswith("2") and not op.media_type:
                    op.media_type = media_type
            headers = {}
            for name, header in (response.get("headers") or {}).items():
                headers[name] = (bool(header.get("required")), self._plain(header.get("schema") or {}))
            op.responses[str(status)] = (content, headers)
        return op

    # -- matching ------------------------------------------------------------------------------

    def match(self, method: str, path: str):
        """(operation or None, path parameters, whether the path exists for another method)."""
        if not path.startswith(API_PREFIX):
            return None, {}, False
        for op in self._by_method.get(method.upper(), []):
            found = op.regex.match(path)
            if found:
                return op, found.groupdict(), True
        for other, ops in self._by_method.items():
            if other != method.upper() and any(op.regex.match(path) for op in ops):
                return None, {}, True
        return None, {}, False

    # -- requests ------------------------------------------------------------------------------

    def check_request(self, method, path, query, headers, body_bytes):
        """Return (operation_id or None, [(code, message)]).

        ``query`` maps names to lists of raw strings. Codes: ``route`` (no operation), ``accept``,
        ``content_type_json`` (plain application/json), ``content_type`` (another type), ``path``,
        ``query``, ``body``.
        """
        from urllib.parse import unquote  # pylint: disable=import-outside-toplevel

        op, params, _exists = self.match(method, path)
        if op is None:
            return None, [("route", "no operation of the spec matches %s %s" % (method, path))]
        problems = []
        if not accept_matches(headers.get("Accept"), op.media_type):
            problems.append(("accept", "Accept %r is not the operation's media type %s" % (headers.get("Accept"), op.media_type)))
        for name, raw in params.items():
            schema_entry = op.path_params.get(name)
            if schema_entry is None:
                continue
            for error in schema_entry[1].iter_errors(unquote(raw)):
                problems.append(("path", "path parameter %s: %s" % (name, error.message)))
        for name, values in query.items():
            entry = op.query_params.get(name)
            if entry is None:
                problems.append(("query", "undeclared query parameter %r" % name))
                continue
            if len(values) != 1:
                problems.append(("query", "query parameter %s given %d times" % (name, len(values))))
            value, message = _coerce(values[-1], entry[0])
            if message:
                problems.append(("query", "query parameter %s: %s" % (name, message)))
                continue
            for error in entry[1].iter_errors(value):
                problems.append(("query", "query parameter %s: %s" % (name, error.message)))
        for (name, _schema_entry) in op.query_params.items():
            if _schema_entry[2] and name not in query:
                problems.append(("query", "required query parameter %s is missing" % name))
        has_body = bool(body_bytes and body_bytes.strip())
        if op.body_validator is None and not op.body_required:
            if has_body:
                problems.append(("body", "the operation takes no request body"))
            return op.operation_id, problems
        if not has_body:
            if op.body_required:
                problems.append(("body", "the request body is required"))
            return op.operation_id, problems
        content_type = media_type_of(headers.get("Content-Type"))
        if content_type != op.media_type:
            if content_type == "application/json":
                problems.append(("content_type_json", "Content-Type application/json instead of %s" % op.media_type))
            else:
                problems.append(("content_type", "Content-Type %r instead of %s" % (headers.get("Content-Type"), op.media_type)))
        try:
            body = json.loads(body_bytes)
        except ValueError as exc:
            problems.append(("body", "request body is not JSON: %s" % exc))
            return op.operation_id, problems
        if op.body_validator is not None:
            for message in op.body_validator.messages(body, "request body "):
                problems.append(("body", message))
        return op.operation_id, problems

    # -- responses -----------------------------------------------------------------------------

    def check_response(self, operation_id, status: int, headers: dict, body, injected=False):
        """Return a list of messages for one answer (``body`` parsed JSON, or None when empty).

        ``injected``: an answer made up by fault injection, checked for the ApiError shape only.
        """
        op = self.operations.get(operation_id) if operation_id else None
        declared = op.responses.get(str(status)) if op is not None else None
        if declared is None or injected:
            return self._check_api_error_shape(status, body)
        if status == 204:
            return [] if body is None else ["a 204 answer must not have a body"]
        content, header_specs = declared
        problems = []
        lower = {k.lower(): v for k, v in headers.items()}
        for name, (required, validator) in header_specs.items():
            value = lower.get(name.lower())
            if value is None:
                if required or (200 <= status < 300 and name.lower().startswith("ratelimit-")):
                    problems.append("missing header %s" % name)
                continue
            coerced, message = _coerce(value, validator.schema)
            if message:
                problems.append("header %s: %s" % (name, message))
                continue
            for error in validator.iter_errors(coerced):
                problems.append("header %s: %s" % (name, error.message))
        if content:
            content_type = media_type_of(lower.get("content-type"))
            if content_type not in content:
                problems.append("Content-Type %r is not declared (%s)" % (lower.get("content-type"), ", ".join(sorted(content))))
                return problems
            validator = content[content_type]
            if validator is not None:
                if body is None:
                    problems.append("the answer has no body")
                else:
                    problems.extend(validator.messages(body, "response body "))
        return problems

    def _check_api_error_shape(self, status, body):
        if not isinstance(body, dict):
            return ["a %d answer must carry an ApiError body" % status]
        problems = []
        if not isinstance(body.get("error"), int) or isinstance(body.get("error"), bool):
            problems.append("ApiError.error missing or not an integer")
        if not isinstance(body.get("errorCode"), str):
            problems.append("ApiError.errorCode missing or not a string")
        if not isinstance(body.get("detail"), str):
            problems.append("ApiError.detail missing or not a string")
        return problems

    def summary(self) -> dict:
        return {"path": str(self.path), "operations": len(self.operations), "quirks": list(self.quirks)}


_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def _coerce(raw, schema):
    """A query/header string -> (value, error message or None) according to the schema type."""
    kind = (schema or {}).get("type")
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true", None
        return None, "%r is not a boolean" % raw
    if kind == "integer":
        if _INT.match(raw.strip()):
            return int(raw.strip()), None
        return None, "%r is not an integer" % raw
    if kind == "number":
        if _NUM.match(raw.strip()):
            return float(raw.strip()), None
        return None, "%r is not a number" % raw
    return raw, None


def load_contract(spec_path):
    """A ready :class:`Contract`, or raise (ImportError when the validator packages are missing)."""
    return Contract(spec_path)
