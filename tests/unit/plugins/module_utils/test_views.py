# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._views import (
    id_time, job_view, newest_jobs_first, snake_case, snapshot_time, snapshot_view,
)


@pytest.mark.parametrize("name, expected", [
    ("deliveryUrl", "delivery_url"), ("pointInTimeUTCSeconds", "point_in_time_utc_seconds"), ("targetGroupId", "target_group_id"),
    ("mongoDBVersion", "mongo_db_version"), ("masterKeyUUID", "master_key_uuid"), ("id", "id"), ("statusName", "status_name"),
])
def test_snake_case(name, expected):
    assert snake_case(name) == expected


@pytest.mark.parametrize("raw, status", [
    ({"deliveryType": "automated"}, "in_progress"),
    ({"deliveryType": "automated", "finishedAt": "2026-11-22T08:00:00Z"}, "completed"),
    ({"deliveryType": "automated", "failed": True, "finishedAt": "2026-11-22T08:00:00Z"}, "failed"),
    ({"deliveryType": "download", "cancelled": True}, "cancelled"),
    ({"deliveryType": "download", "expired": True}, "expired"),
    ({"deliveryType": "download", "deliveryUrl": []}, "in_progress"),
    ({"deliveryType": "download", "deliveryUrl": ["https://x"]}, "completed"),
])
def test_cloud_backup_status_comes_from_booleans_and_timestamps(raw, status):
    for cluster_type in ("dedicated", "serverless"):
        view = job_view(raw, cluster_type)
        assert view["status"] == status
        assert "atlas_status" not in view


@pytest.mark.parametrize("atlas, status", [("PENDING", "pending"), ("QUEUED", "pending"), ("RUNNING", "in_progress"),
                                           ("COMPLETED", "completed"), ("CLOSED", "completed"), ("FAILED", "failed")])
def test_flex_status(atlas, status):
    view = job_view({"status": atlas, "deliveryType": "RESTORE"}, "flex")
    assert (view["status"], view["atlas_status"], view["delivery_type"]) == (status, atlas, "automated")


@pytest.mark.parametrize("atlas, status", [("IN_PROGRESS", "in_progress"), ("FINISHED", "completed"), ("BROKEN", "failed"),
                                           ("KILLED", "cancelled")])
def test_legacy_status_keeps_the_raw_key_too(atlas, status):
    view = job_view({"statusName": atlas, "delivery": {"methodName": "HTTP"}}, "legacy")
    assert (view["status"], view["atlas_status"], view["status_name"]) == (status, atlas, atlas)


def test_delivery_types():
    assert job_view({"deliveryType": "pointInTime"}, "dedicated")["delivery_type"] == "point_in_time"
    assert job_view({"deliveryType": "DOWNLOAD"}, "flex")["delivery_type"] == "download"
    legacy_automated = {"delivery": {"methodName": "HTTP", "targetClusterName": "dr", "targetGroupId": "a" * 24}}
    assert job_view(legacy_automated, "legacy")["delivery_type"] == "automated"
    assert job_view({"delivery": {"methodName": "HTTP"}}, "legacy")["delivery_type"] == "download"


def test_jobs_newest_first_by_object_id_time():
    older, newer = "6740000000000000000000ff", "674000010000000000000001"
    assert [job["id"] for job in newest_jobs_first([{"id": older}, {"id": newer}])] == [newer, older]
    assert id_time("674000010000000000000001") == datetime.fromtimestamp(0x67400001, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert id_time("nope") is None


def test_snapshot_views_and_times():
    dedicated = snapshot_view({"id": "a" * 24, "status": "inProgress", "snapshotType": "onDemand", "createdAt": "2026-11-20T06:00:00Z"},
                              "dedicated")
    assert (dedicated["status"], dedicated["atlas_status"], dedicated["snapshot_type"]) == ("in_progress", "inProgress", "on_demand")
    assert snapshot_view({"status": "QUEUED"}, "flex")["status"] == "pending"
    assert snapshot_view({"complete": True}, "legacy")["status"] == "completed"
    assert snapshot_view({"complete": False}, "legacy")["status"] == "in_progress"
    six_am = datetime(2026, 11, 20, 6, tzinfo=timezone.utc).timestamp()
    assert snapshot_time({"createdAt": "2026-11-20T06:00:00Z"}, "serverless") == six_am
    assert snapshot_time({"startTime": "2026-11-20T06:00:00.123Z"}, "flex") == pytest.approx(six_am + 0.123)
    assert snapshot_time({}, "flex") is None
    assert snapshot_time({"created": {"date": "2026-11-20T06:00:00Z", "increment": 1}}, "legacy") == six_am
