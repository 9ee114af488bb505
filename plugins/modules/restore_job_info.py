#!/usr/bin/python
# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore_job_info
short_description: Read MongoDB Atlas restore jobs, and wait for one to finish
version_added: 0.1.0
description:
  - Lists the restore jobs of an Atlas cluster, newest first, fetching every page, or reads one job.
  - With O(job_id) and O(wait=true), re-attaches to a running job (for example after an interrupted playbook) and blocks
    until it ends.
  - Works for dedicated clusters (Cloud Backup), flex clusters, serverless instances and legacy backup; every job carries
    the same normalized RV(restore_jobs[].status) and RV(restore_jobs[].delivery_type).
author:
  - Atlasops Team (@atlasops)
extends_documentation_fragment:
  - atlasops.backup.atlas
  - atlasops.backup.atlas.identity
  - atlasops.backup.atlas.attributes
  - atlasops.backup.atlas.info_module
  - atlasops.backup.atlas.wait
options:
  job_id:
    description:
      - Read only this restore job (24 hexadecimal characters). The filters below do not apply to it.
    type: str
    aliases: [restore_job_id]
  status:
    description:
      - Keep jobs whose normalized status is one of these.
    type: list
    elements: str
    choices: [pending, in_progress, completed, failed, cancelled, expired]
  delivery_type:
    description:
      - Keep jobs of this normalized delivery type.
    type: str
    choices: [automated, download, point_in_time]
  snapshot_id:
    description:
      - Keep jobs that restore this snapshot.
    type: str
  target_cluster_name:
    description:
      - Keep jobs whose target is this cluster (flex C(targetDeploymentItemName), legacy C(delivery.targetClusterName)).
    type: str
notes:
  - O(wait=true) needs O(job_id). The module changes nothing, so it also waits in check mode.
seealso:
  - module: atlasops.backup.restore_job
  - module: atlasops.backup.snapshot_info
"""

EXAMPLES = r"""
- name: List the restore jobs of a cluster that are still running
  atlasops.backup.restore_job_info:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    status: [pending, in_progress]
  register: running

- name: Re-attach to a restore job after an interruption and wait up to 3 hours for it
  atlasops.backup.restore_job_info:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    job_id: 6741a2b3c4d5e6f7a8b9c0d1
    wait: true
    wait_timeout: 10800
  register: restore

- name: Show where the download of a snapshot can be fetched
  ansible.builtin.debug:
    msg: "{{ restore.restore_job.delivery_url | default([]) }}"
"""

RETURN = r"""
restore_jobs:
  description:
    - The matching restore jobs, newest first, with Atlas's keys in snake_case. With O(job_id), a list holding that job.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Restore job ID.
      type: str
      sample: 6741a2b3c4d5e6f7a8b9c0d1
    status:
      description: Normalized status.
      type: str
      choices: [pending, in_progress, completed, failed, cancelled, expired]
      sample: in_progress
    atlas_status:
      description: The status as Atlas gave it (flex C(status), legacy C(statusName)); absent for dedicated and serverless jobs.
      type: str
      sample: RUNNING
    delivery_type:
      description: Normalized delivery type. Legacy point-in-time jobs show as V(automated).
      type: str
      choices: [automated, download, point_in_time]
      sample: automated
    created_at:
      description: When the job was created, from its ID.
      type: str
      sample: "2026-11-22T07:45:00Z"
    snapshot_id:
      description: The snapshot being restored.
      type: str
      sample: 6741a2b3c4d5e6f7a8b9c0aa
    target_cluster_name:
      description:
        - Target cluster, whatever the cluster type (flex C(targetDeploymentItemName), legacy C(delivery.targetClusterName)).
        - Null for downloads of dedicated clusters.
      type: str
      sample: dr-orders
    target_group_id:
      description: Target project, as dedicated and serverless jobs give it.
      type: str
      sample: 5f1a2b3c4d5e6f7a8b9c0d1e
    target_project_id:
      description: Target project, whatever the cluster type (legacy C(delivery.targetGroupId)).
      type: str
      sample: 5f1a2b3c4d5e6f7a8b9c0d1e
      version_added: 0.2.0
    point_in_time_utc_seconds:
      description: The point in time of a point-in-time restore, epoch seconds (legacy jobs without a snapshot, from C(timestamp)).
      type: int
      sample: 1763626500
      version_added: 0.2.0
    finished_at:
      description: When the job completed (dedicated and serverless C(finishedAt), flex C(restoreFinishedDate)).
      type: str
      sample: "2026-11-22T08:15:00Z"
    delivery_url:
      description: Download URLs of a completed dedicated or serverless download job.
      type: list
      elements: str
      sample: ["https://restore.example.invalid/6741a2b3.tar.gz"]
restore_job:
  description:
    - The job named by O(job_id), as last seen (also when the module fails because the job failed or the wait timed out).
  returned: when O(job_id) is given
  type: dict
  sample:
    id: 6741a2b3c4d5e6f7a8b9c0d1
    status: completed
    delivery_type: automated
    target_cluster_name: dr-orders
waited_seconds:
  description: Seconds spent waiting.
  returned: when O(wait=true)
  type: float
  sample: 1834.2
"""

from ansible_collections.atlasops.backup.plugins.module_utils._module import WAIT_ARGSPEC, AtlasModule, argument_spec
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_cluster_name, check_hex24
from ansible_collections.atlasops.backup.plugins.module_utils._views import DELIVERY_TYPES, JOB_STATUSES, newest_jobs_first


def main():
    atlas = AtlasModule(
        argument_spec(
            job_id=dict(type="str", aliases=["restore_job_id"]),
            status=dict(type="list", elements="str", choices=list(JOB_STATUSES)),
            delivery_type=dict(type="str", choices=list(DELIVERY_TYPES)),
            snapshot_id=dict(type="str"),
            target_cluster_name=dict(type="str"),
            **WAIT_ARGSPEC,
        ),
        supports_check_mode=True,
    )
    params = atlas.params

    def body():
        atlas.check_connection_options()
        check_hex24("job_id", params["job_id"])
        check_hex24("snapshot_id", params["snapshot_id"])
        check_cluster_name("target_cluster_name", params["target_cluster_name"])
        if params["wait"] and not params["job_id"]:
            raise InvalidInputError("wait needs job_id: name the restore job to wait for")
        backup = atlas.backup()
        if params["job_id"]:
            # The module changes nothing, so it waits in check mode too.
            job = backup.restore_job(params["job_id"], deadline=atlas.deadline(in_check_mode=True))
            atlas.result.update(restore_job=job, restore_jobs=[job])
            atlas.wait_for_jobs(backup, [job], in_check_mode=True)
            return
        atlas.result["restore_jobs"] = newest_jobs_first(job for job in backup.restore_jobs() if passes(job, params))

    atlas.run(body)


def passes(job: dict, params: dict) -> bool:
    if params["status"] and job["status"] not in params["status"]:
        return False
    if params["delivery_type"] and job["delivery_type"] != params["delivery_type"]:
        return False
    if params["snapshot_id"] and job.get("snapshot_id") != params["snapshot_id"]:
        return False
    if params["target_cluster_name"] and job["target_cluster_name"] != params["target_cluster_name"]:
        return False
    return True


if __name__ == "__main__":
    main()
