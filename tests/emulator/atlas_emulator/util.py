"""Small helpers shared by the emulator modules: ids, time formats, API errors."""

from __future__ import annotations

import calendar
import itertools
import os
import re
import threading
import time
from http import HTTPStatus

HEX24 = re.compile(r"^[a-f0-9]{24}$")
CLUSTER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$")

V20230101 = "application/vnd.atlas.2023-01-01+json"
V20241113 = "application/vnd.atlas.2024-11-13+json"
V20240805 = "application/vnd.atlas.2024-08-05+json"


class IdGenerator:
    """24-hex ObjectId-like ids: 8 hex epoch seconds, 10 hex process-random part, 6 hex counter.

    The counter only ever increases (it is never reset), so ids sort by creation time,
    also within one second.
    """

    def __init__(self):
        self._random = os.urandom(5).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(2), "big"))
        self._lock = threading.Lock()

    def new(self, when: float | None = None) -> str:
        if when is None:
            when = time.time()
        with self._lock:
            count = next(self._counter)
        return "%08x%s%06x" % (int(when) & 0xFFFFFFFF, self._random, count & 0xFFFFFF)

    def many(self, n: int, when: float | None = None) -> list:
        if when is None:
            when = time.time()
        prefix = "%08x%s" % (int(when) & 0xFFFFFFFF, self._random)
        with self._lock:
            start = next(self._counter)
            # reserve the block
            self._counter = itertools.count(start + n)
        return [prefix + "%06x" % ((start + i) & 0xFFFFFF) for i in range(n)]


IDS = IdGenerator()


def new_id(when: float | None = None) -> str:
    return IDS.new(when)


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO 8601 UTC as Atlas writes it (``2026-11-22T07:34:00Z``)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value) -> float:
    """ISO 8601 string (naive = UTC) or epoch seconds (int/float/str) -> epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("not a time: %r" % (value,))
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not a time: %r" % (value,))
    text = value.strip()
    if re.match(r"^-?\d+(\.\d+)?$", text):
        return float(text)
    match = _ISO_RE.match(text)
    if not match:
        raise ValueError("not an ISO 8601 time: %r" % (value,))
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    frac = float(match.group(7) or 0.0)
    base = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + frac
    offset = match.group(8)
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        base -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return base


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class ApiError(Exception):
    """An Atlas ``ApiError`` answer."""

    def __init__(self, status: int, error_code: str, detail: str, fields=None, parameters=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.error_code = error_code
        self.detail = detail
        self.fields = fields or []
        self.parameters = parameters or []
        self.headers = dict(headers or {}, **{"X-Error-Code": error_code})

    def body(self) -> dict:
        return api_error_body(self.status, self.error_code, self.detail, self.fields, self.parameters)


def api_error_body(status: int, error_code: str, detail: str, fields=None, parameters=None) -> dict:
    body = {
        "error": status,
        "errorCode": error_code,
        "detail": detail,
        "reason": reason(status),
        # Atlas sends a list of strings (the spec says objects: an exemption of the contract)
        "parameters": [str(p) for p in (parameters or [])],
    }
    if fields:
        body["badRequestDetail"] = {"fields": [{"field": f, "description": d} for f, d in fields]}
    return body


def invalid(field: str, description: str, error_code: str = "INVALID_ATTRIBUTE") -> ApiError:
    return ApiError(400, error_code, "Invalid attribute %s specified: %s" % (field, description), fields=[(field, description)],
                    parameters=[field])
