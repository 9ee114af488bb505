# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet wait's schedule: a fleet's ends noticed as early as the budget allows, and the budget never broken."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._fleet import CLUSTERS_BUDGET_FACTOR, JobRef
from ansible_collections.atlasops.backup.plugins.module_utils._fleet_lanes import AGE_RESOLUTION
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import interval_after
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.test_fleet import (
    PROJECT_A, PROJECT_B, WALL0, FakeAtlas, wait, windows_within,
)

JOB_SECONDS = 30.0
IDLE_AFTER = 2.0  # the target is IDLE this long after its job ends (the emulator's cluster_idle_seconds)


def staggered_fleet(count: int, first_start: float, last_start: float, wait_for_target: bool = True, created_at: bool = True,
                    wait_from: float | None = None, per_minute: int = 100):
    """count jobs of JOB_SECONDS created evenly between first_start and last_start; the wait begins at wait_from (the last start)."""
    assert wait_from is None or wait_from >= last_start, "the wait begins once every job is made"
    atlas = FakeAtlas()
    refs, ends = [], []
    for index in range(count):
        created = first_start + (last_start - first_start) * index / max(1, count - 1)
        job = atlas.add_job(end=created + JOB_SECONDS, created=created, target=f"dr{index}")
        atlas.clusters[(PROJECT_A, f"dr{index}")] = created + JOB_SECONDS + IDLE_AFTER
        refs.append(JobRef(PROJECT_A, f"c{index}", "dedicated", job, created_at=WALL0 + int(created) if created_at else None))
        ends.append(created + JOB_SECONDS)
    atlas.now = last_start if wait_from is None else wait_from
    outcome = wait(atlas, refs, wait_for_target=wait_for_target, per_minute=per_minute)
    assert outcome.summary["completed"] == count and outcome.failure() is None
    noticed = {}
    for when, dummy, operation, name in atlas.calls:
        job = atlas.jobs.get(name)
        if job is not None and when >= job["end"] and name not in noticed:
            noticed[name] = when
    lateness = [noticed[job_id] - atlas.jobs[job_id]["end"] for job_id in atlas.jobs]
    return atlas, outcome, max(ends), lateness


def report(count, atlas, last_end, lateness):
    print(f"{count} jobs: last end {last_end:.1f} s, last end noticed {max(lateness):.1f} s late at worst, "
          f"mean {sum(lateness) / len(lateness):.1f} s; the wait ended at {atlas.now:.1f} s "
          f"({atlas.now - last_end:.1f} s after the last end); {len(atlas.calls)} requests")


def test_thirty_staggered_jobs_are_each_noticed_within_one_poll_interval_of_their_end():
    atlas, outcome, last_end, lateness = staggered_fleet(30, 29.6, 39.3)
    report(30, atlas, last_end, lateness)
    assert max(lateness) <= interval_after(JOB_SECONDS) + 1.0
    # the last target is IDLE 2 s after the last end; one read of it after that
    assert atlas.now <= last_end + IDLE_AFTER + interval_after(JOB_SECONDS) + 1.0


def test_a_hundred_staggered_jobs_end_within_the_fleet_target():
    atlas, outcome, last_end, lateness = staggered_fleet(100, 29.6, 62.6)
    report(100, atlas, last_end, lateness)
    # the fleet target: the last start + one restore + one poll interval + 10 s
    assert atlas.now <= last_end + interval_after(JOB_SECONDS) + 10.0
    assert max(lateness) <= interval_after(JOB_SECONDS) + 8.0


@pytest.mark.parametrize("last_start, wait_from, per_minute", [
    (25.6, 30.5, 100), (25.6, 35.0, 100), (25.6, 45.0, 100), (25.6, 27.8, 125), (15.0, 17.0, 125),
])
def test_a_hundred_ends_are_noticed_at_once_when_the_budget_has_room_for_them(last_start, wait_from, per_minute):
    # As the role over 100 hosts runs it: starts 0.26 s apart, the wait begins when the last has started. Noticing 100
    # ends of 26 s take 100 polls. With the first end already past, a budget of 100 holds them: each job is polled
    # once, when its fleet's end age (learned from the first job's own finish time) says it has ended. Before the first
    # end the oldest job has to be read until it ends, and those reads need room beside the 100.
    atlas, outcome, last_end, lateness = staggered_fleet(100, 0.0, last_start, wait_for_target=False, wait_from=wait_from,
                                                         per_minute=per_minute)
    report(100, atlas, last_end, lateness)
    noticed_late = [late - max(0.0, wait_from - end) for late, end in zip(lateness, sorted(job["end"] for job in atlas.jobs.values()))]
    # the first ends are found by the oldest job's schedule (its creation time known to the second), the others by
    # their predicted polls
    assert max(noticed_late) <= interval_after(JOB_SECONDS) + AGE_RESOLUTION + 1e-6
    assert sum(late <= 2 * AGE_RESOLUTION + 1e-6 for late in noticed_late) >= 80, "the ends were not polled when predicted"
    assert atlas.now <= last_end + 2 * AGE_RESOLUTION + 1e-6
    if wait_from >= 30.0:
        assert len(atlas.calls) == 100, "a job was read more than once"


