# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the readers of times that users give (point_in_time, before) and that Atlas sends.

Whatever the value, the result is a time within Atlas's range or an InvalidInputError that says why, never a
traceback; every time the collection writes reads back as the same second.
"""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.atlasops.backup.plugins.module_utils._time import (  # noqa: E402
    ATLAS_EPOCH_MIN, EPOCH_MAX, id_time, iso_utc, parse_atlas_time, parse_point_in_time,
)
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError  # noqa: E402

NOW = 1_800_000_000.0
FAST = settings(max_examples=400, deadline=None)
ANY_VALUE = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
             | st.text(alphabet="0123456789-:TZz+. ", max_size=30) | st.lists(st.integers(), max_size=3))


@FAST
@given(ANY_VALUE, st.booleans(), st.booleans())
def test_any_value_is_a_time_in_range_or_a_clear_refusal(value, allow_future, whole_seconds):
    try:
        seconds = parse_point_in_time("point_in_time", value, allow_future=allow_future, whole_seconds=whole_seconds, now=NOW)
    except InvalidInputError as error:
        assert str(error).startswith("point_in_time")
        assert len(str(error)) < 300
        return
    assert ATLAS_EPOCH_MIN <= seconds <= EPOCH_MAX
    assert allow_future or seconds <= NOW
    assert not whole_seconds or isinstance(seconds, int)


@FAST
@given(st.integers(min_value=ATLAS_EPOCH_MIN, max_value=EPOCH_MAX))
def test_every_time_written_reads_back_as_the_same_second(seconds):
    assert parse_atlas_time(iso_utc(seconds)) == seconds
    assert parse_point_in_time("before", iso_utc(seconds), allow_future=True, now=NOW) == seconds
    assert parse_point_in_time("before", str(seconds), allow_future=True, now=NOW) == seconds


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_iso_utc_never_raises(seconds):
    assert isinstance(iso_utc(seconds), str)


@FAST
@given(st.text(max_size=30) | st.none() | st.integers())
def test_what_atlas_sends_as_a_date_or_an_id_is_read_or_ignored(value):
    moment = parse_atlas_time(value)
    assert moment is None or isinstance(moment, float)
    created = id_time(value)
    assert created is None or parse_atlas_time(created) is not None
