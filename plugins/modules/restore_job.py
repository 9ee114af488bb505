#!/usr/bin/python
# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore_job
short_description: Start, re-use, wait for or cancel a MongoDB Atlas restore job
version_added: 0.1.0
description:
  - Restores an Atlas backup into a target cluster (C(automated)), as a download (C(download)), or to a point in time
    (C(point_in_time)), and optionally waits until the restore has really finished.
  - Idempotent. Before it starts a restore, the module lists the source cluster's restore jobs and re-uses one that asks for
    the same restore and has not failed, been cancelled or expired, so re-running a runbook never starts a second restore.
  - A create request whose answer was lost (timeout, dropped connection, 5xx) is never re-sent blindly; the module first looks
    for the job that request may have created.
  - With O(state=absent), cancels a running download job of a dedicated cluster.
author:
  - Atlasops Team (@atlasops)
extends_documentation_fragment:
  - atlasops.backup.atlas
  - atlasops.backup.atlas.attributes
  - atlasops.backup.atlas.wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Sends no create and no cancel request, and does not wait (O(wait) is ignored, with a warning).
      - Returns RV(request), the body that would be sent, and RV(reused).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - Both sides have the keys C(delivery_type), C(snapshot_id), C(point_in_time_utc_seconds), C(oplog_ts), C(oplog_inc),
        C(target_cluster_name), C(target_project_id) and C(status). C(before) is the matching job, or empty.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - Except with O(force=true), and for legacy point-in-time restores given as O(oplog_ts), which Atlas does not echo back
        (the module warns).
options:
  state:
    description:
      - V(present) starts (or re-uses, or with O(job_id) adopts) a restore job.
      - V(absent) cancels the job named by O(job_id).
    type: str
    default: present
    choices: [present, absent]
  job_id:
    description:
      - With O(state=present), adopt this existing job (and wait for it with O(wait=true)) instead of starting one.
      - With O(state=absent), the job to cancel.
    type: str
    aliases: [restore_job_id]
  delivery_type:
    description:
      - V(automated) restores a snapshot into O(target_cluster_name).
      - V(download) prepares a snapshot for download (dedicated, serverless and legacy only).
      - V(point_in_time) restores the continuous backup at O(point_in_time), or at O(oplog_ts) and O(oplog_inc), into
        O(target_cluster_name) (dedicated, serverless and legacy only).
      - Flex clusters support only V(automated).
    type: str
    default: automated
    choices: [automated, download, point_in_time]
  snapshot_id:
    description:
      - The snapshot to restore, 24 hexadecimal characters. Required for V(automated) and V(download).
      - Find one with M(atlasops.backup.snapshot_info).
    type: str
  point_in_time:
    description:
      - For V(point_in_time) restores, the moment to restore to.
      - ISO 8601 with a timezone offset (V(2026-11-20T08:15:00Z)) or epoch seconds. A value without a timezone, in the future,
        or in epoch milliseconds is refused.
      - Legacy backup accepts only the last 24 hours.
    type: raw
  oplog_ts:
    description:
      - For V(point_in_time) restores, the oplog timestamp (epoch seconds) to restore to. Requires O(oplog_inc).
      - Mutually exclusive with O(point_in_time).
    type: int
  oplog_inc:
    description:
      - The oplog increment that goes with O(oplog_ts).
    type: int
  target_cluster_name:
    description:
      - The cluster to restore into. Required for V(automated) and V(point_in_time); refused for V(download).
      - Restoring into the source cluster itself overwrites its data.
    type: str
  target_project_id:
    description:
      - The project of O(target_cluster_name). Defaults to O(project_id).
      - Restoring into another project needs a role in both projects.
    type: str
  force:
    description:
      - Start a new restore job even when a matching one exists.
    type: bool
    default: false
notes:
  - Serverless instances are deprecated by Atlas; the module warns and suggests moving to flex.
  - Atlas cancels only download jobs of dedicated clusters. Automated and point-in-time jobs, sharded clusters' jobs, and
    every flex, serverless and legacy job cannot be cancelled; the module fails and says why.
  - The role C(atlasops.backup.restore) chains the snapshot look-up, this module and the report.