def test_before_the_first_end_reads_of_a_budget_that_the_ends_fill_delay_the_last_end_no_more_than_the_window():
    # 100 ends in 26 s at a budget of 100, the wait begun before the first end: the reads of the oldest job until it
    # ended and the 100 polls of the ends cannot share one window, so the last polls wait for those reads to leave it
    atlas, outcome, last_end, lateness = staggered_fleet(100, 0.0, 25.6, wait_for_target=False, wait_from=27.8)
    report(100, atlas, last_end, lateness)
    last_read_before_the_first_end = max(when for when, dummy, operation, name in atlas.calls if when < JOB_SECONDS)
    assert atlas.now <= last_read_before_the_first_end + 60.0 + 2 * AGE_RESOLUTION
    assert len(atlas.calls) <= 100 + 5


@pytest.mark.parametrize("count, last_start", [(30, 39.3), (100, 62.6)])
def test_without_created_at_a_staggered_fleet_is_no_later_than_reading_it_paced(count, last_start):
    atlas, outcome, last_end, lateness = staggered_fleet(count, 29.6, last_start, created_at=False)
    report(count, atlas, last_end, lateness)


def test_with_created_at_the_first_polls_follow_the_schedule_oldest_first():
    atlas = FakeAtlas()
    atlas.now = 100.0
    refs = []
    for index in range(40):
        created = 60.0 + index  # ages 1 to 40 s when the wait begins
        refs.append(JobRef(PROJECT_A, f"c{index}", "dedicated", atlas.add_job(end=created + 300, created=created),
                           created_at=WALL0 + created))
    wait(atlas, refs, timeout=30)
    first_minute = [name for when, dummy, operation, name in atlas.calls if when < 100.0 + 10]
    assert len(first_minute) <= 12, "the jobs were all read at once"
    firsts = []
    for when, dummy, operation, name in atlas.calls:
        if name not in firsts:
            firsts.append(name)
    assert firsts[:5] == [ref.job_id for ref in refs[:5]], "not the oldest first"


def test_without_created_at_every_job_is_read_at_the_start_within_half_the_window():
    atlas = FakeAtlas()
    jobs = [atlas.add_job(end=300) for dummy in range(80)]
    wait(atlas, [ref_of(job, index) for index, job in enumerate(jobs)], timeout=30)
    # half the window at once, and the routine pacer's one
    assert len([when for when, *dummy in atlas.calls if when == 0.0]) in (50, 51)


def ref_of(job_id, index):
    return JobRef(PROJECT_A, f"c{index}", "dedicated", job_id)


def test_a_job_that_outlives_the_fleet_costs_one_predicted_poll_and_goes_back_to_its_schedule():
    atlas = FakeAtlas()
    refs = []
    for index in range(20):
        end = 30.0 + index * 0.1 if index else 31.0  # the first, oldest, ends first
        refs.append(JobRef(PROJECT_A, f"c{index}", "dedicated", atlas.add_job(end=end if index != 7 else 400.0, created=0.0),
                           created_at=WALL0))
    slow = refs[7].job_id
    outcome = wait(atlas, refs, per_minute=100)
    assert outcome.summary["completed"] == 20
    polls = atlas.polls_of(slow)
    after_fleet = [when for when in polls if 40 <= when < 390]
    gaps = [later - earlier for earlier, later in zip(after_fleet, after_fleet[1:])]
    assert gaps and min(gaps) >= interval_after(40) - 1e-6, "a job still running was polled faster than its schedule"
    assert max(polls) <= 400 + interval_after(400) + 1.0


