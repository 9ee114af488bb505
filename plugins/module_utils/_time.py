# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every time the collection reads or writes: Atlas dates, ObjectId times, and points in time given by users.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, shown

# The smallest point in time Atlas accepts (2008-01-01T00:00:00Z).
ATLAS_EPOCH_MIN = 1199145600
# The last second Python's datetime can show (9999-12-31T23:59:59Z).
EPOCH_MAX = 253402300799
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_OFFSET = re.compile(r"(Z|z|[+-]\d{2}:?\d{2})$")
_DIGITS = re.compile(r"[0-9]+")
_DATE_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_FRACTION = re.compile(r"\.(\d+)")


def parse_atlas_time(value) -> float | None:
    """Epoch seconds of an Atlas date, an ISO 8601 UTC string such as 2026-11-20T08:15:00Z (fractions optional)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python before 3.11 accepts only 3 or 6 fraction digits.
    text = _FRACTION.sub(lambda match: "." + (match.group(1) + "000000")[:6], text, count=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def iso_utc(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC, to the second (out of datetime's range: the number itself)."""
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime(ISO_FORMAT)
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} epoch seconds"


def id_time(object_id) -> str | None:
    """The creation time inside an ObjectId (its leading 8 hex digits), as ISO 8601 UTC."""
    if not isinstance(object_id, str) or len(object_id) != 24:
        return None
    try:
        seconds = int(object_id[:8], 16)
    except ValueError:
        return None
    return iso_utc(seconds)


def age_seconds(iso_time, now: float | None = None) -> float:
    """Seconds since an ISO 8601 time; 0 when it is unknown or ahead of our clock."""
    moment = parse_atlas_time(iso_time)
    if moment is None:
        return 0.0
    return max(0.0, (time.time() if now is None else now) - moment)


def parse_point_in_time(name: str, value, *, allow_future: bool = False, whole_seconds: bool = True,
                        now: float | None = None) -> float:
    """Epoch seconds from `2026-11-20T08:15:00Z`, `2026-11-20T09:15:00+01:00` or `1763626500`.

    Refused, with a message saying which: no timezone, milliseconds, something that is no date and time,
    fractions of a second (unless whole_seconds is false: a time the collection only compares), times
    before 2008 or after 9999, and (unless allow_future) times in the future. Whole seconds come back as int.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"{name} must be ISO 8601 with a timezone offset or epoch seconds, got {shown(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{name} must be ISO 8601 with a timezone offset or epoch seconds, got {shown(value)}")
        if not value.is_integer():
            if whole_seconds:
                raise InvalidInputError(f"{name} must be whole epoch seconds, got {shown(value)}")
            return _in_range(name, str(value), value, allow_future, now)
        value = int(value)
    text = str(value).strip()
    if _DIGITS.fullmatch(text):
        if len(text) == 13:
            raise InvalidInputError(f"{name} looks like epoch milliseconds ({text}): give epoch seconds instead")
        if len(text) > 13:
            raise InvalidInputError(f"{name} {shown(text)} is too large for epoch seconds")
        seconds = int(text)
    else:
        not_a_time = (f"{name} {shown(text)} is not an ISO 8601 date and time such as 2026-11-20T08:15:00Z, "
                      "nor epoch seconds")
        if not _DATE_AND_TIME.match(text):
            raise InvalidInputError(not_a_time)
        if not _OFFSET.search(text):
            raise InvalidInputError(
                f"{name} {shown(text)} has no timezone: add an offset such as Z or +00:00, or give epoch seconds"
            )
        parsed = parse_atlas_time(text)
        if parsed is None or "T" not in text.upper():
            raise InvalidInputError(not_a_time)
        if not float(parsed).is_integer():
            if whole_seconds:
                raise InvalidInputError(f"{name} {shown(text)} has a fraction of a second: Atlas takes whole seconds")
            return _in_range(name, text, parsed, allow_future, now)
        seconds = int(parsed)
    return _in_range(name, text, seconds, allow_future, now)


def _in_range(name: str, text: str, seconds, allow_future: bool, now: float | None):
    if seconds < ATLAS_EPOCH_MIN:
        raise InvalidInputError(f"{name} {shown(text)} is before 2008-01-01, the earliest point in time Atlas accepts")
    if seconds > EPOCH_MAX:
        raise InvalidInputError(f"{name} {shown(text)} is after the year 9999")
    current = time.time() if now is None else now
    if not allow_future and seconds > current:
        raise InvalidInputError(f"{name} {iso_utc(seconds)} is in the future")
    return seconds