seealso:
  - module: atlasops.backup.snapshot_info
  - module: atlasops.backup.restore_job_info
"""

EXAMPLES = r"""
- name: Find the latest completed snapshot of prod-orders
  atlasops.backup.snapshot_info:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
  register: latest

- name: Restore it into dr-orders and wait up to 3 hours (a re-run re-uses the job)
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    snapshot_id: "{{ latest.snapshot.id }}"
    target_cluster_name: dr-orders
    wait: true
    wait_timeout: 10800
  register: restore

- name: Restore to the minute before an incident
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    delivery_type: point_in_time
    point_in_time: "2026-11-20T08:14:00Z"
    target_cluster_name: dr-orders

- name: Prepare a download of a snapshot
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    delivery_type: download
    snapshot_id: 6741a2b3c4d5e6f7a8b9c0aa
    wait: true
  register: download

- name: Cancel that download
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    job_id: "{{ download.restore_job.id }}"
    state: absent

- name: Restore a flex cluster's snapshot into another flex cluster
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: flex-catalog
    cluster_type: flex
    snapshot_id: 6741a2b3c4d5e6f7a8b9c0bb
    target_cluster_name: flex-catalog-dr
"""

RETURN = r"""
restore_job:
  description:
    - The restore job started, re-used, adopted or cancelled, as last seen, with Atlas's keys in snake_case and a normalized
      C(status) and C(delivery_type) (see M(atlasops.backup.restore_job_info) for the keys).
    - Null in check mode when a job would be started.
    - Also returned when the module fails because the job failed or the wait timed out.
  returned: always
  type: dict
  sample:
    id: 6741a2b3c4d5e6f7a8b9c0d1
    status: completed
    delivery_type: automated
    snapshot_id: 6741a2b3c4d5e6f7a8b9c0aa
    target_cluster_name: dr-orders
    target_group_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    finished_at: "2026-11-22T08:15:00Z"
    created_at: "2026-11-22T07:45:00Z"
request:
  description: The create request body that was sent, or would be sent in check mode, as Atlas takes it.
  returned: with O(state=present) and no O(job_id)
  type: dict
  sample:
    deliveryType: automated
    snapshotId: 6741a2b3c4d5e6f7a8b9c0aa
    targetClusterName: dr-orders
    targetGroupId: 5f1a2b3c4d5e6f7a8b9c0d1e
reused:
  description: Whether an existing job was returned (or, in check mode, would be) instead of a new one.
  returned: always
  type: bool
  sample: false
waited_seconds:
  description: Seconds spent waiting for the job.
  returned: when O(wait=true), outside check mode
  type: float
  sample: 1834.2
