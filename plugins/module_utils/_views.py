# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atlas jobs and snapshots as the modules return them: snake_case keys plus normalized status.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

JOB_STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled", "expired")
TERMINAL_JOB_STATUSES = frozenset({"completed", "failed", "cancelled", "expired"})
UNSUCCESSFUL_JOB_STATUSES = frozenset({"failed", "cancelled", "expired"})
DELIVERY_TYPES = ("automated", "download", "point_in_time")

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
    for flag in ("cancelled", "failed", "expired"):
        if raw.get(flag):
            return flag
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
    return view


def newest_jobs_first(views: list) -> list:
    # Cloud Backup jobs carry no creation time; their ObjectId does, in its leading hex digits.
    return sorted(views, key=lambda view: str(view.get("id") or ""), reverse=True)


def id_time(object_id) -> str | None:
    """The creation time inside an ObjectId, as ISO 8601 UTC."""
    if not isinstance(object_id, str) or len(object_id) != 24:
        return None
    try:
        seconds = int(object_id[:8], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- snapshots ------------------------------------------------------------------------------

def snapshot_status(raw: dict, cluster_type: str) -> str:
    if cluster_type == "legacy":
        return "completed" if raw.get("complete") else "in_progress"
    return _SNAPSHOT_STATUS.get(raw.get("status"), "in_progress")


def snapshot_time(raw: dict, cluster_type: str) -> float | None:
    """Epoch seconds at which the snapshot was taken, or None when Atlas does not say."""
    if cluster_type == "flex":
        return parse_atlas_time(raw.get("startTime"))
    if cluster_type == "legacy":
        return parse_atlas_time((raw.get("created") or {}).get("date"))
    return parse_atlas_time(raw.get("createdAt"))


def snapshot_view(raw: dict, cluster_type: str) -> dict:
    view = snake_keys(raw)
    if "status" in raw:
        view["atlas_status"] = raw["status"]
    view["status"] = snapshot_status(raw, cluster_type)
    if "snapshotType" in raw:
        view["snapshot_type"] = _SNAPSHOT_TYPES.get(raw["snapshotType"], raw["snapshotType"])
    return view


def parse_atlas_time(value) -> float | None:
    """Atlas dates are ISO 8601 UTC strings such as 2026-11-20T08:15:00Z (fractions optional)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python before 3.11 accepts only 3 or 6 fraction digits.
    text = re.sub(r"\.(\d+)", lambda match: "." + (match.group(1) + "000000")[:6], text, count=1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
