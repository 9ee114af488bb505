#!/usr/bin/python
# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot_info
short_description: Find MongoDB Atlas backup snapshots
version_added: 0.1.0
description:
  - Lists the backup snapshots of an Atlas cluster, newest first, or reads one snapshot.
  - Returns the newest matching snapshot as RV(snapshot), so the latest completed snapshot, or the last good snapshot taken
    before an incident (O(before)), is one task.
  - Works for dedicated clusters (Cloud Backup, replica sets and sharded clusters), flex clusters, serverless instances and
    legacy backup.
author:
  - Atlasops Team (@atlasops)
extends_documentation_fragment:
  - atlasops.backup.atlas
  - atlasops.backup.atlas.identity
  - atlasops.backup.atlas.attributes
  - atlasops.backup.atlas.info_module
options:
  sharded:
    description:
      - Use the snapshot endpoints of sharded clusters. Only with O(cluster_type=dedicated).
    type: bool
    default: false
  snapshot_id:
    description:
      - Read only this snapshot (24 hexadecimal characters). The filters below do not apply to it.
    type: str
  before:
    description:
      - Keep only snapshots taken at or before this time.
      - ISO 8601 with a timezone offset (V(2026-11-20T08:15:00Z)) or epoch seconds.
      - Flex snapshots without a start time are left out when this is set.
    type: raw
  snapshot_type:
    description:
      - Keep only snapshots of this type.
      - V(fallback) exists only for dedicated clusters. Flex and legacy snapshots have no type, so this is refused for them.
    type: str
    choices: [on_demand, scheduled, fallback]
  completed_only:
    description:
      - Keep only snapshots whose status is completed.
    type: bool
    default: true
seealso:
  - module: atlasops.backup.restore_job
  - module: atlasops.backup.restore_job_info
"""

EXAMPLES = r"""
- name: Find the latest completed snapshot of a cluster
  atlasops.backup.snapshot_info:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
  register: latest

- name: Find the last good snapshot taken before an incident
  atlasops.backup.snapshot_info:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: prod-orders
    before: "2026-11-20T08:15:00Z"
  register: before_incident

- name: Fail when no snapshot qualifies
  ansible.builtin.assert:
    that: before_incident.snapshot is not none
    fail_msg: No completed snapshot of prod-orders at or before the incident

- name: List every snapshot of a flex cluster, whatever its status
  atlasops.backup.snapshot_info:
    project_id: 5f1a2b3c4d5e6f7a8b9c0d1e
    cluster_name: flex-catalog
    cluster_type: flex
    completed_only: false
  register: flex_snapshots
"""

RETURN = r"""
snapshots:
  description:
    - The matching snapshots, newest first, with Atlas's keys in snake_case.
    - With O(snapshot_id), a list holding that snapshot.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Snapshot ID.
      type: str
      sample: 6741a2b3c4d5e6f7a8b9c0d1
    status:
      description: Normalized status.
      type: str
      sample: completed
      choices: [pending, in_progress, completed, failed]
    atlas_status:
      description: The status as Atlas gave it, where the snapshot has one (not legacy snapshots).
      type: str
      sample: completed
    created_at:
      description: When the snapshot was taken (dedicated and serverless).
      type: str
      sample: "2026-11-20T06:00:00Z"
    start_time:
      description: When the snapshot was started (flex).
      type: str
      sample: "2026-11-20T06:00:00Z"
    created:
      description: When the snapshot was taken (legacy), as a BSON timestamp.
      type: dict
      sample: {date: "2026-11-20T06:00:00Z", increment: 1}
    snapshot_type:
      description: V(on_demand), V(scheduled) or V(fallback) (dedicated and serverless).
      type: str
      sample: scheduled
    taken_at:
      description:
        - When the snapshot was taken, as Atlas gives it for the cluster type (C(created_at), C(start_time) or C(created.date)).
        - Null while Atlas is still taking it; such a snapshot lists first.
      type: str
      sample: "2026-11-20T06:00:00Z"
      version_added: 0.2.0
  sample:
    - id: 6741a2b3c4d5e6f7a8b9c0d1
      status: completed
      atlas_status: completed
      created_at: "2026-11-20T06:00:00Z"
      snapshot_type: scheduled
      frequency_type: daily
      storage_size_bytes: 1073741824
snapshot:
  description:
    - The newest matching snapshot, or null when none matches.
  returned: success
  type: dict
  sample:
    id: 6741a2b3c4d5e6f7a8b9c0d1
    status: completed
    created_at: "2026-11-20T06:00:00Z"
"""

from ansible_collections.atlasops.backup.plugins.module_utils._module import AtlasModule, argument_spec
from ansible_collections.atlasops.backup.plugins.module_utils._snapshots import check_snapshot_options, list_query, select


def main():
    atlas = AtlasModule(
        argument_spec(
            sharded=dict(type="bool", default=False),
            snapshot_id=dict(type="str"),
            before=dict(type="raw"),
            snapshot_type=dict(type="str", choices=["on_demand", "scheduled", "fallback"]),
            completed_only=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = atlas.params

    def body():
        atlas.check_connection_options()
        before = check_snapshot_options(params)
        backup = atlas.backup()
        if params["snapshot_id"]:
            snapshots = [backup.snapshot(params["snapshot_id"], sharded=params["sharded"])]
        else:
            query = list_query(params["cluster_type"], params["completed_only"])
            snapshots = select(backup.snapshots(sharded=params["sharded"], query=query), completed_only=params["completed_only"],
                               snapshot_type=params["snapshot_type"], before=before)
        atlas.result.update(snapshots=snapshots, snapshot=snapshots[0] if snapshots else None)

    atlas.run(body)


if __name__ == "__main__":
    main()
