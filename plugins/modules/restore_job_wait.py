#!/usr/bin/python
# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore_job_wait
short_description: Wait for many MongoDB Atlas restore jobs at once
version_added: 0.2.0
description:
  - Waits for restore jobs of any clusters, backup families and projects in one process, with one access token (or one
    digest session) for all of them, and reports each job on its own.
  - Each job is polled on its own schedule, after a tenth of its age (at least 2 and at most 60 seconds later), as
    M(atlasops.backup.restore_job) does with O(atlasops.backup.restore_job#module:wait=true). So a fleet waits as long as its
    slowest restore, not as long as the sum.
  - The polls of one project and endpoint set (Cloud Backups for dedicated, serverless and legacy jobs, flex restore jobs)
    never exceed O(max_requests_per_minute) in any 60 seconds (cluster reads, ten times that). A rate limit (HTTP 429) for
    one project slows that project alone; the jobs of other projects go on at their pace.
  - Built for the role C(atlasops.backup.restore) over an inventory of clusters, where one task waits for the jobs of all
    hosts of a batch; usable on its own after M(atlasops.backup.restore_job) runs without O(atlasops.backup.restore_job#module:wait).
author:
  - Atlasops Team (@atlasops)
extends_documentation_fragment:
  - atlasops.backup.atlas
  - atlasops.backup.atlas.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads each job once and does not wait; jobs still running are reported, not failed.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - The module only reads restore jobs (and, with O(revoke_token=true), gives an access token back).
options:
  project_id:
    description:
      - The project of the entries of O(jobs) that name none, 24 hexadecimal characters.
      - So that C(module_defaults) for C(group/atlasops.backup.atlas) applies to this module too.
    type: str
    aliases: [group_id]
  cluster_name:
    description:
      - The source cluster of the entries of O(jobs) that name none.
    type: str
  cluster_type:
    description:
      - The backup family of the entries of O(jobs) that name none; see M(atlasops.backup.restore_job).
    type: str
    default: dedicated
    choices: [dedicated, flex, serverless, legacy]
  jobs:
    description:
      - The restore jobs to wait for, each a dict with C(job_id) (alias C(restore_job_id)) and optionally C(project_id)
        (alias C(group_id)), C(cluster_name) and C(cluster_type); the keys left out come from the options above.
      - Optionally C(created_at), when Atlas made the job (ISO 8601 with a timezone, for example
        C(2026-12-02T03:00:00Z), as M(atlasops.backup.restore_job) returns it in C(restore_job.created_at)).
        The job's age is then known before its first read, so its first poll follows its schedule instead of every job
        being read at once at the start; give it for fleets of more than a few jobs. Null is the same as leaving it out.
      - Every entry is checked before any request; a bad entry is named by its index.
      - A job named twice is polled once.
      - A legacy restore of a sharded cluster makes one job per shard and config server; each entry waits for the job it
        names, so name every member of the batch to wait for all of them.
      - May be empty, for example to revoke the shared access token with O(revoke_token=true) only.
    type: list
    elements: dict
    required: true
  wait_timeout:
    description:
      - Seconds to wait for all the jobs together. Jobs not terminal by then are reported as timed out.
    type: int
    default: 10800
  wait_for_target:
    description:
      - Also wait, for each job that completed and restores into a cluster, until its target cluster is IDLE (not paused, no
        change in progress), and return RV(restore_jobs[].target_ready_at).
      - A target that cannot be read because of HTTP 403, or whose family has no cluster read (serverless), is a warning and
        C(target_ready_at=null), not a failure.
    type: bool
    default: false
  max_requests_per_minute:
    description:
      - The request budget of this wait for each project and endpoint set, for all its polls together.
      - Atlas refills each project's bucket with 500 calls a minute, shared with every other tool working on that project and
        with every other slice of an AWX job (divide the budget by the number of slices).
      - No 60-second window sees more requests than this; with many jobs, each is polled less often than its schedule asks.
      - Polls of jobs that are probably still running use at most half of it, spread evenly; the rest is kept for the polls
        likely to find a job ended (a job that reaches the age by which another job of the same project ended, from that
        job's own finish time). The job most likely to have ended, the oldest, goes first; a younger one is not read before
        it is older than a job last seen running. A job left unread longer than its schedule or its fair share of the budget
        (whichever is longer) goes before the others; when many reach that point together, they are read in turn at the
        routine pace.
      - Noticing each end takes one poll, so a budget below the number of jobs of a project that end within one minute makes
        the last of them wait for the window to pass.
      - Cluster reads (O(wait_for_target=true)) have a budget of their own, ten times this per project, because Atlas's
        Clusters bucket is ten times its Cloud Backups bucket, so this is the same share of Atlas's limit.
    type: int
    default: 100
  revoke_token:
    description:
      - At the end of the run, also when it fails, revoke the service account's access token that the module runs of this user
        on this controller share (and any this run holds), so that no token outlives the fleet run.
      - Give O(jobs=[]) to only revoke it, for example at the end of a playbook, also after a failure.
      - Without a service account, or without a shared token, there is nothing to revoke.
    type: bool
    default: true
notes:
  - The module fails when any job did not complete (failed, cancelled, expired, timed out, could not be read, or, with
    O(wait_for_target=true), a target that did not become ready), and then returns all the results too. To decide per job,
    use C(ignore_errors) and read RV(restore_jobs[].status).
seealso:
  - module: atlasops.backup.restore_job
  - module: atlasops.backup.restore_job_info
"""

EXAMPLES = r"""
- name: Start one restore per cluster, without waiting
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: "{{ item.source }}"
    snapshot_id: "{{ item.snapshot_id }}"
    target_cluster_name: "{{ item.target }}"
  loop: "{{ clusters }}"
  register: started

- name: Name each started job with its cluster
  ansible.builtin.set_fact:
    fleet_jobs: "{{ fleet_jobs | default([]) + [{'cluster_name': item.item.source, 'job_id': item.restore_job.id,
                                                  'created_at': item.restore_job.created_at}] }}"
  loop: "{{ started.results }}"

