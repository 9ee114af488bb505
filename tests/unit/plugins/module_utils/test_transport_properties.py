# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the client's readers of what a server sends: Retry-After, token answers, answer bodies.

Whatever the server sends, the result is a bounded value or an AtlasError, never a traceback.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.atlasops.backup.plugins.module_utils._auth import (  # noqa: E402
    MAX_LIFETIME_SECONDS, ApiKey, BearerToken, ServiceAccount, TokenAnswerError,
)
from ansible_collections.atlasops.backup.plugins.module_utils._client import (  # noqa: E402
    RETRY_AFTER_CEILING, AtlasClient, parse_retry_after,
)
from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import endpoint  # noqa: E402
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError  # noqa: E402

from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_atlas import Scripted, mount  # noqa: E402

NOW = 1_800_000_000.0  # a wall-clock time in 2027
PARAMS = dict(project_id="5f1a2b3c4d5e6f7a8b9c0d1e", cluster_name="prod-orders", job_id="a" * 24)
GET = endpoint("dedicated", "get_restore_job")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FFF), max_size=60)
FAST = settings(max_examples=300, deadline=None)


def is_bounded(seconds) -> bool:
    return seconds is None or (isinstance(seconds, float) and 0.0 <= seconds <= RETRY_AFTER_CEILING)


# --- Retry-After ---------------------------------------------------------------------------------------


@FAST
@given(HEADER_TEXT)
def test_any_retry_after_is_none_or_bounded(value):
    assert is_bounded(parse_retry_after(value, now=NOW))


@FAST
@given(st.text(alphabet="0123456789", min_size=1, max_size=500))
def test_ascii_digits_are_read_and_capped(value):
    assert parse_retry_after(value, now=NOW) == min(float(int(value)), RETRY_AFTER_CEILING)


@pytest.mark.parametrize("value, seconds", [("0000000000042", 42.0), ("0" * 300, 0.0), ("000000301", 300.0), (" 17 ", 17.0)])
def test_leading_zeros_and_spaces_do_not_change_the_number(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds


@FAST
@given(st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=10).filter(lambda text: not text.isascii()))
def test_digits_that_are_not_ascii_are_ignored(value):
    assert parse_retry_after(value, now=NOW) is None


@FAST
@given(st.datetimes(min_value=datetime.datetime(1900, 1, 1), max_value=datetime.datetime(9999, 12, 31)))
def test_an_http_date_is_the_time_until_it_capped(moment):
    when = moment.replace(tzinfo=datetime.timezone.utc, microsecond=0)
    expected = min(max(0.0, when.timestamp() - NOW), RETRY_AFTER_CEILING)
    assert parse_retry_after(email.utils.format_datetime(when, usegmt=True), now=NOW) == pytest.approx(expected, abs=1e-6)


@FAST
@given(HEADER_TEXT, st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=100))
def test_the_client_never_sleeps_longer_than_the_ceiling_on_any_retry_after(value, deadline_in):
    sleeps = []
    atlas = AtlasClient("https://atlas.example.test", ApiKey("public", "private-key"), sleep=sleeps.append, clock=lambda: 50.0,
                        jitter=lambda low, high: high)
    mount(atlas, Scripted([(429, {"error": 429}, {"Retry-After": value}), (200, {"ok": 1})]))
    try:
        atlas.call(GET, PARAMS, deadline=50.0 + deadline_in if deadline_in else None)
    except AtlasError as error:
        # a 429 whose pause does not fit the deadline, or a deadline too short for any answer
        assert (error.status == 429 and is_bounded(error.retry_after)) or error.never_sent or error.timed_out
    assert all(0 <= seconds <= RETRY_AFTER_CEILING for seconds in sleeps)
    if deadline_in:
        assert sum(sleeps) < deadline_in


# --- token answers -------------------------------------------------------------------------------------


EXPIRES_IN = (st.none() | st.booleans() | st.integers(min_value=-10 ** 30, max_value=10 ** 30) | st.floats()
              | st.text(max_size=30) | st.text(alphabet="0123456789", max_size=40) | JSON_VALUES)
ACCESS_TOKEN = st.none() | st.text(max_size=40) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1) | JSON_VALUES


@FAST
@given(st.dictionaries(st.sampled_from(["access_token", "expires_in", "token_type", "scope"]),
                       st.one_of(ACCESS_TOKEN, EXPIRES_IN), max_size=4)
       | st.fixed_dictionaries({"access_token": ACCESS_TOKEN, "expires_in": EXPIRES_IN}) | JSON_VALUES)
def test_a_token_answer_is_a_token_within_bounds_or_a_token_answer_error(answer):
    try:
        token = BearerToken.from_answer(answer, 100.0)
    except TokenAnswerError as error:
        assert str(error).split(" ", maxsplit=1)[0] in ("expires_in", "access_token", "the")
        return
    assert isinstance(token.value, str) and token.value
    assert 100.0 < token.renew_at <= 100.0 + MAX_LIFETIME_SECONDS
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
        assert math.isfinite(expires_in) and expires_in > 0


@FAST
@given(JSON_VALUES)
def test_any_token_endpoint_answer_gives_a_token_or_an_atlas_error(answer):
    seen = []
    atlas = AtlasClient("https://atlas.example.test", ServiceAccount("sa-id", "client-secret"), sleep=lambda seconds: None,
                        jitter=lambda low, high: low, on_secret=seen.append)
    adapter = mount(atlas, Scripted(handler=lambda sent: (200, answer) if "oauth" in sent["path"] else (200, {"ok": 1})))
    try:
        assert atlas.call(GET, PARAMS) == {"ok": 1}
    except AtlasError as error:
        assert error.operation == "oauth_token"
    else:
        bearer = adapter.sent[-1]["headers"]["Authorization"]
        assert bearer.startswith("Bearer ") and bearer[len("Bearer "):] in seen


# --- answer bodies ------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=200) | JSON_VALUES.map(lambda value: json.dumps(value).encode()))
def test_any_get_answer_is_an_object_or_an_atlas_error(body):
    atlas = AtlasClient("https://atlas.example.test", ApiKey("public", "private-key"), sleep=lambda seconds: None)
    mount(atlas, Scripted([(200, body)]))
    try:
        answer = atlas.call(GET, PARAMS)
    except AtlasError as error:
        assert error.status == 200
    else:
        assert isinstance(answer, dict)
