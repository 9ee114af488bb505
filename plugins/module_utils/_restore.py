# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restores of one cluster: re-use a matching job or start one (never twice), adopt, cancel.

What restore_job does, without Ansible: the results go into a plain dict of return values, warnings to a
callback, time to an injectable clock, so that every path can be unit-tested with a fake ClusterBackup.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import time

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._time import parse_atlas_time, parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._views import (
    TERMINAL_JOB_STATUSES, batch_view, diff_fields, newest_jobs_first,
)

# After a create whose answer was lost, look for its job for request_timeout plus this long (a slow create
# must land, and a lagging list must show it), at intervals doubling from the first to the longest.
SETTLE_EXTRA_SECONDS = 30.0
FIRST_LOOK_SECONDS = 2.0
LONGEST_LOOK_INTERVAL = 10.0
# Jobs of one legacy batch (one per shard and config server) are created within this many seconds.
BATCH_SECONDS = 10


def restore_request(params: dict, *, snapshot_chosen: bool = False) -> RestoreRequest:
    """The restore that the module options ask for, checked before any request."""
    point_in_time = None
    if params["point_in_time"] is not None:
        point_in_time = parse_point_in_time("point_in_time", params["point_in_time"])
    request = RestoreRequest(
        cluster_type=params["cluster_type"], project_id=params["project_id"], cluster_name=params["cluster_name"],
        delivery_type=params["delivery_type"], snapshot_id=params["snapshot_id"], point_in_time=point_in_time,
        oplog_ts=params["oplog_ts"], oplog_inc=params["oplog_inc"], target_cluster_name=params["target_cluster_name"],
        target_project_id=params["target_project_id"],
    )
    request.check(snapshot_chosen=snapshot_chosen)
    return request


class LostCreate(AtlasError):
    """A create was sent, its answer was lost, and no job has shown up (yet): re-running the task is safe."""


