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
  - atlasops.backup.atlas.identity
  - atlasops.backup.atlas.attributes
  - atlasops.backup.atlas.wait
attributes:
  check_mode:
    support: full
    details:
      - Sends no create and no cancel request, and does not wait (O(wait) is ignored, with a warning).
      - Returns RV(request), the body that would be sent, and RV(reused).
      - Runs every pre-flight check (reads only) and fails as the real run would when one fails; with
        O(target_safety_snapshot) it looks for an existing safety snapshot and otherwise says it would take one.
  diff_mode:
    support: full
    details:
      - Both sides have the keys C(delivery_type), C(snapshot_id), C(point_in_time_utc_seconds), C(oplog_ts), C(oplog_inc),
        C(target_cluster_name), C(target_project_id) and C(status). C(before) is the matching job, or empty.
  idempotent:
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
      - The snapshot to restore, 24 hexadecimal characters. For V(automated) and V(download), this or O(latest_snapshot) or
        O(snapshot_before) is required.
      - Find one with M(atlasops.backup.snapshot_info). With O(preflight), a snapshot that Atlas does not have or that is not
        completed is refused before anything is sent.
    type: str
  latest_snapshot:
    description:
      - Restore the newest completed snapshot of the source (at or before O(snapshot_before) when given) instead of a
        O(snapshot_id), looked up in the same run.
      - A re-run may find a newer snapshot by then, so with a snapshot chosen this way the module first looks for an earlier
        restore of this source into this target (same delivery type and target project). One still running whose snapshot
        meets the selection is re-used (attached to); one completed within O(reuse_window) is re-used; any other is refused
        before anything is sent, naming that job, its snapshot and times, because the target may hold live data by now.
        O(force=true) restores again. RV(selection) says which.
      - For V(automated) and V(download).
    type: bool
    default: false
    version_added: 0.2.0
  snapshot_before:
    description:
      - Implies O(latest_snapshot), restricted to snapshots taken at or before this time (the last good snapshot before an
        incident). ISO 8601 with a timezone offset, or epoch seconds.
      - An earlier restore is re-used only when its snapshot was taken at or before this time too.
    type: raw
    version_added: 0.2.0
  sharded:
    description:
      - With O(latest_snapshot) or O(snapshot_before), use the sharded-cluster snapshot list (dedicated sharded clusters).
    type: bool
    default: false
    version_added: 0.2.0
  reuse_window:
    description:
      - With O(latest_snapshot) or O(snapshot_before), the seconds after its end during which a completed earlier restore
        into this target is re-used instead of refused.
    type: int
    default: 43200
    version_added: 0.2.0
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
  preflight:
    description:
      - Before the create request, read the source and target clusters, the snapshot and, for a point in time, the source's
        backup schedule (GET requests only), and refuse a restore that Atlas's documented restore rules say cannot work,
        naming the rule and both values. Nothing is sent when a check fails.
      - Each check is a row of RV(preflight), also in check mode. A check whose facts cannot be read (the credentials may not
        read the cluster, the source no longer exists, a transient error after the retries) is reported as C(ok=null) with
        the reason and a warning, and does not block.
      - Checks are judged on the snapshot's own facts where it has them (its MongoDB version, its shard members, its
        config-server type), otherwise on the source cluster.
      - "The checks: C(target_exists); C(target_not_paused); C(target_not_deleting); C(mongodb_version) (the target's release
        line is the snapshot's or the next one, never an older one: 7.0 into 7.0 or 8.0, not 8.0 into 7.0);
        C(feature_compatibility_version) (a pinned FCV of the target matches the snapshot's line); C(sharded_target) (a
        sharded snapshot never goes into a replica set); C(shard_count) (the same number of shards); C(config_server_type)
        (the same config-server type); C(database_edition) (the same edition where Atlas reports one);
        C(encryption_at_rest) (the same encryption-at-rest provider); C(source_backup_enabled); C(continuous_backup)
        (a point in time needs continuous cloud backup); C(pit_window) (the point in time lies inside the schedule's
        restore window and not in the future); C(snapshot_age) (see O(max_snapshot_age))."
      - A re-run that re-uses an existing job for this restore is never refused by the checks (it warns about a failing one).
      - Flex clusters are judged on the facts Atlas reports for them; a flex target is not refused for facts Atlas does not
        report. Serverless instances have no cluster description here, so their checks are reported as not judged.
      - Cluster reads use API version 2024-08-05, flex clusters 2024-11-13.
    type: bool
    default: true
  preflight_skip:
    description:
      - Names of pre-flight checks to turn off (see O(preflight) for the names). A skipped check is a row with C(ok=null)
        that says so. An unknown name is refused before any request.
    type: list
    elements: str
    default: []
  max_snapshot_age:
    description:
      - With O(preflight), refuse a snapshot taken more than this many seconds ago, naming its age (backups that
        silently stopped). V(0) means no limit.
    type: int
    default: 0
  target_safety_snapshot:
    description:
      - Before the restore overwrites the target, take an on-demand snapshot of the target cluster (retained 7 days, its
        description naming this restore by its source, snapshot or point in time, and target) and wait until it is completed,
        within O(wait_timeout) with O(wait=true), else within 3600 seconds. The restore is sent only after it completed.
      - A re-run finds the snapshot whose description names this restore and re-uses it instead of taking another; a run
        that re-uses an existing restore job takes none.
      - Refused before anything is sent when the target is a flex cluster (Atlas takes no on-demand snapshots of flex
        clusters) or has backup disabled. Ignored, with a warning, for downloads.
      - RV(safety_snapshot) says how to undo the restore (restore that snapshot into the target with the role's
        C(restore_allow_overwrite_source=true)).
      - Needs the Project Backup Manager role on the target's project, or another role that may take snapshots.
    type: bool
    default: false
  wait_for_target:
    description:
      - With O(wait=true), after the job completed, also wait until the target cluster is ready (IDLE, not paused, no
        change in progress) and return RV(target_ready_at). These polls count against the same O(wait_timeout).
      - A target that the credentials may not read is a warning and RV(target_ready_at=null), not a failure. A target still
        not ready at the deadline is a failure saying that the restore completed but the target is not ready.
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

