# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._time import parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError

NOW = 1763800000.0  # 2025-11-22T08:26:40Z


@pytest.mark.parametrize("value, seconds", [
    ("2025-11-20T08:15:00Z", 1763626500), ("2025-11-20T09:15:00+01:00", 1763626500), ("2025-11-20T08:15:00+0000", 1763626500),
    ("1763626500", 1763626500), (1763626500, 1763626500), (1763626500.0, 1763626500), (" 2025-11-20T08:15:00z ", 1763626500),
])
def test_accepted_forms(value, seconds):
    assert parse_point_in_time("point_in_time", value, now=NOW) == seconds


@pytest.mark.parametrize("value, says", [
    ("2025-11-20T08:15:00", "no timezone"),
    ("1763626500000", "milliseconds"),
    ("2099-01-01T00:00:00Z", "in the future"),
    ("1999-01-01T00:00:00Z", "before 2008"),
    ("yesterday", "is not an ISO 8601 date and time"),
    ("now", "is not an ISO 8601 date and time"),
    ("2025-11-20Z", "not an ISO 8601"),
    (True, "must be ISO 8601"),
    (1.5, "whole epoch seconds"),
    ("2025-11-20T08:15:00.5Z", "fraction of a second"),
    ("-5", "is not an ISO 8601 date and time"),
    ("253402300800", "after the year 9999"),
    ("10000-01-01T00:00:00Z", "is not an ISO 8601"),
    (float("nan"), "must be ISO 8601"),
    (float("inf"), "must be ISO 8601"),
])
def test_refused_forms_say_why(value, says):
    with pytest.raises(InvalidInputError) as caught:
        parse_point_in_time("point_in_time", value, now=NOW)
    assert says in str(caught.value)


def test_future_allowed_when_asked():
    assert parse_point_in_time("before", "2099-01-01T00:00:00Z", allow_future=True, now=NOW) == 4070908800


def test_a_filter_time_may_have_fractions_of_a_second():
    assert parse_point_in_time("before", "2025-11-20T08:15:00.5Z", allow_future=True, whole_seconds=False, now=NOW) == 1763626500.5
    assert parse_point_in_time("before", 1763626500.25, allow_future=True, whole_seconds=False, now=NOW) == 1763626500.25
    assert parse_point_in_time("before", "1763626500", allow_future=True, whole_seconds=False, now=NOW) == 1763626500


def test_times_past_the_year_9999_are_refused_in_the_future_check_too():
    with pytest.raises(InvalidInputError) as caught:
        parse_point_in_time("point_in_time", 999999999999, now=NOW)
    assert "after the year 9999" in str(caught.value)
