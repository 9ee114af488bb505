# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup operations of one Atlas cluster, answering in normalized views.

The only reader of the endpoint table: modules and services ask a ClusterBackup, never the client
with an endpoint of their own.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from typing import Iterator

from ansible_collections.atlasops.backup.plugins.module_utils._endpoints import endpoint
from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._views import job_view, snake_keys, snapshot_view


class ClusterBackup:
    """Restore jobs, snapshots and the cluster description of one cluster of one backup family."""

    def __init__(self, client, project_id: str, cluster_name: str, cluster_type: str):
        self.client = client
        self.project_id = project_id
        self.cluster_name = cluster_name
        self.cluster_type = cluster_type
        self._params = dict(project_id=project_id, cluster_name=cluster_name)

    def has(self, operation: str) -> bool:
        try:
            endpoint(self.cluster_type, operation)
        except ValueError:
            return False
        return True

    # --- restore jobs ---------------------------------------------------------------------------

    def restore_jobs(self, *, deadline: float | None = None) -> Iterator[dict]:
        """Every restore job of the cluster (all pages, in Atlas's order), as job views."""
        for raw in self._items("list_restore_jobs", deadline=deadline):
            yield job_view(raw, self.cluster_type)

    def restore_job(self, job_id: str, *, deadline: float | None = None) -> dict:
        return job_view(self._call("get_restore_job", job_id=job_id, deadline=deadline), self.cluster_type)

    def create_restore_job(self, body: dict, *, deadline: float | None = None) -> list:
        """POST one restore; the job views it made (a legacy restore of a sharded cluster makes a batch).

        A success answer that names no job cannot say whether Atlas made one: it is a lost answer
        (ambiguous), so the caller looks for the job before it would send anything again.
        """
        target = endpoint(self.cluster_type, "create_restore_job")
        answer = self.client.call(target, self._params, body=body, deadline=deadline, expect=dict)
        raws = answer.get("results") if self.cluster_type == "legacy" else [answer]
        jobs = [job_view(raw, self.cluster_type) for raw in raws if isinstance(raw, dict)] if isinstance(raws, list) else []
        if not jobs or len(jobs) != len(raws) or not all(isinstance(job.get("id"), str) and job["id"] for job in jobs):
            raise AtlasError(f"{target.operation_id}: Atlas answered without the restore job it made, if it made one",
                             operation=target.operation_id, transient=True, ambiguous=True)
        return jobs

    def cancel_restore_job(self, job_id: str) -> None:
        self._call("cancel_restore_job", job_id=job_id)

    # --- snapshots ------------------------------------------------------------------------------

    def snapshots(self, *, sharded: bool = False, query: dict | None = None, deadline: float | None = None) -> Iterator[dict]:
        """Every snapshot of the cluster (all pages), as snapshot views."""
        operation = "list_sharded_snapshots" if sharded else "list_snapshots"
        for raw in self._items(operation, query=query, deadline=deadline):
            yield snapshot_view(raw, self.cluster_type)

    def snapshot(self, snapshot_id: str, *, sharded: bool = False, deadline: float | None = None) -> dict:
        operation = "get_sharded_snapshot" if sharded else "get_snapshot"
        return snapshot_view(self._call(operation, snapshot_id=snapshot_id, deadline=deadline), self.cluster_type)

    def take_snapshot(self, description: str, retention_days: int, *, deadline: float | None = None) -> dict:
        """Start an on-demand snapshot (dedicated clusters)."""
        raw = self._call("take_snapshot", body={"description": description, "retentionInDays": retention_days}, deadline=deadline)
        return snapshot_view(raw, self.cluster_type)

    # --- the cluster itself ---------------------------------------------------------------------

    def cluster(self, *, deadline: float | None = None) -> dict:
        """The cluster's description (state, versions, shards, encryption ...), keys in snake_case."""
        return snake_keys(self._call("get_cluster", deadline=deadline))

    def backup_schedule(self, *, deadline: float | None = None) -> dict:
        return snake_keys(self._call("get_backup_schedule", deadline=deadline))

    def sibling(self, project_id: str, cluster_name: str, cluster_type: str | None = None) -> "ClusterBackup":
        """Another cluster (a restore's target) through the same client."""
        return ClusterBackup(self.client, project_id, cluster_name, cluster_type or self.cluster_type)

    def described(self, *, deadline: float | None = None) -> tuple:
        """This cluster as Atlas describes it, through the family that serves it: (backup, description).

        A dedicated cluster asked through the flex API (and the other way round) answers 400 with an error code
        that names the other family; the description is then read there, and the backup it returns is that family's.
        """
        other = {"CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API": "flex", "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API": "dedicated"}
        try:
            return self, self.cluster(deadline=deadline)
        except AtlasError as error:
            family = other.get(error.error_code or "")
            if family is None or family == self.cluster_type:
                raise
        backup = self.sibling(self.project_id, self.cluster_name, family)
        return backup, backup.cluster(deadline=deadline)

    # --- plumbing -------------------------------------------------------------------------------

    def _call(self, operation: str, *, body: dict | None = None, deadline: float | None = None, **params):
        """One operation whose answer is one object (DELETE: none)."""
        target = endpoint(self.cluster_type, operation)
        answer = self.client.call(target, dict(self._params, **params), body=body, deadline=deadline)
        if target.method == "DELETE":
            return None
        if not isinstance(answer, dict):
            shape = "no body" if answer is None else f"a JSON {type(answer).__name__}"
            raise AtlasError(f"{target.operation_id}: Atlas answered with {shape} where an object belongs", operation=target.operation_id)
        return answer

    def _items(self, operation: str, *, query: dict | None = None, deadline: float | None = None):
        return self.client.items(endpoint(self.cluster_type, operation), self._params, query=query, deadline=deadline)
