# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import LAST_POLL_LEAD, interval_after, wait_for
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.fake_clock import FakeClock


@pytest.mark.parametrize("age, interval", [(0, 2.0), (19, 2.0), (30, 3.0), (300, 30.0), (600, 60.0), (36000, 60.0)])
def test_the_interval_is_a_tenth_of_the_job_age_between_2_and_60_seconds(age, interval):
    assert interval_after(age) == pytest.approx(interval)


def test_a_job_is_noticed_within_a_tenth_of_its_run_time():
    for duration in (10, 60, 300, 3600):
        clock = FakeClock(0.0)
        outcome = wait_for(lambda deadline, clock=clock, duration=duration: clock.now >= duration, bool, 7200, clock=clock,
                           sleep=clock.sleep, initial=False)
        assert outcome.done
        assert duration <= clock.now <= duration + max(2.0, min(60.0, duration * 0.1)) * 1.1 + 0.01


def test_an_old_job_is_polled_at_the_interval_of_its_age():
    clock = FakeClock(0.0)
    polled_at = []

    def fetch(deadline):
        polled_at.append(clock.now)
        return len(polled_at) == 3

    wait_for(fetch, bool, 600, clock=clock, sleep=clock.sleep, age=7200)
    assert polled_at == [0.0, 60.0, 120.0]


def test_returns_once_the_predicate_holds():
    clock = FakeClock(0.0)
    values = iter(["running", "running", "done"])
    outcome = wait_for(lambda deadline: next(values), lambda value: value == "done", 100, clock=clock, sleep=clock.sleep)
    assert outcome.done and outcome.value == "done" and outcome.polls == 3
    assert outcome.elapsed == pytest.approx(4.0)


def test_a_terminal_initial_value_needs_no_poll():
    outcome = wait_for(lambda deadline: pytest.fail("polled"), lambda value: True, 10, initial="done")
    assert outcome.done and outcome.polls == 0


def test_transient_errors_do_not_end_the_wait_and_retry_after_is_honoured():
    clock = FakeClock(0.0)
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
        wait_for(fetch, lambda value: True, 100, clock=FakeClock(0.0), sleep=lambda seconds: None)


def test_times_out_with_the_last_value_and_a_final_poll_just_before_the_deadline():
    clock = FakeClock(0.0)
    polled_at = []

    def fetch(deadline):
        polled_at.append(clock.now)
        assert deadline == 30
        return "running"

    outcome = wait_for(fetch, lambda value: False, 30, clock=clock, sleep=clock.sleep)
    assert not outcome.done and outcome.value == "running"
    assert polled_at[-1] == pytest.approx(30.0 - LAST_POLL_LEAD)  # time left for its answer: no request starts after the deadline
    assert clock.now == pytest.approx(30.0) and outcome.elapsed == pytest.approx(30.0)