"""

from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._module import WAIT_ARGSPEC, AtlasModule, argument_spec
from ansible_collections.atlasops.backup.plugins.module_utils._restore import RestoreRequest, diff_view, wait_for_job
from ansible_collections.atlasops.backup.plugins.module_utils._timeparse import parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._validation import check_hex24
from ansible_collections.atlasops.backup.plugins.module_utils._views import (
    DELIVERY_TYPES, TERMINAL_JOB_STATUSES, job_view, newest_jobs_first,
)


class RestoreJobModule:
    def __init__(self, atlas: AtlasModule):
        self.atlas = atlas
        self.params = atlas.params
        self.cluster_type = self.params["cluster_type"]
        self.path_params = dict(project_id=self.params["project_id"], cluster_name=self.params["cluster_name"])
        self.request: RestoreRequest | None = None
        self.client = None
        self.result = dict(changed=False, reused=False, restore_job=None)

    # --- entry ------------------------------------------------------------------------------

    def run(self) -> None:
        self.atlas.check_inputs([self.check_options])
        if self.atlas.check_mode and self.params["wait"]:
            self.atlas.warn("check mode does not wait for restore jobs: wait is ignored")
        self.client = self.atlas.client()
        try:
            if self.params["state"] == "absent":
                self.cancel()
            elif self.params["job_id"]:
                self.adopt()
            else:
                self.ensure_present()
        except AtlasError as error:
            self.atlas.fail_error(error, **self.result)
        self.atlas.module.exit_json(**self.result)

    def check_options(self) -> None:
        params = self.params
        check_hex24("job_id", params["job_id"])
        if params["state"] == "absent" or params["job_id"]:
            return  # adopting or cancelling a job needs only its identity
        point_in_time = None
        if params["point_in_time"] is not None:
            point_in_time = parse_point_in_time("point_in_time", params["point_in_time"])
        self.request = RestoreRequest(
            cluster_type=self.cluster_type, project_id=params["project_id"], cluster_name=params["cluster_name"],
            delivery_type=params["delivery_type"], snapshot_id=params["snapshot_id"], point_in_time=point_in_time,
            oplog_ts=params["oplog_ts"], oplog_inc=params["oplog_inc"], target_cluster_name=params["target_cluster_name"],
            target_project_id=params["target_project_id"],
        )
        self.request.check()

    # --- state=present ----------------------------------------------------------------------

    def ensure_present(self) -> None:
        request = self.request
        body = request.body()
        self.result["request"] = body
        jobs = self.list_jobs()
        match = None
        if not request.matchable:
            self.atlas.warn("Atlas does not echo the oplog_ts of legacy point-in-time restores, so an existing job for this "
                            "restore cannot be recognised: a new job is started on every run")
        elif not self.params["force"]:
            match = next((job for job in jobs if request.matches(job)), None)
        if match is not None:
            self.result.update(reused=True, restore_job=match)
            self.set_diff(diff_view(match, self.cluster_type), diff_view(match, self.cluster_type))
            self.wait_if_asked(match)
            return
        self.set_diff({}, request.desired())
        self.result["changed"] = True
        if self.atlas.check_mode:
            return
        job = self.create(body, jobs)
        self.result["restore_job"] = job
        self.set_diff({}, diff_view(job, self.cluster_type))
        self.wait_if_asked(job)

    def create(self, body: dict, jobs_before: list) -> dict:
        """POST the restore once; after a lost answer, look for the job it made before sending again."""
        known = {job["id"] for job in jobs_before if self.request.matches(job, any_status=True)}
        attempts = 0
        while True:
            try:
                answer = self.client.call(endpoint(self.cluster_type, "create_restore_job"), self.path_params, body=body,
                                          context=self.cluster_type)
            except AtlasError as error:
                if error.status != 409 and not error.ambiguous:
                    raise
                attempts += 1
                if error.status != 409:
                    # Give a request that is slow rather than lost the time to land before looking for its job:
                    # one that timed out may still be in flight for about as long again.
                    at_least = max(error.retry_after or 0, self.params["request_timeout"]) if error.timed_out else error.retry_after
                    self.client.pause_before_retry(attempts - 1, at_least)
                # A lost answer, or a 409 for a target being restored: either may be this very restore, started by
                # a request whose answer was lost (or by the same runbook running alongside). Look before failing.
                jobs = self.list_jobs()
                made = new_matching(jobs, known, self.request)
                if made:
                    what = "Atlas answered 409" if error.status == 409 else "the answer to the create request was lost"
                    self.atlas.warn(f"{what} ({error}); found the matching job that this restore request started: {made[0]['id']}")
                    if len(made) > 1:
                        # Several lost requests were each carried out: never restore twice without a word.
                        self.atlas.warn(f"lost create requests made {len(made)} restore jobs: {', '.join(job['id'] for job in made)}")
                    return made[0]
                if error.status == 409:
                    self.atlas.fail(self.conflict_message(error, jobs), error=error.as_dict(), **self.result)
                if attempts > self.params["max_retries"]:
                    raise
                continue
            if self.cluster_type == "legacy":
                # Legacy create answers with a list: a sharded cluster's restore is a batch of jobs.
                results = (answer.get("results") or []) if isinstance(answer, dict) else []
                answer = results[0] if results else {}
            job = job_view(answer, self.cluster_type)
            if attempts:
                # A lost request may still have been carried out after all: say so rather than hide a second job.
                others = [other["id"] for other in new_matching(self.list_jobs(), known, self.request) if other["id"] != job["id"]]
                if others:
                    self.atlas.warn(f"a create request whose answer was lost made restore job {', '.join(others)} as well as {job['id']}")
            return job

    def conflict_message(self, error: AtlasError, jobs: list) -> str:
        target = self.request.desired()
        in_the_way = [
            job for job in jobs
            if job["status"] not in TERMINAL_JOB_STATUSES
            and diff_view(job, self.cluster_type)["target_cluster_name"] == target["target_cluster_name"]
        ]
        if in_the_way:
            job = in_the_way[0]
            return (f"target cluster {target['target_cluster_name']} is already being restored by job {job['id']} "
                    f"({job['delivery_type']}, {job['status']}, created {job['created_at']}): wait for it with "
                    f"atlasops.backup.restore_job_info job_id={job['id']} wait=true, or choose another target")
        return f"Atlas refused the restore with HTTP 409: {error.detail or error.error_code}"

    def adopt(self) -> None:
        job = self.get_job()
        self.result.update(reused=True, restore_job=job)
        self.set_diff(diff_view(job, self.cluster_type), diff_view(job, self.cluster_type))
        self.wait_if_asked(job)

    def wait_if_asked(self, job: dict) -> None:
        if not self.params["wait"] or self.atlas.check_mode:
            return
        outcome = wait_for_job(self.client, self.cluster_type, self.path_params, job, self.params["wait_timeout"])
        self.result.update(restore_job=outcome.job, waited_seconds=outcome.waited_seconds)
        failure = outcome.failure()
        if failure:
            self.atlas.fail(failure, **self.result)

    # --- state=absent -----------------------------------------------------------------------

    def cancel(self) -> None:
        job = self.get_job()
        self.result["restore_job"] = job
        if job["status"] in TERMINAL_JOB_STATUSES:
            return
        reason = self.not_cancellable(job)
        if reason:
            self.atlas.fail(f"restore job {job['id']} is {job['status']} and cannot be cancelled: {reason}", **self.result)
        before = diff_view(job, self.cluster_type)
        self.set_diff(before, dict(before, status="cancelled"))
        if not self.atlas.check_mode:
            self.client.call(endpoint(self.cluster_type, "cancel_restore_job"), dict(self.path_params, job_id=job["id"]),
                             context=self.cluster_type)
            self.result["restore_job"] = self.get_job()
        self.result["changed"] = True

    def not_cancellable(self, job: dict) -> str | None:
        if self.cluster_type != "dedicated":
            return f"Atlas has no cancel operation for {self.cluster_type} restore jobs"
        if job["delivery_type"] != "download":
            return f"Atlas cancels only download jobs, and this one is {job['delivery_type']}"
        return None

    # --- helpers ----------------------------------------------------------------------------

    def list_jobs(self) -> list:
        jobs = self.client.list_all(endpoint(self.cluster_type, "list_restore_jobs"), self.path_params, context=self.cluster_type,
                                    keep=lambda raw: job_view(raw, self.cluster_type))
        return newest_jobs_first(jobs)

    def get_job(self) -> dict:
        params = dict(self.path_params, job_id=self.params["job_id"])
        return job_view(self.client.call(endpoint(self.cluster_type, "get_restore_job"), params, context=self.cluster_type),
                        self.cluster_type)

    def set_diff(self, before: dict, after: dict) -> None:
        if self.atlas.module._diff:
            self.result["diff"] = dict(before=before, after=after)


def new_matching(jobs: list, known: set, request: RestoreRequest) -> list:
    """Jobs for this restore that were not there before the create request."""
    return [job for job in jobs if job["id"] not in known and request.matches(job, any_status=True)]


def main():
    atlas = AtlasModule(
        argument_spec(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            job_id=dict(type="str", aliases=["restore_job_id"]),
            delivery_type=dict(type="str", default="automated", choices=list(DELIVERY_TYPES)),
            snapshot_id=dict(type="str"),
            point_in_time=dict(type="raw"),
            oplog_ts=dict(type="int"),
            oplog_inc=dict(type="int"),
            target_cluster_name=dict(type="str"),
            target_project_id=dict(type="str"),
            force=dict(type="bool", default=False),
            **WAIT_ARGSPEC,
        ),
        supports_check_mode=True,
        required_if=[("state", "absent", ["job_id"])],
        required_together=[("oplog_ts", "oplog_inc")],
        mutually_exclusive=[("point_in_time", "oplog_ts")],
    )
    RestoreJobModule(atlas).run()


if __name__ == "__main__":
    main()