class Restorer:
    """Restore jobs of one ClusterBackup, with the results in `result` (restore_job(s), reused, changed, request, diff).

    deadline (a clock() value, or None) bounds every request and every pause of the run.
    """

    def __init__(self, backup, result: dict, *, check_mode: bool, diff: bool, warn, max_retries: int, request_timeout: float,
                 deadline: float | None = None, clock=time.monotonic, sleep=time.sleep):
        self.backup = backup
        self.result = result
        self.result.update(changed=False, reused=False, reused_status=None, restore_job=None)
        self.check_mode = check_mode
        self.diff = diff
        self.warn = warn
        self.max_retries = max_retries
        self.settle_seconds = request_timeout + SETTLE_EXTRA_SECONDS
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep
        self.request: RestoreRequest | None = None
        self.known: set = set()  # ids of jobs for this restore that existed before this run sent anything
        self.sent_lost = 0  # creates sent by this run whose answers were lost

    # --- state=present ----------------------------------------------------------------------

    def ensure(self, request: RestoreRequest, *, force: bool = False, before_create=None, jobs: list | None = None) -> list:
        """The jobs doing this restore (a legacy batch has several): matching ones, else new ones ([] in check mode).

        before_create (also called in check mode) runs once no job is re-used and before anything is sent: it raises to
        refuse the restore, and returns whether it made something itself (then a refused create leaves changed true).
        jobs: the source's jobs as this run has just listed them (newest first), else they are listed here.
        """
        self.request = request
        body = request.body()
        self.result["request"] = body
        jobs = self.jobs() if jobs is None else jobs
        self.known = {job["id"] for job in jobs if request.matches(job, any_status=True)}
        match = None
        if not request.matchable:
            self.warn("Atlas does not echo the oplog_ts of legacy point-in-time restores, so an existing job for this "
                      "restore cannot be recognised: a new job is started on every run")
        elif not force:
            match = next((job for job in jobs if request.matches(job)), None)
        if match is not None:
            batch = batch_of(match, jobs, request.cluster_type)
            self.publish(batch, reused=True)
            self.set_diff(diff_fields(match), diff_fields(match))
            return batch
        self.set_diff({}, request.desired())
        made_before = bool(before_create()) if before_create is not None else False
        self.result["changed"] = True
        if self.check_mode:
            return []
        try:
            batch = self.create(body)
        except LostCreate:
            raise
        except AtlasError:
            # Atlas refused the create: nothing exists that this run made (but what before_create made)
            self.result["changed"] = made_before
            raise
        self.set_diff({}, diff_fields(batch[0]))
        return batch

    def create(self, body: dict) -> list:
        """POST the restore; after a lost answer, look for the job it made over the settle window before sending again."""
        attempts = 0
        while True:
            try:
                batch = self.backup.create_restore_job(body, deadline=self.deadline)
            except AtlasError as error:
                if error.status == 409:
                    return self.after_conflict(error)
                if not error.ambiguous:
                    raise
                attempts += 1
                self.sent_lost += 1
                found = self.look_for_lost_create(error)
                if found:
                    self.publish(found, reused=False)
                    return found
                if attempts > self.max_retries or self.out_of_time():
                    raise LostCreate(lost_create_message(error, attempts), status=error.status, error_code=error.error_code,
                                     detail=error.detail, operation=error.operation, transient=True) from None
                continue
            self.publish(batch, reused=False)
            if self.sent_lost:
                self.warn_about_extra_jobs()
            return batch

    def look_for_lost_create(self, error: AtlasError) -> list:
        """Look for the jobs a lost create made, several times over the settle window; [] when none appeared."""
        start = self.clock()
        window = self.settle_seconds if self.deadline is None else max(0.0, min(self.settle_seconds, self.deadline - start))
        last_error = None
        for offset in look_offsets(window):
            self.pause(start + offset - self.clock())
            try:
                made = self.new_jobs()
            except AtlasError as look_error:
                if not look_error.transient:
                    raise AtlasError(f"{lost_create_message(error, self.sent_lost)}; looking for it failed: {look_error}",
                                     status=look_error.status, error_code=look_error.error_code, detail=look_error.detail,
                                     operation=look_error.operation) from None
                last_error = look_error
                continue
            last_error = None
            if made:
                self.warn(f"the answer to the create request was lost ({error}); found the matching job that this restore "
                          f"request started: {made[0]['id']}")
                if len(made) > 1 and self.request.cluster_type != "legacy":
                    # Several lost requests were each carried out: never restore twice without a word.
                    self.warn(f"lost create requests made {len(made)} restore jobs: {', '.join(job['id'] for job in made)}")
                return made
        if last_error is not None:
            # Could not look: sending again could restore twice.
            raise LostCreate(f"{lost_create_message(error, self.sent_lost)}; looking for it failed too: {last_error}",
                             status=last_error.status, operation=last_error.operation, transient=True)
        return []

    def after_conflict(self, error: AtlasError) -> list:
        """A 409: another run of this very restore may have won the race (or a lost create of ours); else name the job in the way."""
        jobs = self.jobs()
        made = self.new_jobs(jobs)
        if not made:
            self.result["changed"] = False
            raise AtlasError(conflict_message(self.request, error, jobs), status=error.status, error_code=error.error_code,
                             detail=error.detail, reason=error.reason, operation=error.operation) from None
        if self.sent_lost:
            # This run sent a create whose answer was lost: the job may be ours or the other run's.
            self.warn(f"Atlas answered 409 ({error}) after a create of this run was lost; found the matching job {made[0]['id']}: "
                      "it was started either by that create or by another run at the same time")
            self.publish(made, reused=False)
        else:
            self.warn(f"Atlas answered 409: another run started this restore at the same time; re-using its job {made[0]['id']}")
            self.result["changed"] = False
            self.publish(made, reused=True)
        return made

    def warn_about_extra_jobs(self) -> None:
        """After lost creates: name any further job for this restore that turned up (call again later to look again)."""
        ours = {job["id"] for job in self.result.get("restore_jobs") or []}
        extra = [job["id"] for job in self.new_jobs() if job["id"] not in ours]
        if extra:
            self.warn(f"a create request whose answer was lost made restore job {', '.join(extra)} as well as "
                      f"{self.result['restore_job']['id']}")

    def adopt(self, job_id: str) -> list:
        job = self.backup.restore_job(job_id, deadline=self.deadline)
        batch = [job]
        if self.backup.cluster_type == "legacy" and job.get("batch_id"):
            batch = batch_of(job, self.jobs(), "legacy")
        self.publish(batch, reused=True)
        self.set_diff(diff_fields(job), diff_fields(job))
        return batch

    # --- state=absent -----------------------------------------------------------------------

    def cancel(self, job_id: str) -> None:
        job = self.backup.restore_job(job_id)
        self.result["restore_job"] = job
        if job["status"] in TERMINAL_JOB_STATUSES:
            return
        reason = self.not_cancellable(job)
        if reason:
            raise ValueError(f"restore job {job['id']} is {job['status']} and cannot be cancelled: {reason}")
        before = diff_fields(job)
        self.set_diff(before, dict(before, status="cancelled"))
        if not self.check_mode:
            self.backup.cancel_restore_job(job["id"])
            self.result["restore_job"] = self.backup.restore_job(job["id"])
        self.result["changed"] = True

    def not_cancellable(self, job: dict) -> str | None:
        if self.backup.cluster_type != "dedicated":
            return f"Atlas has no cancel operation for {self.backup.cluster_type} restore jobs"
        if job["delivery_type"] != "download":
            return f"Atlas cancels only download jobs, and this one is {job['delivery_type']}"
        return None

    # --- helpers ----------------------------------------------------------------------------

    def publish(self, batch: list, *, reused: bool) -> None:
        view = batch_view(batch)
        self.result.update(restore_job=view, restore_jobs=batch, reused=reused, reused_status=view["status"] if reused else None)

    def jobs(self) -> list:
        """Every job of the source cluster, newest first (matching must see every page: Atlas's order is not to be relied on)."""
        return newest_jobs_first(self.backup.restore_jobs(deadline=self.deadline))

    def new_jobs(self, jobs: list | None = None) -> list:
        """Jobs for this restore that were not there before this run sent anything, oldest first."""
        jobs = self.jobs() if jobs is None else jobs
        return [job for job in reversed(jobs) if job["id"] not in self.known and self.request.matches(job, any_status=True)]

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)

    def out_of_time(self) -> bool:
        return self.deadline is not None and self.clock() >= self.deadline

    def set_diff(self, before: dict, after: dict) -> None:
        if self.diff:
            self.result["diff"] = dict(before=before, after=after)


