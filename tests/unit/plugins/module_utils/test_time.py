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
    ("yesterday", "no timezone"),
    ("2025-11-20Z", "not an ISO 8601"),
    (True, "must be ISO 8601"),
    (1.5, "whole epoch seconds"),
    ("2025-11-20T08:15:00.5Z", "fraction of a second"),
    ("-5", "no timezone"),
])
def test_refused_forms_say_why(value, says):
    with pytest.raises(InvalidInputError) as caught:
        parse_point_in_time("point_in_time", value, now=NOW)
    assert says in str(caught.value)


def test_future_allowed_when_asked():
    assert parse_point_in_time("before", "2099-01-01T00:00:00Z", allow_future=True, now=NOW) == 4070908800
