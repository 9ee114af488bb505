# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restore request: its checks, the body each cluster type gets, and how to recognise its job among Atlas's.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ansible_collections.atlasops.backup.plugins.module_utils._time import ATLAS_EPOCH_MIN, iso_utc
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_cluster_name, check_hex24
from ansible_collections.atlasops.backup.plugins.module_utils._views import UNSUCCESSFUL_JOB_STATUSES, diff_fields

_CLOUD_DELIVERY = {"automated": "automated", "download": "download", "point_in_time": "pointInTime"}
# Legacy backup takes a point in time only within the last 24 hours.
LEGACY_PIT_WINDOW = 24 * 3600


@dataclass(frozen=True)
class RestoreRequest:
    cluster_type: str
    project_id: str
    cluster_name: str
    delivery_type: str
    snapshot_id: str | None = None
    point_in_time: int | None = None  # epoch seconds, already parsed
    oplog_ts: int | None = None
    oplog_inc: int | None = None
    target_cluster_name: str | None = None
    target_project_id: str | None = None

    def check(self, now: float | None = None, *, snapshot_chosen: bool = False) -> None:
        """Refuse, before any request, what the cluster type's API would refuse.

        snapshot_chosen: the snapshot is chosen later, by policy (latest_snapshot, snapshot_before), not given.
        """
        current = time.time() if now is None else now
        kind, cluster_type = self.delivery_type, self.cluster_type
        check_hex24("snapshot_id", self.snapshot_id)
        check_hex24("target_project_id", self.target_project_id)
        check_cluster_name("target_cluster_name", self.target_cluster_name)
        if cluster_type == "flex" and kind != "automated":
            raise InvalidInputError(f"flex clusters support only automated restores, not delivery_type {kind}")
        if (self.oplog_ts is None) != (self.oplog_inc is None):
            raise InvalidInputError("oplog_ts and oplog_inc go together: give both or neither")
        has_pit = self.point_in_time is not None or self.oplog_ts is not None
        if snapshot_chosen:
            if kind == "point_in_time":
                raise InvalidInputError("latest_snapshot and snapshot_before choose a snapshot: a point_in_time restore takes none")
            if self.snapshot_id:
                raise InvalidInputError("give snapshot_id, or latest_snapshot / snapshot_before to choose one, not both")
        if kind == "point_in_time":
            if self.snapshot_id:
                raise InvalidInputError("a point_in_time restore takes no snapshot_id: give point_in_time, or oplog_ts and oplog_inc")
            if self.point_in_time is not None and self.oplog_ts is not None:
                raise InvalidInputError("give point_in_time or oplog_ts and oplog_inc, not both")
            if not has_pit:
                raise InvalidInputError("delivery_type point_in_time needs point_in_time, or oplog_ts and oplog_inc")
        else:
            if not self.snapshot_id and not snapshot_chosen:
                raise InvalidInputError(f"delivery_type {kind} needs snapshot_id, or latest_snapshot or snapshot_before")
            if has_pit:
                raise InvalidInputError(f"point_in_time, oplog_ts and oplog_inc apply only to delivery_type point_in_time, not {kind}")
        if self.oplog_ts is not None:
            if not ATLAS_EPOCH_MIN <= self.oplog_ts <= current:
                raise InvalidInputError("oplog_ts must be epoch seconds between 2008-01-01 and now")
            if self.oplog_inc < 1:
                raise InvalidInputError("oplog_inc must be 1 or more")
        if kind == "download":
            if self.target_cluster_name:
                raise InvalidInputError("a download restore has no target: leave target_cluster_name out")
            if self.target_project_id and self.target_project_id != self.project_id:
                raise InvalidInputError("a download restore has no target: leave target_project_id out")
        elif not self.target_cluster_name:
            raise InvalidInputError(f"delivery_type {kind} needs target_cluster_name")
        if cluster_type == "legacy" and self.point_in_time is not None and current - self.point_in_time > LEGACY_PIT_WINDOW:
            raise InvalidInputError("legacy backup restores a point_in_time only within the last 24 hours")

    @property
    def target_project(self) -> str:
        return self.target_project_id or self.project_id

    def body(self) -> dict:
        """The request body of the create operation of this cluster type."""
        if self.cluster_type == "flex":
            return {"snapshotId": self.snapshot_id, "targetDeploymentItemName": self.target_cluster_name,
                    "targetProjectId": self.target_project}
        if self.cluster_type == "legacy":
            return self._legacy_body()
        body = {"deliveryType": _CLOUD_DELIVERY[self.delivery_type]}
        if self.snapshot_id:
            body["snapshotId"] = self.snapshot_id
        if self.point_in_time is not None:
            body["pointInTimeUTCSeconds"] = self.point_in_time
        if self.oplog_ts is not None:
            body.update(oplogTs=self.oplog_ts, oplogInc=self.oplog_inc)
        if self.delivery_type != "download":
            body.update(targetClusterName=self.target_cluster_name, targetGroupId=self.target_project)
        elif self.cluster_type == "serverless":
            # The serverless API requires a target even for downloads: the source itself.
            body.update(targetClusterName=self.cluster_name, targetGroupId=self.project_id)
        return body

    def _legacy_body(self) -> dict:
        if self.delivery_type == "download":
            return {"snapshotId": self.snapshot_id, "delivery": {"methodName": "HTTP"}}
        body = {"delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": self.target_cluster_name,
                             "targetGroupId": self.target_project}}
        if self.snapshot_id:
            body["snapshotId"] = self.snapshot_id
        if self.point_in_time is not None:
            body["pointInTimeUTCMillis"] = self.point_in_time * 1000
        if self.oplog_ts is not None:
            body.update(oplogTs=iso_utc(self.oplog_ts), oplogInc=self.oplog_inc)
        return body

    @property
    def echoed_delivery_type(self) -> str:
        # Legacy answers show point-in-time restores as automated ones.
        if self.cluster_type == "legacy" and self.delivery_type == "point_in_time":
            return "automated"
        return self.delivery_type

    @property
    def matchable(self) -> bool:
        """Whether Atlas echoes enough to recognise this request in its jobs (legacy oplog restores: no)."""
        return not (self.cluster_type == "legacy" and self.oplog_ts is not None)

    def desired(self, status: str | None = None) -> dict:
        """The job this request makes, in the shape of diff_fields."""
        body = self.body()
        if self.delivery_type == "download" and self.cluster_type != "serverless":
            target_cluster, target_project = None, None
        elif self.delivery_type == "download":
            target_cluster, target_project = self.cluster_name, self.project_id
        else:
            target_cluster, target_project = self.target_cluster_name, self.target_project
        return {
            "delivery_type": self.echoed_delivery_type,
            "snapshot_id": self.snapshot_id,
            "point_in_time_utc_seconds": self.point_in_time,
            "oplog_ts": self.oplog_ts if "oplogTs" in body else None,
            "oplog_inc": self.oplog_inc,
            "target_cluster_name": target_cluster,
            "target_project_id": target_project,
            "status": status or ("pending" if self.cluster_type == "flex" else "in_progress"),
        }

    def matches(self, view: dict, *, any_status: bool = False) -> bool:
        """Whether a job (job_view) is the restore this request asks for."""
        if not any_status and view["status"] in UNSUCCESSFUL_JOB_STATUSES:
            return False
        have, want = diff_fields(view), self.desired()
        keys = ["delivery_type"]
        if self.delivery_type != "point_in_time":
            keys.append("snapshot_id")
        elif self.point_in_time is not None:
            keys.append("point_in_time_utc_seconds")
            if have["snapshot_id"]:
                return False
        else:
            keys += ["oplog_ts", "oplog_inc"]
        if self.delivery_type != "download":
            keys += ["target_cluster_name", "target_project_id"]
        return all(have[key] == want[key] for key in keys)
