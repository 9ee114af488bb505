# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import itertools

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import poll_intervals, wait_for


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.now += seconds


def test_schedule_starts_short_and_caps_at_60_seconds():
    assert list(itertools.islice(poll_intervals(), 12)) == pytest.approx(
        [2.0, 3.0, 4.5, 6.75, 10.125, 15.1875, 22.78125, 34.171875, 51.2578125, 60.0, 60.0, 60.0])


def test_returns_once_the_predicate_holds():
    clock = Clock()
    values = iter(["running", "running", "done"])
    outcome = wait_for(lambda deadline: next(values), lambda value: value == "done", 100, clock=clock, sleep=clock.sleep)
    assert outcome.done and outcome.value == "done" and outcome.polls == 3
    assert outcome.elapsed == pytest.approx(5.0)


def test_a_terminal_initial_value_needs_no_poll():
    outcome = wait_for(lambda deadline: pytest.fail("polled"), lambda value: True, 10, initial="done")
    assert outcome.done and outcome.polls == 0


def test_transient_errors_do_not_end_the_wait_and_retry_after_is_honoured():
    clock = Clock()
    answers = iter([AtlasError("busy", status=429, transient=True, retry_after=20), "done"])

    def fetch(deadline):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = wait_for(fetch, lambda value: value == "done", 100, clock=clock, sleep=clock.sleep)
    assert outcome.done and outcome.transient_errors == 1
    assert clock.now == pytest.approx(20.0)


def test_other_errors_end_the_wait():
    def fetch(deadline):
        raise AtlasError("gone", status=404)

    with pytest.raises(AtlasError):
        wait_for(fetch, lambda value: True, 100, clock=Clock(), sleep=lambda seconds: None)


def test_times_out_with_the_last_value_and_a_final_poll_at_the_deadline():
    clock = Clock()
    polled_at = []

    def fetch(deadline):
        polled_at.append(clock.now)
        assert deadline == 30
        return "running"

    outcome = wait_for(fetch, lambda value: False, 30, clock=clock, sleep=clock.sleep)
    assert not outcome.done and outcome.value == "running"
    assert polled_at[-1] == pytest.approx(30.0)
    assert clock.now == pytest.approx(30.0)