JOB = st.fixed_dictionaries({
    "created": st.floats(0, 120), "duration": st.floats(0, 400), "outcome": st.sampled_from(["completed", "completed", "failed"]),
    "type": st.sampled_from(["dedicated", "dedicated", "flex"]), "project": st.sampled_from([PROJECT_A, PROJECT_B]),
    "created_at": st.booleans(), "idle_after": st.floats(0, 60),
    "errors": st.lists(st.sampled_from([503, 429]), max_size=3),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=st.lists(JOB, min_size=1, max_size=40), per_minute=st.sampled_from([1, 3, 10, 25, 100]),
       storm=st.one_of(st.none(), st.tuples(st.floats(0, 300), st.floats(0, 300), st.sampled_from([None, 0.0, 5.0, 30.0]))),
       wait_for_target=st.booleans(), start=st.floats(0, 120))
def test_no_window_of_a_project_and_endpoint_set_holds_more_than_its_budget(jobs, per_minute, storm, wait_for_target, start):
    atlas = FakeAtlas()
    refs = []
    for index, job in enumerate(jobs):
        created = min(job["created"], start)
        job_id = atlas.add_job(end=created + job["duration"], outcome=job["outcome"], cluster_type=job["type"],
                               target=f"dr{index}", created=created)
        atlas.clusters[(job["project"], f"dr{index}")] = created + job["duration"] + job["idle_after"]
        atlas.errors[job_id] = [AtlasError(str(status), status=status, transient=True, retry_after=None if status == 503 else 2.0)
                                for status in job["errors"]]
        refs.append(JobRef(job["project"], f"c{index}", job["type"], job_id,
                           created_at=WALL0 + int(created) if job["created_at"] else None))
    if storm is not None:
        begin, length, retry_after = storm
        atlas.limited[PROJECT_A] = (start + begin + length, retry_after)  # 429s for every call of A until then
    atlas.now = start
    outcome = wait(atlas, refs, timeout=600, per_minute=per_minute, wait_for_target=wait_for_target)
    lanes: dict = {}
    for when, project, operation, name in atlas.calls:
        job = atlas.jobs.get(name)
        endpoint_set = "Clusters" if job is None else ("Flex Restore Jobs" if job["type"] == "flex" else "Cloud Backups")
        lanes.setdefault((project, endpoint_set), []).append(when)
    for (project, endpoint_set), times in lanes.items():
        limit = per_minute * (CLUSTERS_BUDGET_FACTOR if endpoint_set == "Clusters" else 1)
        assert windows_within(times, limit), f"{project} {endpoint_set}: more than {limit} requests in 60 s"
        assert outcome.requests[(project, endpoint_set)] == len(times)
    assert outcome.waited_seconds <= 600 + 1e-6


def test_before_any_end_the_oldest_job_stands_for_the_younger_ones():
    # 100 restores made within 10 s, all still running: reading the younger ones would only say "running" again
    atlas = FakeAtlas()
    atlas.now = 20.0
    refs = [JobRef(PROJECT_A, f"c{index}", "dedicated", atlas.add_job(end=900.0, created=index * 0.1), created_at=WALL0 + int(index * 0.1))
            for index in range(100)]
    wait(atlas, refs, timeout=110)
    # before the last polls of the wait (its last chance to see them end) and before any job starves (100 × 1.2 s)
    early = [(when, name) for when, dummy, operation, name in atlas.calls if when < 100.0]
    assert early[0][0] == 20.0 and len(early) <= 20, f"{len(early)} reads in 80 s of jobs that all run for 15 minutes"
    # the ten made in the first second are as old as each other, to the second of their creation times
    assert {name for when, name in early} <= {ref.job_id for ref in refs[:10]}, "a younger job was read"


def test_a_younger_job_that_ends_first_is_still_noticed_within_twice_its_fair_share():
    # the fleet is not alike after all: a small restore made last ends long before the others
    atlas = FakeAtlas()
    atlas.now = 20.0
    refs = [JobRef(PROJECT_A, f"c{index}", "dedicated", atlas.add_job(end=900.0, created=index * 0.1), created_at=WALL0 + int(index * 0.1))
            for index in range(99)]
    small = atlas.add_job(end=40.0, created=10.0)
    refs.append(JobRef(PROJECT_A, "small", "dedicated", small, created_at=WALL0 + 10))
    outcome = wait(atlas, refs, timeout=400)
    noticed = min(when for when in atlas.polls_of(small) if when >= 40.0)
    fair_share = len(refs) * 60.0 / (100 * 0.5)  # jobs × the routine pace of the default budget
    # it starves after its fair share, with the 99 made before it: they are read first, at the routine pace
    assert noticed <= 10.0 + 2 * fair_share + interval_after(fair_share), noticed
    assert outcome.restore_jobs[-1]["status"] == "completed"
