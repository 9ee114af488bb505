# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._views import diff_fields
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import job_age
from ansible_collections.atlasops.backup.plugins.module_utils._time import iso_utc
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError
from ansible_collections.atlasops.backup.plugins.module_utils._views import job_view

PROJECT, OTHER_PROJECT, SNAPSHOT = "5f1a2b3c4d5e6f7a8b9c0d1e", "6f1a2b3c4d5e6f7a8b9c0d1e", "6741a2b3c4d5e6f7a8b9c0aa"
NOW = 1795300000
PIT = NOW - 3600


def request(**kwargs):
    fields = dict(cluster_type="dedicated", project_id=PROJECT, cluster_name="prod", delivery_type="automated", snapshot_id=SNAPSHOT,
                  target_cluster_name="dr")
    fields.update(kwargs)
    return RestoreRequest(**fields)


BODIES = [
    (dict(), {"deliveryType": "automated", "snapshotId": SNAPSHOT, "targetClusterName": "dr", "targetGroupId": PROJECT}),
    (dict(delivery_type="download", target_cluster_name=None), {"deliveryType": "download", "snapshotId": SNAPSHOT}),
    (dict(delivery_type="point_in_time", snapshot_id=None, point_in_time=PIT, target_project_id=OTHER_PROJECT),
     {"deliveryType": "pointInTime", "pointInTimeUTCSeconds": PIT, "targetClusterName": "dr", "targetGroupId": OTHER_PROJECT}),
    (dict(delivery_type="point_in_time", snapshot_id=None, oplog_ts=PIT, oplog_inc=3),
     {"deliveryType": "pointInTime", "oplogTs": PIT, "oplogInc": 3, "targetClusterName": "dr", "targetGroupId": PROJECT}),
    (dict(cluster_type="serverless", delivery_type="download", target_cluster_name=None),
     {"deliveryType": "download", "snapshotId": SNAPSHOT, "targetClusterName": "prod", "targetGroupId": PROJECT}),
    (dict(cluster_type="flex"), {"snapshotId": SNAPSHOT, "targetDeploymentItemName": "dr", "targetProjectId": PROJECT}),
    (dict(cluster_type="legacy"),
     {"snapshotId": SNAPSHOT, "delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "dr", "targetGroupId": PROJECT}}),
    (dict(cluster_type="legacy", delivery_type="download", target_cluster_name=None), {"snapshotId": SNAPSHOT, "delivery": {"methodName": "HTTP"}}),
    (dict(cluster_type="legacy", delivery_type="point_in_time", snapshot_id=None, point_in_time=PIT),
     {"delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "dr", "targetGroupId": PROJECT}, "pointInTimeUTCMillis": PIT * 1000}),
    (dict(cluster_type="legacy", delivery_type="point_in_time", snapshot_id=None, oplog_ts=PIT, oplog_inc=2),
     {"delivery": {"methodName": "AUTOMATED_RESTORE", "targetClusterName": "dr", "targetGroupId": PROJECT},
      "oplogTs": iso_utc(PIT), "oplogInc": 2}),
]


@pytest.mark.parametrize("fields, body", BODIES)
def test_each_family_gets_its_body(fields, body):
    restore = request(**fields)
    restore.check(now=NOW)
    assert restore.body() == body


@pytest.mark.parametrize("fields, says", [
    (dict(cluster_type="flex", delivery_type="download", target_cluster_name=None), "flex clusters support only automated"),
    (dict(cluster_type="flex", delivery_type="point_in_time", snapshot_id=None, point_in_time=PIT), "flex clusters support only automated"),
    (dict(snapshot_id=None), "needs snapshot_id"),
    (dict(target_cluster_name=None), "needs target_cluster_name"),
    (dict(delivery_type="download"), "has no target"),
    (dict(delivery_type="download", target_cluster_name=None, target_project_id=OTHER_PROJECT), "has no target"),
    (dict(point_in_time=PIT), "apply only to delivery_type point_in_time"),
    (dict(delivery_type="point_in_time", snapshot_id=None), "needs point_in_time"),
    (dict(delivery_type="point_in_time"), "takes no snapshot_id"),
    (dict(delivery_type="point_in_time", snapshot_id=None, point_in_time=PIT, oplog_ts=PIT, oplog_inc=1), "not both"),
    (dict(delivery_type="point_in_time", snapshot_id=None, oplog_ts=PIT), "go together"),
    (dict(delivery_type="point_in_time", snapshot_id=None, oplog_ts=PIT, oplog_inc=0), "oplog_inc must be 1 or more"),
    (dict(delivery_type="point_in_time", snapshot_id=None, oplog_ts=NOW + 60, oplog_inc=1), "between 2008-01-01 and now"),
    (dict(cluster_type="legacy", delivery_type="point_in_time", snapshot_id=None, point_in_time=NOW - 2 * 86400), "last 24 hours"),
    (dict(snapshot_id="ABC"), "snapshot_id must be 24"),
    (dict(target_project_id="nope"), "target_project_id must be 24"),
    (dict(target_cluster_name="../etc"), "target_cluster_name must be"),
])
def test_refused_before_any_request(fields, says):
    with pytest.raises(InvalidInputError) as caught:
        request(**fields).check(now=NOW)
    assert says in str(caught.value)


def cloud_job(**raw):
    fields = {"id": "674000010000000000000001", "deliveryType": "automated", "snapshotId": SNAPSHOT, "targetClusterName": "dr",
              "targetGroupId": PROJECT}
    fields.update(raw)
    return job_view(fields, "dedicated")


def test_matches_the_same_restore_unless_it_failed():
    restore = request()
    assert restore.matches(cloud_job())
    assert restore.matches(cloud_job(finishedAt="2026-11-22T08:00:00Z"))
    assert not restore.matches(cloud_job(failed=True))
    assert restore.matches(cloud_job(failed=True), any_status=True)
    assert not restore.matches(cloud_job(snapshotId="b" * 24))
    assert not restore.matches(cloud_job(targetClusterName="other"))
    assert not restore.matches(cloud_job(targetGroupId=OTHER_PROJECT))
    assert not restore.matches(cloud_job(deliveryType="download"))


def test_downloads_match_whatever_target_atlas_echoes():
    restore = request(cluster_type="serverless", delivery_type="download", target_cluster_name=None)
    job = job_view({"id": "a" * 24, "deliveryType": "download", "snapshotId": SNAPSHOT, "targetClusterName": "prod",
                    "targetGroupId": PROJECT}, "serverless")
    assert restore.matches(job)


def test_point_in_time_matches_on_the_echoed_time():
    restore = request(delivery_type="point_in_time", snapshot_id=None, point_in_time=PIT)
    assert restore.matches(cloud_job(deliveryType="pointInTime", snapshotId=None, pointInTimeUTCSeconds=PIT))
    assert not restore.matches(cloud_job(deliveryType="pointInTime", snapshotId=None, pointInTimeUTCSeconds=PIT - 1))
    oplog = request(delivery_type="point_in_time", snapshot_id=None, oplog_ts=PIT, oplog_inc=4)
    assert oplog.matches(cloud_job(deliveryType="pointInTime", snapshotId=None, oplogTs=PIT, oplogInc=4))
    assert not oplog.matches(cloud_job(deliveryType="pointInTime", snapshotId=None, oplogTs=PIT, oplogInc=5))


def test_flex_and_legacy_jobs_match_through_their_own_fields():
    flex = job_view({"id": "a" * 24, "deliveryType": "RESTORE", "status": "RUNNING", "snapshotId": SNAPSHOT,
                     "targetDeploymentItemName": "dr", "targetProjectId": PROJECT}, "flex")
    assert request(cluster_type="flex").matches(flex)
    legacy = job_view({"id": "a" * 24, "statusName": "IN_PROGRESS", "delivery": {"methodName": "HTTP", "targetClusterName": "dr",
                       "targetGroupId": PROJECT}, "timestamp": {"date": iso_utc(PIT), "increment": 1}}, "legacy")
    legacy_pit = request(cluster_type="legacy", delivery_type="point_in_time", snapshot_id=None, point_in_time=PIT)
    assert legacy_pit.matches(legacy)
    assert not request(cluster_type="legacy").matches(legacy)
    assert not request(cluster_type="legacy", delivery_type="point_in_time", snapshot_id=None, oplog_ts=PIT, oplog_inc=1).matchable


def test_diff_views_share_one_shape():
    expected_keys = {"delivery_type", "snapshot_id", "point_in_time_utc_seconds", "oplog_ts", "oplog_inc", "target_cluster_name",
                     "target_project_id", "status"}
    assert set(request().desired()) == expected_keys
    assert set(diff_fields(cloud_job())) == expected_keys
    assert diff_fields(cloud_job()) == dict(request().desired(), status="in_progress")


def test_job_age_comes_from_the_creation_time_in_the_id():
    assert job_age({"created_at": iso_utc(NOW - 90)}, now=NOW) == 90
    assert job_age({"created_at": None}, now=NOW) == 0.0
    assert job_age({"created_at": iso_utc(NOW + 5)}, now=NOW) == 0.0  # a clock ahead of ours is no negative age
