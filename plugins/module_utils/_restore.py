# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restores of one cluster: re-use a matching job or start one (recovering lost answers), adopt, cancel.

What restore_job does, without Ansible: the results go into a plain dict of return values, warnings to a
callback, so that every path can be unit-tested with a fake ClusterBackup.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._time import parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._views import TERMINAL_JOB_STATUSES, diff_fields, newest_jobs_first


def restore_request(params: dict) -> RestoreRequest:
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
    request.check()
    return request


class Restorer:
    """Restore jobs of one ClusterBackup, with the results in `result` (restore_job, reused, changed, request, diff)."""

    def __init__(self, backup, result: dict, *, check_mode: bool, diff: bool, warn, pause, max_retries: int, request_timeout: float):
        self.backup = backup
        self.result = result
        self.result.update(changed=False, reused=False, restore_job=None)
        self.check_mode = check_mode
        self.warn = warn
        self.pause = pause  # pause(retries, at_least): the client's backoff between two tries
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.diff = diff

    # --- state=present ----------------------------------------------------------------------

    def ensure(self, request: RestoreRequest, *, force: bool = False) -> dict | None:
        """The job doing this restore: a matching one, else a new one (None in check mode). Returns it."""
        body = request.body()
        self.result["request"] = body
        jobs = self.jobs()
        match = None
        if not request.matchable:
            self.warn("Atlas does not echo the oplog_ts of legacy point-in-time restores, so an existing job for this "
                      "restore cannot be recognised: a new job is started on every run")
        elif not force:
            match = next((job for job in jobs if request.matches(job)), None)
        if match is not None:
            self.result.update(reused=True, restore_job=match)
            self.set_diff(diff_fields(match), diff_fields(match))
            return match
        self.set_diff({}, request.desired())
        self.result["changed"] = True
        if self.check_mode:
            return None
        job = self.create(request, body, jobs)
        self.result["restore_job"] = job
        self.set_diff({}, diff_fields(job))
        return job

    def create(self, request: RestoreRequest, body: dict, jobs_before: list) -> dict:
        """POST the restore once; after a lost answer, look for the job it made before sending again."""
        known = {job["id"] for job in jobs_before if request.matches(job, any_status=True)}
        attempts = 0
        while True:
            try:
                job = self.backup.create_restore_job(body)[0]
            except AtlasError as error:
                if error.status != 409 and not error.ambiguous:
                    raise
                attempts += 1
                if error.status != 409:
                    # Give a request that is slow rather than lost the time to land before looking for its job:
                    # one that timed out may still be in flight for about as long again.
                    at_least = max(error.retry_after or 0, self.request_timeout) if error.timed_out else error.retry_after
                    self.pause(attempts - 1, at_least)
                # A lost answer, or a 409 for a target being restored: either may be this very restore, started by
                # a request whose answer was lost (or by the same runbook running alongside). Look before failing.
                jobs = self.jobs()
                made = new_matching(jobs, known, request)
                if made:
                    what = "Atlas answered 409" if error.status == 409 else "the answer to the create request was lost"
                    self.warn(f"{what} ({error}); found the matching job that this restore request started: {made[0]['id']}")
                    if len(made) > 1:
                        # Several lost requests were each carried out: never restore twice without a word.
                        self.warn(f"lost create requests made {len(made)} restore jobs: {', '.join(job['id'] for job in made)}")
                    return made[0]
                if error.status == 409:
                    raise AtlasError(conflict_message(request, error, jobs), status=error.status, error_code=error.error_code,
                                     detail=error.detail, reason=error.reason, operation=error.operation) from None
                if attempts > self.max_retries:
                    raise
                continue
            if attempts:
                # A lost request may still have been carried out after all: say so rather than hide a second job.
                others = [other["id"] for other in new_matching(self.jobs(), known, request) if other["id"] != job["id"]]
                if others:
                    self.warn(f"a create request whose answer was lost made restore job {', '.join(others)} as well as {job['id']}")
            return job

    def adopt(self, job_id: str) -> dict:
        job = self.backup.restore_job(job_id)
        self.result.update(reused=True, restore_job=job)
        self.set_diff(diff_fields(job), diff_fields(job))
        return job

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

    def set_diff(self, before: dict, after: dict) -> None:
        if self.diff:
            self.result["diff"] = dict(before=before, after=after)

    def jobs(self) -> list:
        """Every job of the source cluster, newest first (matching must see every page: Atlas's order is not to be relied on)."""
        return newest_jobs_first(self.backup.restore_jobs())


def new_matching(jobs: list, known: set, request: RestoreRequest) -> list:
    """Jobs for this restore that were not there before the create request."""
    return [job for job in jobs if job["id"] not in known and request.matches(job, any_status=True)]


def conflict_message(request: RestoreRequest, error: AtlasError, jobs: list) -> str:
    target = request.desired()["target_cluster_name"]
    in_the_way = [job for job in jobs if job["status"] not in TERMINAL_JOB_STATUSES and job["target_cluster_name"] == target]
    if in_the_way:
        job = in_the_way[0]
        return (f"target cluster {target} is already being restored by job {job['id']} "
                f"({job['delivery_type']}, {job['status']}, created {job['created_at']}): wait for it with "
                f"atlasops.backup.restore_job_info job_id={job['id']} wait=true, or choose another target")
    return f"Atlas refused the restore with HTTP 409: {error.detail or error.error_code}"
