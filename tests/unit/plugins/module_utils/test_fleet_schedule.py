# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet wait's schedule: a fleet's ends noticed as early as the budget allows, and the budget never broken."""

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._fleet import JobRef
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import interval_after
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.test_fleet import PROJECT_A, WALL0, FakeAtlas, wait

JOB_SECONDS = 30.0
IDLE_AFTER = 2.0  # the target is IDLE this long after its job ends (the emulator's cluster_idle_seconds)


def staggered_fleet(count: int, first_start: float, last_start: float, wait_for_target: bool = True, created_at: bool = True):
    """count jobs of JOB_SECONDS created evenly between first_start and last_start; the wait begins at the last start."""
    atlas = FakeAtlas()
    refs, ends = [], []
    for index in range(count):
        created = first_start + (last_start - first_start) * index / max(1, count - 1)
        job = atlas.add_job(end=created + JOB_SECONDS, created=created, target=f"dr{index}")
        atlas.clusters[(PROJECT_A, f"dr{index}")] = created + JOB_SECONDS + IDLE_AFTER
        refs.append(JobRef(PROJECT_A, f"c{index}", "dedicated", job, created_at=WALL0 + int(created) if created_at else None))
        ends.append(created + JOB_SECONDS)
    atlas.now = last_start
    outcome = wait(atlas, refs, wait_for_target=wait_for_target)
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


@pytest.mark.parametrize("count, last_start", [(30, 39.3), (100, 62.6)])
def test_without_created_at_a_staggered_fleet_is_no_later_than_reading_it_paced(count, last_start):
    atlas, outcome, last_end, lateness = staggered_fleet(count, 29.6, last_start, created_at=False)
    report(count, atlas, last_end, lateness)