- name: Restore the last good snapshot before an incident in one task (a re-run re-uses that restore)
  atlasops.backup.restore_job:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    snapshot_before: "2026-11-20T08:00:00Z"
    target_cluster_name: dr-orders
    wait: true

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
restore_jobs:
  description:
    - Every job of this restore, as last seen; one, except for a legacy restore of a sharded cluster, which Atlas runs as a
      batch of jobs (one per shard and config server). RV(restore_job) is the first of them, with the worst status of the
      batch.
  returned: when a job was started, re-used or adopted
  type: list
  elements: dict
  version_added: 0.2.0
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
reused_status:
  description: The status of the re-used or adopted job when this run found it, before any wait; null for a job this run started.
  returned: always
  type: str
  sample: in_progress
  version_added: 0.2.0
snapshot:
  description:
    - The snapshot restored, as read before the create (see M(atlasops.backup.snapshot_info) for its keys); with
      O(latest_snapshot), the chosen one, or the snapshot of the earlier restore that is re-used.
    - Null for point-in-time restores, when the snapshot could not be read, and for a given O(snapshot_id) with
      O(preflight=false) (it is not read then).
  returned: with O(state=present), no O(job_id), and O(delivery_type=automated) or O(delivery_type=download)
  type: dict
  version_added: 0.2.0
selection:
  description:
    - How the snapshot was chosen and what the run did about earlier restores.
    - C(action) is V(given) (O(snapshot_id)), V(new) (the chosen snapshot is restored), V(attach) (a running earlier restore
      is re-used), V(reuse) (a completed earlier restore is re-used), or, when nothing was sent, V(refuse_running),
      V(refuse_old) (an earlier restore is in the way), V(no_snapshot) (no completed snapshot qualifies),
      V(snapshot_not_found) or V(snapshot_not_completed) (the given O(snapshot_id)).
    - C(job) is the earlier restore (or null), C(age_seconds) how long ago it completed, C(satisfies) whether its snapshot
      meets the selection, and C(snapshot_id) the snapshot restored.
  returned: with O(state=present), no O(job_id), and O(delivery_type=automated) or O(delivery_type=download)
  type: dict
  sample:
    action: refuse_old
    job: {id: 6741a2b3c4d5e6f7a8b9c0d1, status: completed, snapshot_id: 6741a2b3c4d5e6f7a8b9c0aa}
    age_seconds: 90000
    satisfies: true
    snapshot_id: null
  version_added: 0.2.0
