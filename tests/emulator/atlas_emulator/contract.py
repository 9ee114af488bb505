"""Contract checks against the official OpenAPI subsets of the Atlas Admin API v2.

Both files are loaded at run time, never copied: ``atlas-restore-subset.yaml`` and, beside it,
``atlas-clusters-subset.yaml``. Validation is done by openapi-schema-validator (jsonschema), with the
workarounds ``shared/atlas-openapi/README.md`` prescribes:

- the data quirks 1-3 (``\\p{L}\\p{N}`` pattern, double-escaped legacy ``oplogTs``, ``increment`` minimum)
  are worked around in memory;
- the ``$ref`` cycles of the clusters file are broken by dispatching a discriminated ``oneOf`` to the subtype
  its discriminator names (the subtype's ``allOf`` then points at the parent without its ``oneOf``);
- the real-Atlas answers that break the spec (``EXEMPTIONS``) are allowed in answers and nowhere else.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

SPEC_FILENAME = "atlas-restore-subset.yaml"
CLUSTERS_FILENAME = "atlas-clusters-subset.yaml"
SPEC_ENV = "ATLAS_OPENAPI_SPEC"
API_PREFIX = "/api/atlas/v2"
_REF = "#/components/schemas/"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def find_spec(explicit=None):
    """``atlas-restore-subset.yaml``: ``explicit`` (file or folder), ``$ATLAS_OPENAPI_SPEC``, then
    ``../shared/atlas-openapi/`` beside the repository root or one of its parents; a Path or None."""
    for candidate in (explicit, os.environ.get(SPEC_ENV)):
        found = spec_file(candidate) if candidate else None
        if found is not None:
            return found
    root = repo_root()
    for directory in [root] + list(root.parents):
        found = spec_file(directory.parent / "shared" / "atlas-openapi")
        if found is not None:
            return found
    return None


def spec_file(path):
    path = Path(path)
    try:
        if path.is_file():
            return path.resolve()
        if path.is_dir() and (path / SPEC_FILENAME).is_file():
            return (path / SPEC_FILENAME).resolve()
    except OSError:
        pass
    return None


def clusters_file(spec_path):
    """The clusters subset beside the main file, or None."""
    candidate = Path(spec_path).parent / CLUSTERS_FILENAME
    return candidate.resolve() if candidate.is_file() else None


def media_type_of(value) -> str:
    return value.split(";", 1)[0].strip().lower() if value else ""


def accept_matches(accept_header, media_type: str) -> bool:
    return bool(accept_header) and any(media_type_of(part) == media_type for part in accept_header.split(","))


# -- real Atlas answers that break the spec: allowed in answers (the read side) and nowhere else --------

def _ondemand(schemas):
    for schema in schemas.values():
        enum = schema.get("properties", {}).get("frequencyType", {}).get("enum")
        if enum is not None and "ondemand" not in enum:
            enum.append("ondemand")


def _desired_timestamp_nulls(schemas):
    nullable = {"type": "object", "properties": {"date": {"type": "string", "format": "date-time", "nullable": True},
                                                 "increment": {"type": "integer", "nullable": True},
                                                 "time": {"type": "integer", "nullable": True}}}
    for schema in schemas.values():
        if "desiredTimestamp" in schema.get("properties", {}):
            schema["properties"]["desiredTimestamp"] = nullable


def _string_parameters(schemas):
    schemas["ApiError"]["properties"]["parameters"]["items"] = {"type": "string"}


EXEMPTIONS = {
    "frequencyType ondemand": _ondemand,
    "desiredTimestamp with nulls": _desired_timestamp_nulls,
    "ApiError parameters as strings": _string_parameters,
    # databaseEdition on clusters and ;charset=utf-8 need nothing: the spec allows unknown properties, and
    # media types are compared without their parameters.
}


def _message(prefix, error) -> str:
    return "%s%s: %s" % (prefix, "/".join(str(p) for p in error.absolute_path) or "(root)", error.message)


# -- the validators ------------------------------------------------------------------------------------

_PATTERNS = {}


def _compiled(pattern):
    return _PATTERNS.get(pattern) or _PATTERNS.setdefault(pattern, re.compile(pattern))


def _validator_classes():
    """(read, write, plain) validator classes and the format checker; ImportError without the packages."""
    from jsonschema import FormatChecker  # pylint: disable=import-outside-toplevel
    from jsonschema.exceptions import ValidationError  # pylint: disable=import-outside-toplevel
    from jsonschema.validators import extend  # pylint: disable=import-outside-toplevel
    import openapi_schema_validator as osv  # pylint: disable=import-outside-toplevel

    def python_pattern(_validator, pattern, instance, _schema):
        # Python ``re`` semantics whether or not the optional ECMA engine is installed
        if isinstance(instance, str) and not _compiled(pattern).search(instance):
            yield ValidationError("%r does not match %r" % (instance, pattern))

    def dispatch(validator, spec, instance, _schema):
        # a discriminated oneOf, resolved to the subtype the discriminator names
        if isinstance(instance, dict) and spec["property"] in instance:
            target = spec["mapping"].get(instance[spec["property"]])
            if target is None:
                yield ValidationError("%r names no subtype (%s)" % (instance[spec["property"]], ", ".join(spec["mapping"])))
            else:
                yield from validator.descend(instance, {"$ref": target})

    checker = FormatChecker(formats=())
    for name, (func, raises) in osv.oas30_format_checker.checkers.items():
        if name in ("int32", "int64", "float", "double", "byte", "binary", "password", "date-time", "uuid"):
            checker.checks(name, raises)(func)
    keywords = {"pattern": python_pattern, "x-dispatch": dispatch}
    return (extend(osv.OAS30ReadValidator, keywords), extend(osv.OAS30WriteValidator, keywords),
            extend(osv.OAS30Validator, keywords), checker)


def _apply_quirks(schemas, quirks):
    def walk(node, where):
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and "\\p{L}\\p{N}" in pattern:
                node["pattern"] = pattern.replace("\\p{L}\\p{N}", "\\w")
                quirks.append("%s: \\p{L}\\p{N} pattern checked as \\w" % where)
            elif isinstance(pattern, str) and "\\\\d" in pattern:
                del node["pattern"]
                quirks.append("%s: double-escaped pattern skipped" % where)
            for key, value in node.items():
                walk(value, "%s.%s" % (where, key))
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    for name, schema in schemas.items():
        walk(schema, name)
    increment = schemas.get("ApiBSONTimestampView", {}).get("properties", {}).get("increment", {})
    if increment.pop("minimum", None) is not None:
        quirks.append("ApiBSONTimestampView.increment: minimum skipped")


def _untangle(schemas, quirks):
    """Break the discriminator cycles: parent -> x-dispatch -> subtype -> allOf parent__base (no oneOf)."""
    for name in [n for n, s in schemas.items() if "oneOf" in s and "discriminator" in s]:
        parent = schemas[name]
        schemas[name + "__base"] = {k: v for k, v in parent.items() if k not in ("oneOf", "discriminator")}
        mapping = parent["discriminator"]["mapping"]
        parent["x-dispatch"] = {"property": parent["discriminator"]["propertyName"], "mapping": mapping}
        del parent["oneOf"]
        for target in set(mapping.values()):
            for part in schemas[target[len(_REF):]].get("allOf", []):
                if part.get("$ref") == _REF + name:
                    part["$ref"] = _REF + name + "__base"
        quirks.append("%s: oneOf resolved through its discriminator" % name)

    def walk(node, where):
        # the clusters file's other oneOfs: overlapping provider variants and string enums typed as objects
        if isinstance(node, dict):
            if "oneOf" in node and "discriminator" not in node:
                if node.get("type") == "object" and all(alt.get("type") == "string" for alt in node["oneOf"]):
                    del node["type"]
                    quirks.append("%s: string oneOf typed object, type skipped" % where)
                node["anyOf"] = node.pop("oneOf")
                quirks.append("%s: oneOf without discriminator checked as anyOf" % where)
            for key, value in node.items():
                walk(value, "%s.%s" % (where, key))
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    for name, schema in list(schemas.items()):
        walk(schema, name)


# A compiled fast path: the library validates 500-item pages about 4x slower (README, "Validation speed").
# Schemas with keywords it does not know (allOf, anyOf, the discriminator dispatch, a $ref into a cycle)
# are left to the library; whenever the fast path finds a problem, the library's messages are reported.

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
        if key == "x-dispatch" or (key not in _COMPILED_KEYWORDS and key not in _ANNOTATIONS and not key.startswith("x-")):
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
        messages = list(dict.fromkeys(_message(prefix, err) for err in self.library.iter_errors(instance)))
        if messages or self.fast is None:
            return messages
        return ["%s%s: %s" % (prefix, "/".join(str(x) for x in path) or "(root)", msg) for path, msg in found]


class _Operation:
    __slots__ = ("operation_id", "method", "regex", "literals", "path_params", "query_params", "media_types",
                 "body_required", "body", "responses")


class _Side:
    """One file's components as a ``referencing`` registry, with local refs inlined for speed."""

    def __init__(self, uri, components):
        from referencing import Registry, Resource  # pylint: disable=import-outside-toplevel
        from referencing.jsonschema import DRAFT4  # pylint: disable=import-outside-toplevel

        self.uri = uri
        self.components = _absolute(components, uri)
        self.registry = Registry().with_resource(uri, Resource.from_contents({"components": self.components}, DRAFT4))
        self._inlined = {}

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.components
            for part in node["$ref"].split("#/components/", 1)[1].split("/"):
                target = target[part]
            node = target
        return node

    def inline(self, node, stack=()):
        """``$ref``s replaced by their targets; a ref back into a cycle stays (the registry resolves it)."""
        if isinstance(node, list):
            return [self.inline(v, stack) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if ref is None:
            return {k: self.inline(v, stack) for k, v in node.items()}
        ref = self.uri + ref if ref.startswith("#") else ref
        if ref in stack:
            return {"$ref": ref}
        if ref not in self._inlined:
            self._inlined[ref] = self.inline(self.deref({"$ref": ref}), stack + (ref,))
        return self._inlined[ref]


class Contract:
    """Request and response validators of every operation of the subsets."""

    def __init__(self, spec_path, clusters_path=None):
        import yaml  # pylint: disable=import-outside-toplevel

        self.path = Path(spec_path)
        self.clusters_path = Path(clusters_path) if clusters_path else clusters_file(spec_path)
        self.read_cls, self.write_cls, self.plain_cls, self.formats = _validator_classes()
        self.quirks = []
        self.operations = {}
        self._by_method = {}
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for index, path in enumerate(p for p in (self.path, self.clusters_path) if p):
            with open(path, "rb") as handle:
                spec = yaml.load(handle, Loader=loader)  # nosec B506 - a safe loader
            schemas = copy.deepcopy((spec.get("components") or {}).get("schemas") or {})
            _apply_quirks(schemas, self.quirks)
            _untangle(schemas, self.quirks)
            components = dict(spec.get("components") or {}, schemas=schemas)
            answers = copy.deepcopy(components)
            for patch in EXEMPTIONS.values():
                patch(answers["schemas"])
            self._sides = {"write": _Side("urn:atlas-%d-w" % index, components),
                           "read": _Side("urn:atlas-%d-r" % index, answers)}
            if index == 0:
                self._api_error = self._validator({"$ref": _REF + "ApiError"}, "plain")
            for template, item in (spec.get("paths") or {}).items():
                for method, op_spec in item.items():
                    if method in ("get", "put", "post", "patch", "delete"):
                        op = self._prepare(template, method.upper(), op_spec, item.get("parameters") or [])
                        self.operations[op.operation_id] = op
                        self._by_method.setdefault(op.method, []).append(op)
        for ops in self._by_method.values():
            ops.sort(key=lambda o: -o.literals)

    def _validator(self, schema, mode):
        """A checker for a request body ("write"), an answer body ("read") or a parameter ("plain")."""
        side = self._sides["read" if mode == "read" else "write"]
        schema = side.inline(schema)
        cls = {"read": self.read_cls, "write": self.write_cls, "plain": self.plain_cls}[mode]
        library = cls(schema, registry=side.registry, format_checker=self.formats)
        return library if mode == "plain" else _Checker(schema, library, mode, self.formats)

    def _deref(self, node):
        return self._sides["write"].deref(node)

    def _prepare(self, template, method, op_spec, shared):
        op = _Operation()
        op.operation_id, op.method, op.literals = op_spec["operationId"], method, 0
        regex = []
        for part in template.strip("/").split("/"):
            if part.startswith("{"):
                regex.append("(?P<%s>[^/]+)" % part[1:-1])
            else:
                regex.append(re.escape(part))
                op.literals += 1
        op.regex = re.compile("^/" + "/".join(regex) + "/?$")
        op.path_params, op.query_params = {}, {}
        for param in [self._deref(p) for p in list(shared) + list(op_spec.get("parameters") or [])]:
            schema = self._deref(param.get("schema") or {})
            entry = (schema, self._validator(schema, "plain"), bool(param.get("required")))
            (op.path_params if param["in"] == "path" else op.query_params if param["in"] == "query" else {})[param["name"]] = entry
        body = self._deref(op_spec.get("requestBody") or {})
        op.body_required, op.body, op.media_types = bool(body.get("required")), {}, []
        for media_type, media in (body.get("content") or {}).items():
            op.body[media_type] = self._validator(media["schema"], "write") if media.get("schema") else None
        op.responses = {}
        for status, response in (op_spec.get("responses") or {}).items():
            response = self._deref(response)
            content = {}
            for media_type, media in (response.get("content") or {}).items():
                content[media_type] = self._validator(media["schema"], "read") if (media or {}).get("schema") else None
                if str(status).startswith("2") and media_type not in op.media_types:
                    op.media_types.append(media_type)
            headers = {name: (bool(h.get("required")), self._validator(self._deref(h).get("schema") or {}, "plain"))
                       for name, h in (response.get("headers") or {}).items()}
            op.responses[str(status)] = (content, headers)
        for media_type in op.body:
            if media_type not in op.media_types:
                op.media_types.append(media_type)
        return op

    def match(self, method: str, path: str):
        """(operation or None, path parameters, whether the path exists for another method)."""
        for op in self._by_method.get(method.upper(), []):
            found = op.regex.match(path)
            if found:
                return op, found.groupdict(), True
        return None, {}, any(op.regex.match(path) for ops in self._by_method.values() for op in ops)

    def check_request(self, method, path, query, headers, body_bytes):
        """(operation_id or None, [(code, message)]); ``query`` maps names to lists of raw strings.

        Codes: route, accept, content_type_json (plain application/json), content_type, path, query, body.
        """
        op, params, _exists = self.match(method, path)
        if op is None:
            return None, [("route", "no operation of the spec matches %s %s" % (method, path))]
        problems = []
        accept = headers.get("Accept")
        if not any(accept_matches(accept, m) for m in op.media_types):
            problems.append(("accept", "Accept %r is none of the operation's media types %s" % (accept, ", ".join(op.media_types))))
        for name, raw in params.items():
            if name in op.path_params:
                problems += [("path", "path parameter %s: %s" % (name, e.message)) for e in op.path_params[name][1].iter_errors(unquote(raw))]
        for name, values in query.items():
            entry = op.query_params.get(name)
            if entry is None:
                problems.append(("query", "undeclared query parameter %r" % name))
                continue
            if len(values) != 1:
                problems.append(("query", "query parameter %s given %d times" % (name, len(values))))
            value, message = _coerce(values[-1], entry[0])
            errors = [message] if message else [e.message for e in entry[1].iter_errors(value)]
            problems += [("query", "query parameter %s: %s" % (name, m)) for m in errors]
        problems += [("query", "required query parameter %s is missing" % n) for n, e in op.query_params.items()
                     if e[2] and n not in query]
        has_body = bool(body_bytes and body_bytes.strip())
        if not op.body:
            return op.operation_id, problems + ([("body", "the operation takes no request body")] if has_body else [])
        if not has_body:
            return op.operation_id, problems + ([("body", "the request body is required")] if op.body_required else [])
        content_type = media_type_of(headers.get("Content-Type"))
        validator = op.body.get(content_type)
        if content_type not in op.body:
            code = "content_type_json" if content_type == "application/json" else "content_type"
            problems.append((code, "Content-Type %r instead of %s" % (headers.get("Content-Type"), ", ".join(op.body))))
            validator = next(iter(op.body.values()))
        try:
            body = json.loads(body_bytes)
        except ValueError as exc:
            return op.operation_id, problems + [("body", "request body is not JSON: %s" % exc)]
        if validator is not None:
            problems += [("body", m) for m in validator.messages(body, "request body ")]
        return op.operation_id, problems

    def check_response(self, operation_id, status: int, headers: dict, body, injected=False):
        """Messages about one answer (``body`` parsed JSON or None); ``injected`` answers are checked for the
        ApiError shape only, like answers whose status the operation does not declare."""
        op = self.operations.get(operation_id) if operation_id else None
        declared = op.responses.get(str(status)) if op is not None else None
        if declared is None or injected:
            return self.api_error_problems(status, body)
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
            coerced, message = _coerce(value, validator.schema if "$ref" not in validator.schema else {})
            problems += ["header %s: %s" % (name, m) for m in ([message] if message else
                                                               [e.message for e in validator.iter_errors(coerced)])]
        if not content:
            return problems
        content_type = media_type_of(lower.get("content-type"))
        if content_type not in content:
            return problems + ["Content-Type %r is not declared (%s)" % (lower.get("content-type"), ", ".join(sorted(content)))]
        validator = content[content_type]
        if validator is not None:
            if body is None:
                return problems + ["the answer has no body"]
            problems += validator.messages(body, "response body ")
        return problems

    def api_error_problems(self, status, body):
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


def _absolute(node, uri):
    """Every local ``$ref`` made absolute, so that fragments of the file resolve through the registry."""
    if isinstance(node, dict):
        return {k: (uri + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else
                    {n: uri + t for n, t in v.items()} if k == "mapping" else _absolute(v, uri)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(v, uri) for v in node]
    return node


_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def _coerce(raw, schema):
    """A query or header string -> (value, error message or None) by the schema's type."""
    kind = (schema or {}).get("type")
    if kind == "boolean":
        return (raw.lower() == "true", None) if raw.lower() in ("true", "false") else (None, "%r is not a boolean" % raw)
    if kind == "integer":
        return (int(raw.strip()), None) if _INT.match(raw.strip()) else (None, "%r is not an integer" % raw)
    if kind == "number":
        return (float(raw.strip()), None) if _NUM.match(raw.strip()) else (None, "%r is not a number" % raw)
    return raw, None


def load_contract(spec_path, clusters_path=None):
    """A ready :class:`Contract` (ImportError when the validator packages are missing)."""
    return Contract(spec_path, clusters_path)