- name: Wait for all of them together
  atlasops.backup.restore_job_wait:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    jobs: "{{ fleet_jobs }}"
  register: fleet

- name: Wait for three restores of two projects, the third a flex cluster
  atlasops.backup.restore_job_wait:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    jobs:
      - {cluster_name: orders, job_id: 6741a2b3c4d5e6f7a8b9c0d1}
      - {cluster_name: billing, job_id: 6741a2b3c4d5e6f7a8b9c0d2, created_at: "2026-12-02T03:00:00Z"}
      - {project_id: 6a1a2b3c4d5e6f7a8b9c0d1e, cluster_name: catalog, cluster_type: flex, job_id: 6741a2b3c4d5e6f7a8b9c0d3}
    wait_timeout: 10800
    wait_for_target: true
  register: fleet
  ignore_errors: true

- name: List the restores that did not complete
  ansible.builtin.debug:
    msg: "{{ fleet.restore_jobs | rejectattr('status', 'equalto', 'completed') | map(attribute='cluster_name') | list }}"

- name: At the end of the playbook, also after a failure, give the shared access token back
  atlasops.backup.restore_job_wait:
    jobs: []
    revoke_token: true
"""

RETURN = r"""
restore_jobs:
  description:
    - One entry per entry of O(jobs), in the same order, each the job as last seen (Atlas's keys in snake_case, with the
      normalized C(status)), plus the keys below.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Restore job ID.
      type: str
      sample: 6741a2b3c4d5e6f7a8b9c0d1
    status:
      description:
        - Normalized status as last seen; null when the job could never be read.
        - Not terminal (C(pending), C(in_progress)) when the wait timed out (or, in check mode, the job is still running).
      type: str
      sample: completed
    project_id:
      description: The project of the job's source cluster.
      type: str
      sample: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name:
      description: The job's source cluster.
      type: str
      sample: orders
    cluster_type:
      description: The job's backup family.
      type: str
      sample: dedicated
    error:
      description: Null, or why the job (or, with O(wait_for_target=true), its target) could not be read or is not ready.
      type: str
      sample: null
    target_ready_at:
      description: When this run first saw the target cluster ready after the job completed; null when it did not.
      returned: with O(wait_for_target=true)
      type: str
      sample: "2026-12-02T03:01:12Z"
summary:
  description: How many jobs ended each way.
  returned: always
  type: dict
  contains:
    total:
      description: Entries of O(jobs).
      type: int
    completed:
      description: Jobs that completed.
      type: int
    failed:
      description: Jobs that failed.
      type: int
    cancelled:
      description: Jobs that were cancelled.
      type: int
    expired:
      description: Jobs that expired.
      type: int
    timed_out:
      description: Jobs not terminal when O(wait_timeout) ended (in check mode, jobs still running).
      type: int
    unreadable:
      description: Jobs that could not be read (for example HTTP 404 or 403).
      type: int
    target_not_ready:
      description: Completed jobs whose target did not become ready in time (they count as completed too).
      returned: with O(wait_for_target=true)
      type: int
  sample: {total: 3, completed: 2, failed: 1, cancelled: 0, expired: 0, timed_out: 0, unreadable: 0}