preflight:
  description:
    - The pre-flight checks, one row per check in a fixed order (see O(preflight)).
    - C(ok) is V(true) when the rule holds or does not apply, V(false) when it is broken (the restore is refused), and null
      when it could not be judged or was skipped; C(detail) says why, naming both values; C(values) holds the values
      compared (for example C(snapshot) and C(target)).
    - Null with O(preflight=false).
  returned: with O(state=present) and no O(job_id)
  type: list
  elements: dict
  sample:
    - check: mongodb_version
      ok: false
      detail: "MongoDB 8.0 (snapshot 6741a2b3c4d5e6f7a8b9c0aa) cannot be restored into MongoDB 7.0 (target cluster dr-orders): the
        target must run the same release line or the next one, never an older one"
      values: {snapshot: "8.0", target: "7.0"}
    - check: target_not_paused
      ok: true
      detail: target cluster dr-orders is not paused
      values: {paused: false}
safety_snapshot:
  description:
    - The safety snapshot of the target (O(target_safety_snapshot)).
    - C(action) is V(taken), V(reused) (found by its description), V(would_take) (check mode), or V(not_taken) (an existing
      restore job was re-used).
    - C(undo) says how to undo the restore with it; null until it is completed.
  returned: with O(target_safety_snapshot=true)
  type: dict
  sample:
    id: 6741a2b3c4d5e6f7a8b9c0ff
    action: taken
    status: completed
    cluster_name: dr-orders
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    description: atlasops.backup safety snapshot before restoring 5f1a2b3c4d5e6f7a8b9c0d1e/prod-orders snapshot
      6741a2b3c4d5e6f7a8b9c0aa into 5f1a2b3c4d5e6f7a8b9c0d1e/dr-orders
    retention_days: 7
    taken_at: "2026-11-22T07:40:00Z"
    expires_at: "2026-11-29T07:40:00Z"
    undo: "to undo, restore snapshot 6741a2b3c4d5e6f7a8b9c0ff of dr-orders into dr-orders (project 5f1a2b3c4d5e6f7a8b9c0d1e):
      restore_cluster_name: dr-orders, restore_snapshot_id: 6741a2b3c4d5e6f7a8b9c0ff, restore_target_cluster_name: dr-orders,
      restore_allow_overwrite_source: true"
target_ready_at:
  description:
    - With O(wait_for_target), the first time this run saw the target cluster ready (ISO 8601 UTC), or null when it could
      not be read.
  returned: with O(wait_for_target=true) and O(wait=true), outside check mode
  type: str
  sample: "2026-11-22T08:16:30Z"
waited_seconds:
  description: Seconds spent waiting for the job.
  returned: when O(wait=true), outside check mode
  type: float
  sample: 1834.2