def look_offsets(window: float) -> list:
    """When to look after a lost create (seconds after it): doubling intervals, the last look at the end of the window."""
    offsets, at, interval = [], 0.0, FIRST_LOOK_SECONDS
    while at + interval < window:
        at += interval
        offsets.append(at)
        interval = min(LONGEST_LOOK_INTERVAL, interval * 2)
    return offsets + [window]


def batch_of(job: dict, jobs: list, cluster_type: str) -> list:
    """A job and the other members of its legacy batch (same batch id, or the same restore created within seconds), oldest first."""
    if cluster_type != "legacy":
        return [job]
    if job.get("batch_id"):
        members = [other for other in jobs if other.get("batch_id") == job["batch_id"]]
    else:
        created = parse_atlas_time(job.get("created_at")) or 0
        members = [other for other in jobs if diff_fields(other) == diff_fields(job)
                   and abs((parse_atlas_time(other.get("created_at")) or 0) - created) <= BATCH_SECONDS]
    return sorted(members or [job], key=lambda member: str(member.get("id")))


def lost_create_message(error: AtlasError, sent: int) -> str:
    what = "a create request was" if sent <= 1 else f"{sent} create requests were"
    return (f"{what} sent but the answer was lost ({error}) and no restore job for it has appeared yet: one may still appear "
            "in Atlas. Re-running the task is safe: it looks for that job before it sends anything")


def conflict_message(request: RestoreRequest, error: AtlasError, jobs: list) -> str:
    target = request.desired()["target_cluster_name"]
    in_the_way = [job for job in jobs if job["status"] not in TERMINAL_JOB_STATUSES and job["target_cluster_name"] == target]
    if in_the_way:
        job = in_the_way[0]
        return (f"target cluster {target} is already being restored by job {job['id']} "
                f"({job['delivery_type']}, {job['status']}, created {job['created_at']}): wait for it with "
                f"atlasops.backup.restore_job_info job_id={job['id']} wait=true, or choose another target")
    return f"Atlas refused the restore with HTTP 409: {error.detail or error.error_code}"
