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

from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._module import AtlasModule, argument_spec
from ansible_collections.atlasops.backup.plugins.module_utils._timeparse import parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_hex24
from ansible_collections.atlasops.backup.plugins.module_utils._views import snapshot_time, snapshot_view


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
    cluster_type = params["cluster_type"]

    def check_options():
        """Refuse what the cluster type does not have; return `before` as epoch seconds (or None)."""
        check_hex24("snapshot_id", params["snapshot_id"])
        if params["sharded"] and cluster_type != "dedicated":
            raise InvalidInputError(f"sharded applies to dedicated clusters only, not to cluster_type {cluster_type}")
        if params["snapshot_type"] and cluster_type in ("flex", "legacy"):
            raise InvalidInputError(f"{cluster_type} snapshots have no type: leave snapshot_type out")
        if params["snapshot_type"] == "fallback" and cluster_type != "dedicated":
            raise InvalidInputError("only dedicated clusters have fallback snapshots")
        if params["before"] is None:
            return None
        return parse_point_in_time("before", params["before"], allow_future=True)

    before, = atlas.check_inputs([check_options])
    client = atlas.client()
    path_params = dict(project_id=params["project_id"], cluster_name=params["cluster_name"], snapshot_id=params["snapshot_id"])
    try:
        if params["snapshot_id"]:
            operation = "get_sharded_snapshot" if params["sharded"] else "get_snapshot"
            raw = client.call(endpoint(cluster_type, operation), path_params, context=cluster_type)
            snapshots = [snapshot_view(raw, cluster_type)]
        else:
            operation = "list_sharded_snapshots" if params["sharded"] else "list_snapshots"
            query = None
            if cluster_type == "legacy":
                # The legacy list leaves incomplete snapshots out unless asked for them.
                query = {"completed": "true" if params["completed_only"] else "all"}
            raws = client.list_all(endpoint(cluster_type, operation), path_params, query=query, context=cluster_type)
            snapshots = select(raws, cluster_type, params["completed_only"], params["snapshot_type"], before)
    except AtlasError as error:
        atlas.fail_error(error)
    atlas.module.exit_json(changed=False, snapshots=snapshots, snapshot=snapshots[0] if snapshots else None)


def select(raws: list, cluster_type: str, completed_only: bool, snapshot_type: str | None, before: int | None) -> list:
    """The snapshots that pass the filters, newest first."""
    chosen = []
    for raw in raws:
        taken = snapshot_time(raw, cluster_type)
        view = snapshot_view(raw, cluster_type)
        if completed_only and view["status"] != "completed":
            continue
        if snapshot_type and view.get("snapshot_type") != snapshot_type:
            continue
        if before is not None and (taken is None or taken > before):
            continue
        chosen.append((taken if taken is not None else float("-inf"), view))
    chosen.sort(key=lambda pair: pair[0], reverse=True)
    return [view for dummy, view in chosen]


if __name__ == "__main__":
    main()
