# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting: a clock, a poll interval that grows with the age of what is awaited, and a predicate.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._time import age_seconds
from ansible_collections.atlasops.backup.plugins.module_utils._views import (
    TERMINAL_JOB_STATUSES, UNSUCCESSFUL_JOB_STATUSES, batch_view,
)

# The next poll comes after a tenth of the job's age, at least 2 s and at most 60 s later: a job that
# ends is noticed within 10 % of the time it ran (2 s for short jobs, at most a minute for long ones),
# and a job that has run for hours costs one poll a minute, from the first poll on.
MIN_INTERVAL = 2.0
AGE_FRACTION = 0.1
MAX_INTERVAL = 60.0
# The last poll starts this long before the deadline (at most half the wait), so that it has time for its
# answer: no request starts after the deadline. The wait itself still lasts until the deadline.
LAST_POLL_LEAD = 2.0


def interval_after(age: float) -> float:
    """Seconds until the next poll of a job that has been running for `age` seconds."""
    return min(MAX_INTERVAL, max(MIN_INTERVAL, age * AGE_FRACTION))


@dataclass
class WaitOutcome:
    value: object  # the last value seen (None if no poll ever succeeded)
    done: bool  # the predicate held before the timeout
    elapsed: float
    polls: int
    transient_errors: int
    last_error: AtlasError | None = None


def wait_for(fetch, is_done, timeout: float, *, clock=time.monotonic, sleep=time.sleep, initial=None,
             age: float = 0.0) -> WaitOutcome:
    """Call fetch(deadline) until is_done(value) or timeout seconds have passed.

    age is how long the awaited job had already run when the wait began. A transient AtlasError (rate
    limits, 5xx, lost connections, after the client's own retries) does not end the wait: the next poll
    comes at the next interval, or after Retry-After if that is later. Other errors (401, 403, 404 ...)
    are raised.
    """
    start = clock()
    deadline = start + max(0.0, timeout)
    last_poll = deadline - min(LAST_POLL_LEAD, max(0.0, timeout) / 2)
    value, polls, transient_errors, last_error = initial, 0, 0, None
    if initial is not None and is_done(initial):
        return WaitOutcome(initial, True, 0.0, 0, 0)
    poll_now = initial is None  # a caller that has just read the job waits one interval first
    while True:
        retry_after = None
        if poll_now:
            try:
                value = fetch(deadline)
            except AtlasError as error:
                if not error.transient:
                    raise
                transient_errors += 1
                last_error = error
                retry_after = error.retry_after
            else:
                polls += 1
                last_error = None
                if is_done(value):
                    return WaitOutcome(value, True, clock() - start, polls, transient_errors)
        poll_now = True
        now = clock()
        if now >= last_poll:
            if now < deadline:
                sleep(deadline - now)  # the wait lasts its whole time; only no request may start after it
            return WaitOutcome(value, False, clock() - start, polls, transient_errors, last_error)
        pause = interval_after(max(0.0, age) + now - start)
        if retry_after is not None:
            pause = max(pause, retry_after)
        sleep(min(pause, last_poll - now))


# --- restore jobs ---------------------------------------------------------------------------

@dataclass
class JobWait:
    jobs: list  # every awaited job as last seen
    finished: bool
    waited_seconds: float
    last_error: AtlasError | None = None
    timeout: float = 0

    @property
    def job(self) -> dict:
        """The first job, with the worst status of them all (one job: that job)."""
        return batch_view(self.jobs)

    def failure(self) -> str | None:
        """Why the wait counts as a failure, or None when every job completed."""
        job = self.job
        what = f"restore job {job.get('id')}" if len(self.jobs) == 1 else \
            f"restore job {job.get('id')} (with {len(self.jobs) - 1} more of its batch)"
        if not self.finished:
            message = f"{what} did not finish within wait_timeout ({self.timeout:g} s); last seen status: {job.get('status')}"
            if self.last_error is not None:
                message += f"; the last poll failed: {self.last_error}"
            return message
        if job["status"] in UNSUCCESSFUL_JOB_STATUSES:
            return f"{what} ended {job['status']}"
        return None


def wait_for_jobs(backup, jobs: list, timeout: float, *, clock=time.monotonic, sleep=time.sleep, shown_timeout: float | None = None) -> JobWait:
    """Poll restore jobs (job views) of one ClusterBackup until all are terminal or timeout seconds have passed.

    A batch is polled on the schedule of its oldest member; a member already terminal is not read again.
    """
    def fetch(deadline):
        return [job if job["status"] in TERMINAL_JOB_STATUSES else backup.restore_job(job["id"], deadline=deadline)
                for job in latest[0]]

    def done(seen):
        latest[0] = seen
        return all(job["status"] in TERMINAL_JOB_STATUSES for job in seen)

    latest = [list(jobs)]
    outcome = wait_for(fetch, done, timeout, clock=clock, sleep=sleep, initial=list(jobs),
                       age=max(job_age(job) for job in jobs))
    return JobWait(latest[0], outcome.done, round(outcome.elapsed, 3), outcome.last_error,
                   timeout if shown_timeout is None else shown_timeout)


def wait_for_job(backup, job: dict, timeout: float, *, clock=time.monotonic, sleep=time.sleep) -> JobWait:
    """Poll one restore job (a job view) of a ClusterBackup until it is terminal or timeout seconds have passed."""
    return wait_for_jobs(backup, [job], timeout, clock=clock, sleep=sleep)


def job_age(job: dict, now: float | None = None) -> float:
    """Seconds since the job was created (from its ObjectId), 0 when unknown."""
    return age_seconds(job.get("created_at"), now)
