# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Atlas Admin API v2 operations this collection calls: one row per (cluster type, operation).

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ansible_collections.atlasops.backup.plugins.module_utils._validation import check_cluster_name, check_hex24

API_ROOT = ("api", "atlas", "v2")
MEDIA_2023 = "application/vnd.atlas.2023-01-01+json"
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
    cluster_type: str = ""  # the cluster type whose API this row belongs to, for hints

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


def _family(prefix: str, cluster_segments: tuple, media_type: str, read_role: str, create_role: str) -> dict:
    """The list/get/create restore-job and snapshot operations that every cluster type has."""
    base = ("groups", "{project_id}") + cluster_segments
    jobs = base + ("restoreJobs",)
    snapshots = base + ("snapshots",)
    return {
        "list_restore_jobs": Endpoint(f"list{prefix}RestoreJobs", "GET", jobs, media_type, True, read_role),
        "create_restore_job": Endpoint(f"create{prefix}RestoreJob", "POST", jobs, media_type, False, create_role),
        "get_restore_job": Endpoint(f"get{prefix}RestoreJob", "GET", jobs + ("{job_id}",), media_type, False, read_role),
        "list_snapshots": Endpoint(f"list{prefix}Snapshots", "GET", snapshots, media_type, True),
        "get_snapshot": Endpoint(f"get{prefix}Snapshot", "GET", snapshots + ("{snapshot_id}",), media_type),
    }


_CLOUD_BACKUP = ("clusters", "{cluster_name}", "backup")
_CLOUD_BACKUP_SNAPSHOTS = ("groups", "{project_id}") + _CLOUD_BACKUP + ("snapshots",)
_RECOVERY_ROLE = "Project Backup Export Operator or Project Backup Recovery Operator"

ENDPOINTS = {
    "dedicated": dict(
        _family("GroupClusterBackup", _CLOUD_BACKUP, MEDIA_2023, "Project Backup Manager", _RECOVERY_ROLE),
        cancel_restore_job=Endpoint(
            "cancelGroupClusterBackupRestoreJob", "DELETE", ("groups", "{project_id}") + _CLOUD_BACKUP + ("restoreJobs", "{job_id}"),
            MEDIA_2023, False, _RECOVERY_ROLE,
        ),
        # The sharded list declares no paging parameters: Atlas answers it in one page.
        list_sharded_snapshots=Endpoint(
            "listGroupClusterBackupSnapshotShardedClusters", "GET", _CLOUD_BACKUP_SNAPSHOTS + ("shardedClusters",), MEDIA_2023
        ),
        get_sharded_snapshot=Endpoint(
            "getGroupClusterBackupSnapshotShardedCluster", "GET", _CLOUD_BACKUP_SNAPSHOTS + ("shardedCluster", "{snapshot_id}"), MEDIA_2023
        ),
    ),
    "serverless": _family("GroupServerlessBackup", ("serverless", "{cluster_name}", "backup"), MEDIA_2023, "Project Owner", "Project Owner"),
    "flex": _family(
        "GroupFlexClusterBackup", ("flexClusters", "{cluster_name}", "backup"), MEDIA_FLEX, "Project Read Only", "Project Backup Recovery Operator"
    ),
    "legacy": _family("GroupCluster", ("clusters", "{cluster_name}"), MEDIA_2023, "Project Read Only", "Project Owner"),
}


def endpoint(cluster_type: str, operation: str) -> Endpoint:
    try:
        return ENDPOINTS[cluster_type][operation]
    except KeyError:
        raise ValueError(f"cluster_type {cluster_type} has no {operation} operation") from None
