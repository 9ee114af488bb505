# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atlas jobs and snapshots as the modules return them: snake_case keys plus normalized fields.

Every cluster type's job answers in one view: Atlas's own keys in snake_case, plus `status`,
`delivery_type`, `created_at` and the target and point in time under one name each
(`target_cluster_name`, `target_project_id`, `point_in_time_utc_seconds`), which matching, diffs and
filters read.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import re

from ansible_collections.atlasops.backup.plugins.module_utils._time import id_time, parse_atlas_time

JOB_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled", "expired")
TERMINAL_JOB_STATUSES = frozenset({"completed", "failed", "cancelled", "expired"})
UNSUCCESSFUL_JOB_STATUSES = frozenset({"failed", "cancelled", "expired"})
DELIVERY_TYPES = ("automated", "download", "point_in_time")
# The keys of a job that say which restore it is (and its status): the one shape of diffs.
DIFF_KEYS = ("delivery_type", "snapshot_id", "point_in_time_utc_seconds", "oplog_ts", "oplog_inc", "target_cluster_name",
             "target_project_id", "status")

# The status of a batch of jobs is the first of these that any member has.
_WORST_FIRST = ("failed", "cancelled", "expired", "in_progress", "pending", "completed")
_FLEX_JOB_STATUS = {"PENDING": "pending", "QUEUED": "pending", "RUNNING": "in_progress",
                    "COMPLETED": "completed", "CLOSED": "completed", "FAILED": "failed"}
_LEGACY_JOB_STATUS = {"IN_PROGRESS": "in_progress", "FINISHED": "completed", "BROKEN": "failed", "KILLED": "cancelled"}
_SNAPSHOT_STATUS = {"queued": "pending", "QUEUED": "pending", "PENDING": "pending", "inProgress": "in_progress",
                    "RUNNING": "in_progress", "completed": "completed", "COMPLETED": "completed",
                    "failed": "failed", "FAILED": "failed"}
_CLOUD_DELIVERY = {"automated": "automated", "download": "download", "pointInTime": "point_in_time"}
_FLEX_DELIVERY = {"RESTORE": "automated", "DOWNLOAD": "download"}
_SNAPSHOT_TYPES = {"onDemand": "on_demand", "scheduled": "scheduled", "fallback": "fallback"}

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """deliveryUrl -> delivery_url, pointInTimeUTCSeconds -> point_in_time_utc_seconds."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def snake_keys(value):
    if isinstance(value, dict):
        return {snake_case(key): snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


# --- restore jobs ---------------------------------------------------------------------------

def job_status(raw: dict, cluster_type: str) -> str:
    if cluster_type == "flex":
        return _FLEX_JOB_STATUS.get(raw.get("status"), "in_progress")
    if cluster_type == "legacy":
        return _LEGACY_JOB_STATUS.get(raw.get("statusName"), "in_progress")
    # Cloud Backup and serverless jobs have no status string: only booleans and timestamps.
    for flag in ("cancelled", "failed"):
        if raw.get(flag):
            return flag
    # `expired` marks a download whose links are gone; a restore into a cluster that finished stays done.
    if raw.get("expired") and not (raw.get("finishedAt") and raw.get("deliveryType") != "download"):
        return "expired"
    if raw.get("finishedAt"):
        return "completed"
    if raw.get("deliveryType") == "download" and raw.get("deliveryUrl"):
        return "completed"
    return "in_progress"


def job_delivery_type(raw: dict, cluster_type: str) -> str | None:
    if cluster_type == "flex":
        return _FLEX_DELIVERY.get(raw.get("deliveryType"))
    if cluster_type == "legacy":
        # Legacy answers say methodName HTTP even for automated restores: a target tells them apart.
        delivery = raw.get("delivery") or {}
        return "automated" if delivery.get("targetClusterName") or delivery.get("targetClusterId") else "download"
    return _CLOUD_DELIVERY.get(raw.get("deliveryType"))


def job_view(raw: dict, cluster_type: str) -> dict:
    view = snake_keys(raw)
    if cluster_type == "flex":
        view["atlas_status"] = raw.get("status")
    elif cluster_type == "legacy":
        view["atlas_status"] = raw.get("statusName")
    view["status"] = job_status(raw, cluster_type)
    view["delivery_type"] = job_delivery_type(raw, cluster_type)
    view["created_at"] = id_time(raw.get("id"))
    view.update(_target_and_time(view, cluster_type))
    return view


def _target_and_time(view: dict, cluster_type: str) -> dict:
    """Where a job restores to, and its point in time, under one name whatever the cluster type."""
    delivery = view.get("delivery") if isinstance(view.get("delivery"), dict) else {}
    point_in_time = view.get("point_in_time_utc_seconds")
    if cluster_type == "legacy" and not view.get("snapshot_id"):
        # A legacy point-in-time job echoes its time only as the BSON timestamp of the restore.
        timestamp = view.get("timestamp") if isinstance(view.get("timestamp"), dict) else {}
        moment = parse_atlas_time(timestamp.get("date"))
        point_in_time = int(moment) if moment is not None else None
    normalized = {
        "target_cluster_name": view.get("target_cluster_name") or view.get("target_deployment_item_name")
        or delivery.get("target_cluster_name"),
        "target_project_id": view.get("target_group_id") or view.get("target_project_id") or delivery.get("target_group_id"),
        "point_in_time_utc_seconds": point_in_time,
    }
    if cluster_type == "flex" and "finished_at" not in view:
        normalized["finished_at"] = view.get("restore_finished_date")
    return normalized


def batch_view(jobs: list) -> dict:
    """The first job of a batch (a legacy restore of a sharded cluster), with the worst status of its members."""
    statuses = {job["status"] for job in jobs}
    worst = next(status for status in _WORST_FIRST if status in statuses)
    return dict(jobs[0], status=worst)


def diff_fields(view: dict) -> dict:
    """A job view cut to the one shape that diffs show."""
    return {key: view.get(key) for key in DIFF_KEYS}


def newest_jobs_first(views) -> list:
    # Cloud Backup jobs carry no creation time; their ObjectId does, in its leading hex digits.
    return sorted(views, key=lambda view: str(view.get("id") or ""), reverse=True)


# --- snapshots ------------------------------------------------------------------------------

def snapshot_status(raw: dict, cluster_type: str) -> str:
    if cluster_type == "legacy":
        return "completed" if raw.get("complete") else "in_progress"
    return _SNAPSHOT_STATUS.get(raw.get("status"), "in_progress")


def snapshot_taken_at(raw: dict, cluster_type: str):
    """When the snapshot was taken, as Atlas writes it (None when Atlas does not say, as while it is queued)."""
    if cluster_type == "flex":
        return raw.get("startTime")
    if cluster_type == "legacy":
        created = raw.get("created")
        return created.get("date") if isinstance(created, dict) else None
    return raw.get("createdAt")


def snapshot_time(raw: dict, cluster_type: str) -> float | None:
    """Epoch seconds at which the snapshot was taken, or None when Atlas does not say."""
    return parse_atlas_time(snapshot_taken_at(raw, cluster_type))


def snapshot_view(raw: dict, cluster_type: str) -> dict:
    view = snake_keys(raw)
    if "status" in raw:
        view["atlas_status"] = raw["status"]
    view["status"] = snapshot_status(raw, cluster_type)
    if "snapshotType" in raw:
        view["snapshot_type"] = _SNAPSHOT_TYPES.get(raw["snapshotType"], raw["snapshotType"])
    view["taken_at"] = snapshot_taken_at(raw, cluster_type)
    return view
