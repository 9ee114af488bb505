# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Atlas Admin API v2 operations this collection calls: one row per (cluster type, operation).

Only the backup service (_backup.py) reads this table.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ansible_collections.atlasops.backup.plugins.module_utils._validation import check_cluster_name, check_hex24

API_ROOT = ("api", "atlas", "v2")
MEDIA_2023 = "application/vnd.atlas.2023-01-01+json"
MEDIA_2024_08 = "application/vnd.atlas.2024-08-05+json"
MEDIA_FLEX = "application/vnd.atlas.2024-11-13+json"

CLUSTER_TYPES = ("dedicated", "flex", "serverless", "legacy")

# Path parameters and how each is checked before it goes into a URL.
_PARAM_CHECKS = {
    "project_id": check_hex24,
    "job_id": check_hex24,
    "snapshot_id": check_hex24,
    "cluster_name": check_cluster_name,
}


@dataclass(frozen=True)
class Endpoint:
    operation_id: str
    method: str
    segments: tuple  # literal path segments and "{param}" placeholders, below /api/atlas/v2
    media_type: str
    paginated: bool = False
    role: str = "Project Read Only"  # the least Atlas role that may call it, for 403 hints
    cluster_type: str = ""  # the backup family whose endpoints these are (for hints that depend on it)

    def path(self, params: dict) -> str:
        """The URL path with every placeholder checked and percent-encoded."""
        parts = list(API_ROOT)
        for segment in self.segments:
            if segment.startswith("{"):
                name = segment[1:-1]
                value = params.get(name)
                if value is None:
                    raise ValueError(f"{self.operation_id} needs {name}")
                _PARAM_CHECKS[name](name, value)
                segment = quote(value, safe="")
            parts.append(segment)
        return "/" + "/".join(parts)


_PROJECT = ("groups", "{project_id}")
_CLUSTER = _PROJECT + ("clusters", "{cluster_name}")
_FLEX_CLUSTER = _PROJECT + ("flexClusters", "{cluster_name}")
_RECOVERY_ROLE = "Project Backup Export Operator or Project Backup Recovery Operator"


def _family(cluster_type: str, prefix: str, base: tuple, media_type: str, read_role: str, create_role: str, **more) -> dict:
    """The list/get/create restore-job and snapshot operations that every cluster type has, plus its own ones."""
    jobs = base + ("restoreJobs",)
    snapshots = base + ("snapshots",)
    rows = {
        "list_restore_jobs": (f"list{prefix}RestoreJobs", "GET", jobs, media_type, True, read_role),
        "create_restore_job": (f"create{prefix}RestoreJob", "POST", jobs, media_type, False, create_role),
        "get_restore_job": (f"get{prefix}RestoreJob", "GET", jobs + ("{job_id}",), media_type, False, read_role),
        "list_snapshots": (f"list{prefix}Snapshots", "GET", snapshots, media_type, True),
        "get_snapshot": (f"get{prefix}Snapshot", "GET", snapshots + ("{snapshot_id}",), media_type),
    }
    rows.update(more)
    return {operation: Endpoint(*row, cluster_type=cluster_type) for operation, row in rows.items()}


_CLOUD_BACKUP = _CLUSTER + ("backup",)
_CLOUD_SNAPSHOTS = _CLOUD_BACKUP + ("snapshots",)
# A dedicated cluster's own description (state, versions, shards, encryption), also for legacy-backup clusters.
_GET_CLUSTER = ("getGroupCluster", "GET", _CLUSTER, MEDIA_2024_08)

ENDPOINTS = {
    "dedicated": _family(
        "dedicated", "GroupClusterBackup", _CLOUD_BACKUP, MEDIA_2023, "Project Backup Manager", _RECOVERY_ROLE,
        cancel_restore_job=("cancelGroupClusterBackupRestoreJob", "DELETE", _CLOUD_BACKUP + ("restoreJobs", "{job_id}"), MEDIA_2023,
                            False, _RECOVERY_ROLE),
        # The sharded list declares no paging parameters: Atlas answers it in one page.
        list_sharded_snapshots=("listGroupClusterBackupSnapshotShardedClusters", "GET", _CLOUD_SNAPSHOTS + ("shardedClusters",), MEDIA_2023),
        get_sharded_snapshot=("getGroupClusterBackupSnapshotShardedCluster", "GET", _CLOUD_SNAPSHOTS + ("shardedCluster", "{snapshot_id}"),
                              MEDIA_2023),
        take_snapshot=("takeGroupClusterBackupSnapshots", "POST", _CLOUD_SNAPSHOTS, MEDIA_2023, False, "Project Backup Creator"),
        get_backup_schedule=("getGroupClusterBackupSchedule", "GET", _CLOUD_BACKUP + ("schedule",), MEDIA_2024_08),
        get_cluster=_GET_CLUSTER,
    ),
    "serverless": _family("serverless", "GroupServerlessBackup", _PROJECT + ("serverless", "{cluster_name}", "backup"), MEDIA_2023,
                          "Project Owner", "Project Owner"),
    "flex": _family(
        "flex", "GroupFlexClusterBackup", _FLEX_CLUSTER + ("backup",), MEDIA_FLEX, "Project Read Only", "Project Backup Recovery Operator",
        get_cluster=("getGroupFlexCluster", "GET", _FLEX_CLUSTER, MEDIA_FLEX),
    ),
    "legacy": _family("legacy", "GroupCluster", _CLUSTER, MEDIA_2023, "Project Read Only", "Project Owner", get_cluster=_GET_CLUSTER),
}


def endpoint(cluster_type: str, operation: str) -> Endpoint:
    try:
        return ENDPOINTS[cluster_type][operation]
    except KeyError:
        raise ValueError(f"cluster_type {cluster_type} has no {operation} operation") from None