waited_seconds:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 1834.2
"""

from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import CLUSTER_TYPES
from ansible_collections.atlasops.backup.plugins.module_utils._fleet import SUMMARY_KEYS, FleetWait, JobRef
from ansible_collections.atlasops.backup.plugins.module_utils._module import CONNECTION_ARGSPEC, AtlasModule
from ansible_collections.atlasops.backup.plugins.module_utils._time import parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._validation import (
    InvalidInputError, check_cluster_name, check_hex24, shown,
)

_ENTRY_KEYS = {"job_id": "job_id", "restore_job_id": "job_id", "project_id": "project_id", "group_id": "project_id",
               "cluster_name": "cluster_name", "cluster_type": "cluster_type", "created_at": "created_at"}


def job_refs(jobs, defaults: dict) -> list:
    """Every entry of jobs as a JobRef, all checked before any request; an error names the entry's index."""
    if not isinstance(jobs, list):
        raise InvalidInputError("jobs must be a list of dicts")
    refs = []
    for index, entry in enumerate(jobs):
        where = f"jobs[{index}]"
        if not isinstance(entry, dict):
            raise InvalidInputError(f"{where} must be a dict with job_id (and project_id, cluster_name, cluster_type), got {shown(entry)}")
        values = {}
        for key, value in entry.items():
            if key not in _ENTRY_KEYS:
                raise InvalidInputError(f"{where} has an unknown key {shown(key)}: allowed are job_id, project_id, cluster_name, "
                                        "cluster_type and created_at")
            name = _ENTRY_KEYS[key]
            if name in values and values[name] != value:
                raise InvalidInputError(f"{where} gives {name} twice, with different values")
            values[name] = value
        for name in ("project_id", "cluster_name", "cluster_type"):
            if values.get(name) is None:
                values[name] = defaults.get(name)
        for name in ("job_id", "project_id", "cluster_name"):
            if values.get(name) in (None, ""):
                extra = "" if name == "job_id" else f" (give it in the entry or as the module option {name})"
                raise InvalidInputError(f"{where} has no {name}{extra}")
            if not isinstance(values[name], str):
                raise InvalidInputError(f"{where}: {name} must be a string, got {shown(values[name])}")
        check_hex24(f"{where}.job_id", values["job_id"])
        check_hex24(f"{where}.project_id", values["project_id"])
        check_cluster_name(f"{where}.cluster_name", values["cluster_name"])
        cluster_type = values["cluster_type"] or "dedicated"
        if cluster_type not in CLUSTER_TYPES:
            raise InvalidInputError(f"{where}.cluster_type must be one of {', '.join(CLUSTER_TYPES)}, got {shown(cluster_type)}")
        created_at = None
        if values.get("created_at") is not None:
            if not isinstance(values["created_at"], str):
                raise InvalidInputError(f"{where}.created_at must be an ISO 8601 date and time such as 2026-12-02T03:00:00Z, "
                                        f"got {shown(values['created_at'])}")
            # Atlas's clock may be a little ahead of ours: a time in the future is an age of 0, not an error
            created_at = float(parse_point_in_time(f"{where}.created_at", values["created_at"], allow_future=True,
                                                   whole_seconds=False))
        refs.append(JobRef(values["project_id"], values["cluster_name"], cluster_type, values["job_id"], created_at=created_at))
    return refs


def main():
    spec = dict(CONNECTION_ARGSPEC)
    spec.update(
        project_id=dict(type="str", aliases=["group_id"]),
        cluster_name=dict(type="str"),
        cluster_type=dict(type="str", default="dedicated", choices=list(CLUSTER_TYPES)),
        jobs=dict(type="list", elements="dict", required=True),
        wait_timeout=dict(type="int", default=10800),
        wait_for_target=dict(type="bool", default=False),
        max_requests_per_minute=dict(type="int", default=100),
        revoke_token=dict(type="bool", default=True),
    )
    atlas = AtlasModule(spec, supports_check_mode=True)
    params = atlas.params
    atlas.result.update(restore_jobs=[], summary=dict.fromkeys(SUMMARY_KEYS, 0), waited_seconds=0.0)
    atlas.revoke_shared_token = params["revoke_token"]

    def body():
        atlas.check_connection_options()
        if params["max_requests_per_minute"] < 1:
            raise InvalidInputError("max_requests_per_minute must be 1 or more")
        refs = job_refs(params["jobs"], params)
        client = atlas.client()  # also when there is no job: revoke_token gives the shared token back at the end
        if any(ref.cluster_type == "serverless" for ref in refs) and params["cluster_type"] != "serverless":
            atlas.warn("Atlas deprecated serverless instances and their backup endpoints: "
                       "migrate the cluster to flex and use cluster_type: flex")
        if not refs:
            return
        outcome = FleetWait(client, refs, timeout=params["wait_timeout"], per_minute=params["max_requests_per_minute"],
                            wait_for_target=params["wait_for_target"], check_mode=atlas.check_mode).run()
        atlas.result.update(restore_jobs=outcome.restore_jobs, summary=outcome.summary, waited_seconds=outcome.waited_seconds)
        for warning in outcome.warnings[:20]:
            atlas.warn(warning)
        failure = outcome.failure(check_mode=atlas.check_mode)
        if failure:
            atlas.fail(failure)

    atlas.run(body)


if __name__ == "__main__":
    main()