"""

import time
from dataclasses import replace

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._module import WAIT_ARGSPEC, AtlasModule, argument_spec
from ansible_collections.atlasops.backup.plugins.module_utils._preflight import (
    check_options, failures, is_sharded_cluster, judge, read_facts, refusal, unjudged_warnings,
)
from ansible_collections.atlasops.backup.plugins.module_utils._restore import Restorer, restore_request
from ansible_collections.atlasops.backup.plugins.module_utils._safety import UNWAITED_TIMEOUT, SafetySnapshot, refusal as safety_refusal
from ansible_collections.atlasops.backup.plugins.module_utils._selection import REFUSALS, SnapshotPolicy, decide, refusal_message
from ansible_collections.atlasops.backup.plugins.module_utils._snapshots import check_sharded, list_query, parse_before
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_hex24
from ansible_collections.atlasops.backup.plugins.module_utils._views import DELIVERY_TYPES


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
            latest_snapshot=dict(type="bool", default=False),
            snapshot_before=dict(type="raw"),
            sharded=dict(type="bool", default=False),
            reuse_window=dict(type="int", default=43200),
            preflight=dict(type="bool", default=True),
            preflight_skip=dict(type="list", elements="str", default=[]),
            max_snapshot_age=dict(type="int", default=0),
            target_safety_snapshot=dict(type="bool", default=False),
            wait_for_target=dict(type="bool", default=False),
            **WAIT_ARGSPEC,
        ),
        supports_check_mode=True,
        required_if=[("state", "absent", ["job_id"])],
        required_together=[("oplog_ts", "oplog_inc")],
        mutually_exclusive=[("point_in_time", "oplog_ts")],
    )
    params = atlas.params

    def body():
        atlas.check_connection_options()
        check_hex24("job_id", params["job_id"])
        skip = check_options(params["preflight_skip"], params["max_snapshot_age"])
        creating = params["state"] == "present" and not params["job_id"]
        policy = snapshot_policy(params, creating)
        # adopting or cancelling a job needs only its identity
        request = restore_request(params, snapshot_chosen=policy is not None) if creating else None
        safety = params["target_safety_snapshot"] and creating
        if safety and request.delivery_type == "download":
            atlas.warn("target_safety_snapshot is ignored: a download restores into no cluster")
            safety = False
        if params["target_safety_snapshot"] and not creating:
            atlas.warn("target_safety_snapshot applies only when the module starts a restore: ignored")
        if atlas.check_mode and params["wait"]:
            atlas.warn("check mode does not wait for restore jobs: wait is ignored")
        if params["wait_for_target"] and not params["wait"] and params["state"] == "present":
            atlas.warn("wait_for_target needs wait: true; the target's readiness is not awaited")
        backup = atlas.backup()
        restorer = Restorer(backup, atlas.result, check_mode=atlas.check_mode, diff=atlas.diff_mode, warn=atlas.warn,
                            max_retries=params["max_retries"], request_timeout=params["request_timeout"],
                            deadline=atlas.deadline(), clock=backup.client.clock, sleep=backup.client.sleep)
        if params["state"] == "absent":
            restorer.cancel(params["job_id"])
            return
        if params["job_id"]:
            jobs = restorer.adopt(params["job_id"])
        else:
            jobs = start(atlas, backup, restorer, request, skip, safety, policy)
        if jobs:
            atlas.wait_for_jobs(backup, jobs)
            if restorer.sent_lost:
                restorer.warn_about_extra_jobs()  # a lost create may land late: look once more after the wait
            if params["wait_for_target"]:
                wait_for_target(atlas, backup, atlas.result["restore_job"])

    atlas.run(body)


def snapshot_policy(params: dict, creating: bool) -> SnapshotPolicy | None:
    """The snapshot chosen by policy (latest_snapshot, snapshot_before), checked before any request; None for a given one."""
    if not (params["latest_snapshot"] or params["snapshot_before"] is not None):
        return None
    if not creating:
        raise InvalidInputError("latest_snapshot and snapshot_before choose the snapshot of a new restore: not with job_id or "
                                "state=absent")
    check_sharded(params["sharded"], params["cluster_type"])
    if params["reuse_window"] < 0:
        raise InvalidInputError("reuse_window must be at least 0")
    return SnapshotPolicy(before=parse_before("snapshot_before", params["snapshot_before"]), reuse_window=params["reuse_window"])


def start(atlas, backup, restorer, request, skip, safety, policy):
    """The snapshot, pre-flight checks, the safety snapshot, then the restore (re-used, or created once)."""
    params = atlas.params
    deadline = atlas.deadline()
    result = atlas.result
    result["preflight"] = None
    if safety:
        result["safety_snapshot"] = None
    listed = None
    if policy is not None:
        listed = restorer.jobs()
        request = choose_snapshot(atlas, backup, request, policy, [] if params["force"] else listed, deadline)
    target_backup, target, facts = None, None, None
    if params["preflight"]:
        facts, target_backup = read_facts(backup, request, skip=skip, max_snapshot_age=params["max_snapshot_age"], deadline=deadline,
                                          snapshot=result.get("snapshot"))
        target = facts.target
        result["preflight"] = judge(facts, skip)
        for message in unjudged_warnings(result["preflight"]):
            atlas.warn(message)
    elif safety:
        try:
            target_backup, target = backup.sibling(request.target_project, request.target_cluster_name).described(deadline=deadline)
        except AtlasError:  # unreadable: the snapshot request itself then says what is wrong
            target_backup, target = None, None
    snapshot_missing = False
    if policy is None and request.snapshot_id:
        # read by the pre-flight; without it, not read at all
        result["snapshot"], snapshot_missing = (facts.snapshot, facts.snapshot_missing) if facts is not None else (None, False)
        result["selection"] = {"action": "given", "job": None, "age_seconds": None, "satisfies": None,
                               "snapshot_id": request.snapshot_id}
    snapshots = None
    if safety:
        # An unread target is taken for a dedicated one: Atlas's answer to the snapshot request then says what it is.
        target_type = target_backup.cluster_type if target_backup is not None else "dedicated"
        reason = safety_refusal(target_type, target, request.target_cluster_name)
        if reason:
            raise InvalidInputError(reason)
        snapshots = SafetySnapshot(target_backup or backup.sibling(request.target_project, request.target_cluster_name, "dedicated"),
                                   request, sharded=bool(is_sharded_cluster(target)), check_mode=atlas.check_mode, warn=atlas.warn,
                                   clock=backup.client.clock, sleep=backup.client.sleep)

    def before_create():
        if policy is None and request.snapshot_id:
            refuse_given_snapshot(result, request, snapshot_missing)
        if result["preflight"] and failures(result["preflight"]):
            raise InvalidInputError(refusal(result["preflight"]))
        if snapshots is None:
            return False
        until = deadline if deadline is not None else backup.client.clock() + UNWAITED_TIMEOUT
        result["safety_snapshot"] = snapshots.ensure(until)
        if result["safety_snapshot"]["action"] == "taken":
            result["changed"] = True
        return result["safety_snapshot"]["action"] == "taken"

    jobs = restorer.ensure(request, force=params["force"], before_create=before_create, jobs=listed)
    if (result.get("safety_snapshot") or {}).get("action") == "taken":
        result["changed"] = True  # even when another run's job was re-used after a 409
    if result.get("reused"):
        job_id = result["restore_job"]["id"]
        if result["preflight"]:
            for entry in failures(result["preflight"]):
                atlas.warn(f"pre-flight check {entry['check']} fails ({entry['detail']}), but restore job {job_id} already exists "
                           "for this restore: it is re-used, nothing new is sent")
        if snapshots is not None and result["safety_snapshot"] is None:  # None: not looked for before a create
            found = snapshots.find(deadline)
            result["safety_snapshot"] = snapshots.report(found, "reused" if found else "not_taken")
            if found is None:
                atlas.warn(f"restore job {job_id} already exists for this restore: no safety snapshot is taken of a target "
                           "that is already being restored")
    return jobs


def choose_snapshot(atlas, backup, request, policy, jobs, deadline):
    """The snapshot by policy, and what to do about an earlier restore into this target: the request with its snapshot, or a refusal."""
    sharded = atlas.params["sharded"]
    snapshots = backup.snapshots(sharded=sharded, query=list_query(backup.cluster_type, completed_only=True), deadline=deadline)
    selection = decide(request, policy, jobs, snapshots, now=time.time())
    if selection.job is not None and selection.snapshot is None and selection.job.get("snapshot_id"):
        try:  # the earlier restore's snapshot, for its time (it may have been deleted since)
            selection.snapshot = backup.snapshot(selection.job["snapshot_id"], sharded=sharded, deadline=deadline)
        except AtlasError:
            selection.snapshot = None
    atlas.result.update(selection=selection.as_result(), snapshot=selection.snapshot)
    if selection.action in REFUSALS:
        raise InvalidInputError(refusal_message(selection, request, policy))
    return replace(request, snapshot_id=selection.snapshot_id)


def refuse_given_snapshot(result, request, missing):
    """Before a create: a given snapshot that Atlas does not have, or that is not completed, cannot be restored."""
    snapshot = result["snapshot"]
    source = f"of cluster {request.cluster_name}"
    if missing:
        result["selection"]["action"] = "snapshot_not_found"
        raise InvalidInputError(f"snapshot {request.snapshot_id} {source} was not found: nothing was sent to Atlas")
    # judged only on an answer that is this snapshot: Atlas's own refusal speaks for anything else
    if snapshot is not None and snapshot.get("id") == request.snapshot_id and snapshot.get("status") != "completed":
        result["selection"]["action"] = "snapshot_not_completed"
        raise InvalidInputError(f"snapshot {request.snapshot_id} {source} is {snapshot.get('status')}, not completed: it cannot be "
                                "restored; nothing was sent to Atlas")


def wait_for_target(atlas, backup, job):
    """With wait_for_target: after the job completed, wait until its target cluster is ready."""
    target_name = job.get("target_cluster_name")
    if job.get("delivery_type") == "download" or not target_name:
        atlas.warn("wait_for_target is ignored: a download restores into no cluster")
        atlas.result["target_ready_at"] = None
        return
    if not backup.has("get_cluster"):
        atlas.warn(f"wait_for_target is ignored: this collection reads no description of {backup.cluster_type} clusters")
        atlas.result["target_ready_at"] = None
        return
    target_project = job.get("target_project_id") or backup.project_id
    atlas.wait_for_target(backup.sibling(target_project, target_name), resolved=False)


if __name__ == "__main__":
    main()
