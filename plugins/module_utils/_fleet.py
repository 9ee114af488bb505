# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for many restore jobs at once, of any clusters, families and projects, in one process.

Atlas limits each project's calls per endpoint set, shared with every other tool of the project, so the
polls of one project and endpoint set (a lane) draw from one request budget: a sliding log that never
lets a 60 s window hold more than its limit. Within a lane:

- each job is due on its own age schedule (interval_after, as one job's wait is), and stops being
  polled once it is terminal (and, with wait_for_target, once its target is ready);
- the due job most likely to have ended goes first: the oldest; a younger one is not read before it is
  older than a job seen running (it would say "running" again); a job left unpolled longer than its
  schedule or its fair share of the budget (whichever is longer) goes before it, so none starves;
- routine polls (jobs probably still running) use at most ROUTINE_SHARE of the budget, spread evenly,
  so that they never drain the window the ends of the fleet will need;
- restores of one fleet are alike: once a job is seen completed, having ended by age d (its own finish
  time says when; else the age at which it was seen completed), every other job is polled when it
  reaches age d (its predicted end), from the whole budget, and routine polls leave room for the
  predicted polls of the coming minute. A job still running then costs one poll and goes back to its
  age schedule.

A 429 pauses and slows the lane's budget alone: the others go on. Requests are tried once (the
client's retries would pause every job for one): a failed poll is the job's own, tried again after a backoff,
and only the deadline or an error that will not pass (401, 403, 404) ends its wait.

When each request may go (the lanes and their budgets) is _fleet_lanes.py; this file polls and judges the answers.

No Ansible inside; clock, sleep and wall (epoch seconds, for job ages) are injectable for tests.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

from ansible_collections.atlasops.backup.plugins.module_utils._backup import ClusterBackup
from ansible_collections.atlasops.backup.plugins.module_utils._client import PAGE_SIZE
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._fleet_lanes import AGE_RESOLUTION, Lane
from ansible_collections.atlasops.backup.plugins.module_utils._restore import batch_of
from ansible_collections.atlasops.backup.plugins.module_utils._target import target_is_ready, target_state
from ansible_collections.atlasops.backup.plugins.module_utils._time import iso_utc, parse_atlas_time
from ansible_collections.atlasops.backup.plugins.module_utils._views import TERMINAL_JOB_STATUSES, batch_view
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import LAST_POLL_LEAD, MAX_INTERVAL, interval_after, job_age

# Atlas's endpoint sets, each with its own bucket per project (cluster reads have one of their own).
ENDPOINT_SETS = {"dedicated": "Cloud Backups", "serverless": "Cloud Backups", "legacy": "Cloud Backups", "flex": "Flex Restore Jobs"}
CLUSTERS_SET = "Clusters"
# Atlas's Clusters bucket is ten times Cloud Backups' (10000 refilled 5000 a minute, against 1200 and 500): cluster
# reads get ten times max_requests_per_minute, the same share of Atlas's bucket.
CLUSTERS_BUDGET_FACTOR = 10
SUMMARY_KEYS = ("total", "completed", "failed", "cancelled", "expired", "timed_out", "unreadable")
# A job whose poll failed is tried again after 1, 2, 4 ... s, never later than its schedule would.
RETRY_FIRST = 1.0
# How an entry whose job is a legacy batch ends: the first of these that any member has.
_WORST_OUTCOME_FIRST = ("unreadable", "failed", "cancelled", "expired", "timed_out", "target_not_ready", "completed")


def end_age_bound(view: dict, polled_age: float) -> float:
    """The latest age at which a completed job can have ended, ages counted from its creation time to the second.

    Its own times say it best (finished_at less created_at: each to the second, so one more second covers both); the
    age at which it was seen completed is the bound when it has no finish time.
    """
    finished, created = parse_atlas_time(view.get("finished_at")), parse_atlas_time(view.get("created_at"))
    if finished is None or created is None or finished < created:
        return polled_age
    return min(polled_age, finished - created + AGE_RESOLUTION)


@dataclass(frozen=True)
class JobRef:
    """One job to wait for, as checked before any request.

    created_at: when Atlas made the job (epoch seconds), when the caller knows it: its first poll then follows
    the schedule instead of reading it at once. It does not tell two refs apart.
    """

    project_id: str
    cluster_name: str
    cluster_type: str
    job_id: str
    created_at: float | None = field(default=None, compare=False)


class _Watch:
    """What is known of one awaited job (jobs named twice share one)."""

    __slots__ = ("ref", "backup", "view", "error", "last_error", "born", "failures", "phase", "target", "target_ready_at",
                 "target_seen", "target_unknown", "completed_at", "members", "member", "serial", "lane", "ticket", "due",
                 "last_poll", "polled_age", "predicted", "likely_left")

    def __init__(self, ref: JobRef, backup: ClusterBackup, serial: int):
        self.ref = ref
        self.backup = backup
        self.view = None  # the job as last seen
        self.error = None  # why it could not be read (an error that will not pass), or why its target could not be
        self.last_error = None  # the last failed poll, while the next may succeed
        self.born = None  # clock time at which Atlas made the job, once known
        self.failures = 0  # failed polls in a row
        self.phase = "job"  # job, target, done
        self.target = None  # ClusterBackup of the target, with wait_for_target
        self.target_ready_at = None
        self.target_seen = None  # the target's state as last seen
        self.target_unknown = False  # its readiness cannot be known (no cluster read, 403): a warning, not a failure
        self.completed_at = None  # clock time at which this run saw the job completed
        self.members = None  # a legacy batch: the watches of the other jobs of the batch, once known
        self.member = False  # polled as another entry's batch member: no batch look-up, no target wait of its own
        # scheduling
        self.serial = serial
        self.lane = None  # the lane whose queues hold the next poll
        self.ticket = 0  # queue entries of an older ticket are void
        self.due = math.inf
        self.last_poll = None  # clock time of the last poll (its start), None before the first
        self.polled_age = None  # the job's age at that poll
        self.predicted = None  # (time, serial) in the lane's predicted polls, or None
        self.likely_left = 0  # polls left that count as likely to find the job ended

    def age(self, now: float) -> float:
        return now - self.born if self.born is not None else 0.0

    def outcome(self, wait_for_target: bool) -> str:
        """unreadable, timed_out, target_not_ready, or the job's terminal status."""
        if self.target is None and (self.error is not None or self.view is None):
            return "unreadable"
        status = self.view["status"]
        if status not in TERMINAL_JOB_STATUSES:
            return "timed_out"
        if wait_for_target and status == "completed" and self.target is not None and self.target_ready_at is None \
                and not self.target_unknown:
            return "target_not_ready"
        return status


@dataclass
class FleetOutcome:
    restore_jobs: list  # one entry per input job, in input order
    outcomes: list  # per entry: completed, failed, cancelled, expired, timed_out, unreadable or target_not_ready
    summary: dict
    waited_seconds: float
    warnings: list = field(default_factory=list)
    requests: dict = field(default_factory=dict)  # (project_id, endpoint set) -> requests sent
    rate_limited: dict = field(default_factory=dict)  # (project_id, endpoint set) -> 429s seen

    def failure(self, *, check_mode: bool = False) -> str | None:
        """Why the wait counts as a failure (a job that did not complete), or None."""
        problems = []
        for entry, outcome in zip(self.restore_jobs, self.outcomes):
            what = f"{entry['cluster_name']} job {entry.get('id')}"
            if outcome == "unreadable":
                problems.append(f"{what} could not be read: {entry['error']}")
            elif outcome == "timed_out":
                if not check_mode:
                    problems.append(f"{what} is still {entry['status']} at the end of wait_timeout")
            elif outcome == "target_not_ready":
                problems.append(f"{what} completed, but {entry['error']}")
            elif outcome != "completed":
                problems.append(f"{what} ended {outcome}")
        if not problems:
            return None
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        return f"{len(problems)} of {len(self.restore_jobs)} restore jobs did not complete: {shown}"


class FleetWait:
    """Wait for restore jobs (JobRefs) until each is terminal or timeout seconds have passed.

    client: an AtlasClient (one token or digest session for them all). per_minute: the request budget of
    each project and endpoint set (cluster reads: CLUSTERS_BUDGET_FACTOR times it). check_mode: one read of
    each job, no waiting.
    """

    def __init__(self, client, refs: list, *, timeout: float, per_minute: int = 100, wait_for_target: bool = False,
                 check_mode: bool = False, clock=None, sleep=None, wall=time.time):
        self._client = client.without_retries()
        self._refs = list(refs)
        self._timeout = max(0.0, float(timeout))
        self._per_minute = per_minute
        self._wait_for_target = wait_for_target and not check_mode
        self._report_target = wait_for_target  # in check mode too: target_ready_at null, nothing waited for
        self._check_mode = check_mode
        self._clock = clock or client.clock
        self._sleep = sleep or client.sleep
        self._wall = wall
        self._lanes: dict = {}
        self._order = itertools.count()
        self._serials = itertools.count()
        self._warnings: list = []
        self._last_poll = None
        self._cut_short = False  # some job was still awaited when its last poll was done
        self._watches: dict = {}

    def run(self) -> FleetOutcome:
        start = self._clock()
        deadline = start + self._timeout
        # as one job's wait: the last poll starts a little before the deadline, so that it has time for its answer
        self._last_poll = last_poll = deadline - min(LAST_POLL_LEAD, self._timeout / 2)
        watches = self._watches
        wall = self._wall()
        for ref in self._refs:
            if ref not in watches:
                watch = watches[ref] = self._new_watch(ref, ClusterBackup(self._client, ref.project_id, ref.cluster_name,
                                                                          ref.cluster_type))
                if ref.created_at is not None and not self._check_mode:
                    # restore_job read it when it made it: its next poll follows the schedule from that age
                    watch.born = start - max(0.0, wall - ref.created_at)
                    due = watch.born + interval_after(0.0)
                else:
                    due = start
                self._queue(watch, due, first=True)
        while True:
            now = self._clock()
            chosen = None
            for lane in self._lanes.values():
                choice = lane.choice(now)
                if choice is not None and (chosen is None or choice[0] < chosen[0][0]):
                    chosen = (choice, lane)
            if chosen is None:
                break
            (at, watch, routine), lane = chosen
            if at > last_poll:
                self._cut_short = True
                break
            if at > now or watch is None:
                if at > now:
                    self._sleep(at - now)
                continue
            lane.taken(watch)
            ticket = watch.ticket
            lane.budget.take(now, routine)
            if not routine and watch.born is not None and watch.likely_left > 0:
                watch.likely_left -= 1
            if watch.phase == "job":
                self._poll_job(watch, lane, now, deadline)
            else:
                self._poll_target(watch, lane, deadline)
            if watch.ticket == ticket:
                lane.leave(watch)  # not queued again: done, or its last poll is made
        now = self._clock()
        if self._cut_short and not self._check_mode and now < deadline:
            self._sleep(deadline - now)  # as one job's wait: it lasts its whole time; only no request starts after it
        elapsed = round(self._clock() - start, 3)
        return self._outcome(watches, elapsed)

    # --- scheduling -----------------------------------------------------------------------------

    def _new_watch(self, ref: JobRef, backup: ClusterBackup) -> _Watch:
        return _Watch(ref, backup, next(self._serials))

    def _key(self, watch: _Watch) -> tuple:
        if watch.phase == "target":
            return (watch.target.project_id, CLUSTERS_SET)
        return (watch.ref.project_id, ENDPOINT_SETS[watch.ref.cluster_type])

    def _lane(self, key: tuple) -> Lane:
        lane = self._lanes.get(key)
        if lane is None:
            clusters = key[1] == CLUSTERS_SET
            per_minute = self._per_minute * (CLUSTERS_BUDGET_FACTOR if clusters else 1)
            lane = self._lanes[key] = Lane(key, per_minute, self._clock(), learns=not clusters and not self._check_mode)
            lane.last_poll = self._last_poll
        return lane

    def _queue(self, watch: _Watch, due: float, *, first: bool = False) -> None:
        """Queue the next poll; a poll due after the last poll time is made at that time, and after it nothing is queued."""
        if not first and self._clock() >= self._last_poll:
            self._cut_short = True
            return  # its last poll is done: it stays as last seen
        due = min(due, self._last_poll) if not first else due
        lane = self._lane(self._key(watch))
        lane.push(watch, due, self._order)
        if watch.phase == "job":
            lane.predict(watch, self._clock(), self._order)

    def _again(self, watch: _Watch, error: AtlasError) -> None:
        """A poll that failed but may succeed later: the job's own retry, after a backoff within its schedule."""
        watch.failures += 1
        watch.last_error = error
        now = self._clock()
        pause = min(interval_after(watch.age(now)), RETRY_FIRST * 2 ** (watch.failures - 1), MAX_INTERVAL)
        if error.retry_after is not None:
            pause = max(pause, error.retry_after)
        self._queue(watch, now + pause)

    def _failed_poll(self, watch: _Watch, lane: Lane, error: AtlasError) -> bool:
        """Handle a poll that raised; whether the watch goes on (it has been queued again)."""
        if error.status == 429:
            # the project's budget was spent by someone: slow that project down, keep this job's place (it is due)
            lane.budget.rate_limited(self._clock(), error.retry_after)
            watch.last_error = error
            self._queue(watch, self._clock())
            return True
        lane.budget.answered()
        if error.transient:
            if self._check_mode and watch.failures + 1 > self._client.max_retries:
                watch.last_error = error
                return False
            self._again(watch, error)
            return True
        return False

    def _room(self, lane: Lane) -> None:
        """Wait until the lane's budget has room for one more request, and count it (a page of a list)."""
        while True:
            now = self._clock()
            at = lane.budget.ready_at(now)
            if at > self._last_poll:
                raise AtlasError("the request budget has no room for it before the end of wait_timeout")
            if at <= now:
                lane.budget.take(now)
                return
            self._sleep(at - now)

    # --- polls ----------------------------------------------------------------------------------

    def _poll_job(self, watch: _Watch, lane: Lane, now: float, deadline: float) -> None:
        watch.last_poll = now
        watch.polled_age = watch.age(now) if watch.born is not None else None
        lane.unpredict(watch)
        try:
            view = watch.backup.restore_job(watch.ref.job_id, deadline=deadline)
        except AtlasError as error:
            if not self._failed_poll(watch, lane, error):
                if not error.transient:
                    watch.error = str(error)
                watch.phase = "done"
            return
        lane.budget.answered()
        now = self._clock()
        watch.view, watch.last_error, watch.failures = view, None, 0
        if watch.born is None:
            watch.born = now - job_age(view, self._wall())
            watch.polled_age = watch.age(now)
        if watch.ref.cluster_type == "legacy" and watch.members is None and not watch.member:
            self._find_batch(watch, lane, deadline)
        if view["status"] not in TERMINAL_JOB_STATUSES:
            lane.ran(watch.polled_age)
            if self._check_mode:
                watch.phase = "done"
            else:
                self._queue(watch, now + interval_after(watch.age(now)))
            return
        if view["status"] == "completed":
            lane.learn(end_age_bound(view, watch.polled_age), now, self._order)
        if not self._wait_for_target or view["status"] != "completed" or watch.member:
            watch.phase = "done"
            return
        watch.completed_at = now
        target_name = view.get("target_cluster_name")
        if not target_name or view.get("delivery_type") == "download":
            watch.phase = "done"  # a download has no target to wait for
            return
        target = ClusterBackup(self._client, view.get("target_project_id") or watch.ref.project_id, target_name,
                               watch.ref.cluster_type)
        if not target.has("get_cluster"):
            self._warnings.append(f"{watch.ref.cluster_name} job {watch.ref.job_id}: Atlas has no cluster read for "
                                  f"{watch.ref.cluster_type} targets, so target_ready_at is null")
            watch.phase = "done"
            return
        watch.target, watch.phase = target, "target"
        self._queue(watch, now)

    def _find_batch(self, watch: _Watch, lane: Lane, deadline: float) -> None:
        """A legacy restore of a sharded cluster is a batch (one job per shard and config server): wait for every member."""
        watch.members = []
        if not watch.view.get("batch_id"):
            return
        try:
            jobs = []
            self._room(lane)  # the list's first page
            for index, view in enumerate(watch.backup.restore_jobs(deadline=deadline)):
                if index and index % PAGE_SIZE == 0:
                    self._room(lane)  # the next page (counted when it may come: never fewer than were sent)
                jobs.append(view)
        except AtlasError as error:
            if error.status == 429:
                lane.budget.rate_limited(self._clock(), error.retry_after)
            self._warnings.append(f"{watch.ref.cluster_name} job {watch.ref.job_id}: the other jobs of its legacy batch could not "
                                  f"be listed ({error}): only this one is waited for")
            return
        now = self._clock()
        for view in batch_of(watch.view, jobs, "legacy"):
            if view.get("id") == watch.ref.job_id:
                continue
            ref = JobRef(watch.ref.project_id, watch.ref.cluster_name, "legacy", view["id"])
            member = self._watches.get(ref)
            if member is None:
                member = self._watches[ref] = self._new_watch(ref, watch.backup)
                member.member, member.members = True, []
                member.view, member.born = view, now - job_age(view, self._wall())
                member.last_poll, member.polled_age = now, member.age(now)
                if view["status"] not in TERMINAL_JOB_STATUSES and not self._check_mode:
                    self._queue(member, now + interval_after(member.age(now)))
            watch.members.append(member)

    def _poll_target(self, watch: _Watch, lane: Lane, deadline: float) -> None:
        watch.last_poll = self._clock()
        try:
            cluster = watch.target.cluster(deadline=deadline)
        except AtlasError as error:
            if error.status == 403:
                lane.budget.answered()
                self._warnings.append(f"{watch.ref.cluster_name} job {watch.ref.job_id}: the target cluster "
                                      f"{watch.target.cluster_name} could not be read ({error}), so target_ready_at is null")
                watch.phase, watch.target_unknown = "done", True
            elif not self._failed_poll(watch, lane, error):
                watch.error = f"the target {watch.target.cluster_name} could not be read: {error}"
                watch.phase = "done"
            return
        lane.budget.answered()
        now = self._clock()
        watch.last_error, watch.failures = None, 0
        watch.target_seen = target_state(cluster)
        if target_is_ready(cluster):
            watch.target_ready_at = iso_utc(self._wall())
            watch.phase = "done"
            return
        self._queue(watch, now + interval_after(now - watch.completed_at))

    # --- results --------------------------------------------------------------------------------

    def _outcome(self, watches: dict, elapsed: float) -> FleetOutcome:
        summary = dict.fromkeys(SUMMARY_KEYS, 0)
        if self._report_target:
            summary["target_not_ready"] = 0
        entries, outcomes = [], []
        for ref in self._refs:
            watch = watches[ref]
            outcome = watch.outcome(self._wait_for_target)
            members = [member for member in (watch.members or []) if member is not watch]
            if members:
                seen = {outcome} | {member.outcome(False) for member in members}
                outcome = next(kind for kind in _WORST_OUTCOME_FIRST if kind in seen)
            entry = self._entry(watch, outcome, members)
            entries.append(entry)
            outcomes.append(outcome)
            summary["total"] += 1
            # a job whose target is not ready did complete: it counts there too
            summary["completed" if outcome == "target_not_ready" else outcome] += 1
            if outcome == "target_not_ready":
                summary["target_not_ready"] += 1
        return FleetOutcome(entries, outcomes, summary, elapsed, list(self._warnings),
                            {key: lane.budget.sent for key, lane in self._lanes.items()},
                            {key: lane.budget.limited for key, lane in self._lanes.items()})

    def _entry(self, watch: _Watch, outcome: str, members: list = ()) -> dict:
        ref = watch.ref
        # a job read once, then refused (403, 404), keeps its last view; the error says why it was not followed
        entry = dict(watch.view) if watch.view is not None else {"id": ref.job_id, "status": None}
        error = watch.error
        if members and watch.view is not None:
            # a legacy batch: its first job with the worst status of its members, and every member
            views = [watch.view] + [member.view for member in members if member.view is not None]
            entry = dict(batch_view(views), id=ref.job_id)
            entry["batch_jobs"] = [dict(view) for view in views]
            error = error or next((f"batch member {member.ref.job_id}: {member.error}" for member in members if member.error),
                                  None)
        if outcome == "unreadable" and error is None:
            error = str(watch.last_error) if watch.last_error is not None else "not read within wait_timeout"
        elif outcome == "target_not_ready":
            error = watch.error or (f"the target {watch.target.cluster_name} is not ready (last seen {watch.target_seen or 'never'}): "
                                    "the restore completed, the target did not become IDLE within wait_timeout")
        entry.update(project_id=ref.project_id, cluster_name=ref.cluster_name, cluster_type=ref.cluster_type, error=error)
        if self._report_target:
            entry["target_ready_at"] = watch.target_ready_at
        return entry
