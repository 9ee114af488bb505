# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The safety snapshot: an on-demand snapshot of a restore's target, taken (or found again) before the restore overwrites it.

A restore is named in the snapshot's description, so that a re-run of the same restore finds the snapshot it took
instead of taking another one. No Ansible inside: warnings go to a callback, time to an injectable clock.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import time

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._time import iso_utc
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import wait_for

RETENTION_DAYS = 7
# Without wait, the snapshot is still waited for, this long at most.
UNWAITED_TIMEOUT = 3600
DESCRIPTION_PREFIX = "atlasops.backup safety snapshot"
_FINISHED = ("completed", "failed")


def description(request) -> str:
    """The description that names this restore: source, snapshot or point in time, target (at most 256 characters)."""
    if request.snapshot_id:
        what = f"snapshot {request.snapshot_id}"
    elif request.point_in_time is not None:
        what = f"point in time {iso_utc(request.point_in_time)}"
    else:
        what = f"oplog {request.oplog_ts}.{request.oplog_inc}"
    return (f"{DESCRIPTION_PREFIX} before restoring {request.project_id}/{request.cluster_name} {what} into "
            f"{request.target_project}/{request.target_cluster_name}")[:256]


def refusal(target_type: str, target: dict | None, target_name: str) -> str | None:
    """Why no safety snapshot of this target can be taken (a flex cluster, backup disabled), or None."""
    if target_type == "flex":
        return (f"target_safety_snapshot: target cluster {target_name} is a flex cluster, and Atlas takes no on-demand snapshots "
                "of flex clusters; nothing was sent. Restore without target_safety_snapshot, or into a dedicated cluster")
    if target_type != "dedicated":
        return (f"target_safety_snapshot: Atlas takes on-demand snapshots of dedicated clusters with Cloud Backup only, not of "
                f"{target_type} target cluster {target_name}; nothing was sent. Restore without target_safety_snapshot")
    if target is not None and target.get("backup_enabled") is False:
        return (f"target_safety_snapshot: target cluster {target_name} has backup disabled, so Atlas cannot snapshot it; nothing "
                "was sent. Enable backup on it, or restore without target_safety_snapshot")
    return None


def undo_message(snapshot_id: str, target_project: str, target_name: str) -> str:
    return (f"to undo, restore snapshot {snapshot_id} of {target_name} into {target_name} (project {target_project}): "
            f"restore_cluster_name: {target_name}, restore_snapshot_id: {snapshot_id}, restore_target_cluster_name: {target_name}, "
            "restore_allow_overwrite_source: true")


class SafetySnapshot:
    """Find or take the safety snapshot of one target (target_backup: its ClusterBackup) and wait until it is completed."""

    def __init__(self, target_backup, request, *, sharded: bool, check_mode: bool, warn, clock=time.monotonic,
                 sleep=time.sleep):
        self.backup = target_backup
        self.request = request
        self.description = description(request)
        self.sharded = sharded
        self.check_mode = check_mode
        self.warn = warn
        self.clock = clock
        self.sleep = sleep

    def find(self, deadline: float | None = None) -> dict | None:
        """The newest snapshot of the target whose description names this restore and that has not failed."""
        found = [view for view in self.backup.snapshots(sharded=self.sharded, deadline=deadline)
                 if view.get("description") == self.description and view.get("status") != "failed"]
        return max(found, key=lambda view: str(view.get("id") or "")) if found else None

    def ensure(self, deadline: float) -> dict:
        """The snapshot (re-used or taken), completed; in check mode what would be done. Raises when it cannot be had in time."""
        existing = self.find(deadline)
        if existing is not None:
            action = "reused"
        elif self.check_mode:
            return self.report(None, "would_take")
        else:
            existing, action = self.take(deadline), "taken"
        if self.check_mode or existing.get("status") == "completed":
            return self.report(existing, action)
        return self.report(self.wait(existing, deadline), action)

    def take(self, deadline: float) -> dict:
        try:
            return self.backup.take_snapshot(self.description, RETENTION_DAYS, deadline=deadline)
        except AtlasError as error:
            if not error.ambiguous:
                raise
            # The answer was lost, not necessarily the snapshot: look for it before anything else.
            found = self.find(deadline)
            if found is not None:
                self.warn(f"the answer to the on-demand snapshot request was lost ({error}); found the snapshot it took: {found.get('id')}")
                return found
            raise AtlasError(f"the on-demand snapshot request of target cluster {self.backup.cluster_name} was sent but its answer was "
                             f"lost ({error}) and no such snapshot shows yet; nothing was restored. Re-running the task is safe: it "
                             "looks for that snapshot by its description first", status=error.status, error_code=error.error_code,
                             operation=error.operation, transient=True) from None

    def wait(self, snapshot: dict, deadline: float) -> dict:
        outcome = wait_for(lambda until: self.backup.snapshot(snapshot["id"], sharded=self.sharded, deadline=until),
                           lambda view: view.get("status") in _FINISHED, max(0.0, deadline - self.clock()),
                           clock=self.clock, sleep=self.sleep, initial=snapshot)
        seen = outcome.value or snapshot
        if not outcome.done:
            last = f"; the last poll failed: {outcome.last_error}" if outcome.last_error else ""
            raise AtlasError(f"safety snapshot {snapshot['id']} of target cluster {self.backup.cluster_name} was not completed in time "
                             f"(last seen {seen.get('status')}){last}; nothing was restored. Re-running the task re-uses that "
                             "snapshot", timed_out=True)
        if seen.get("status") == "failed":
            raise InvalidInputError(f"safety snapshot {snapshot['id']} of target cluster {self.backup.cluster_name} failed; nothing was "
                                    "restored. Re-running the task takes a new one")
        return seen

    def report(self, snapshot: dict | None, action: str) -> dict:
        request = self.request
        result = {"id": None, "status": None, "taken_at": None, "expires_at": None, "action": action,
                  "cluster_name": request.target_cluster_name, "project_id": request.target_project,
                  "description": self.description, "retention_days": RETENTION_DAYS, "undo": None}
        if snapshot is not None:
            result.update(id=snapshot.get("id"), status=snapshot.get("status"), taken_at=snapshot.get("taken_at"),
                          expires_at=snapshot.get("expires_at"))
            if snapshot.get("status") == "completed" and snapshot.get("id"):
                result["undo"] = undo_message(snapshot["id"], request.target_project, request.target_cluster_name)
        return result
