# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore logic of restore_job (re-use, create, lost answers, 409, cancel), without a module or a network."""

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._restore import Restorer
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._views import job_view

PROJECT, SNAPSHOT, OTHER_SNAPSHOT = "5f1a2b3c4d5e6f7a8b9c0d1e", "6741a2b3c4d5e6f7a8b9c0aa", "6741a2b3c4d5e6f7a8b9c0bb"


def raw_job(number: int, snapshot: str = SNAPSHOT, target: str = "dr", **fields) -> dict:
    raw = {"id": f"6740{number:020x}", "deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": target,
           "targetGroupId": PROJECT}
    raw.update(fields)
    return raw


class FakeBackup:
    """A ClusterBackup whose jobs live in a list; create_restore_job answers from a script of outcomes."""

    cluster_type = "dedicated"

    def __init__(self, jobs=(), creates=()):
        self.raws = list(jobs)
        # one per POST: "ok", or (an AtlasError to raise, whether Atlas made the job all the same); then "ok"
        self.creates = list(creates)
        self.posts = 0
        self.deleted = []
        self.numbers = iter(range(100, 200))

    def restore_jobs(self, deadline=None):
        return (job_view(raw, self.cluster_type) for raw in self.raws)

    def restore_job(self, job_id, deadline=None):
        return next(job_view(raw, self.cluster_type) for raw in self.raws if raw["id"] == job_id)

    def create_restore_job(self, body):
        self.posts += 1
        outcome = self.creates.pop(0) if self.creates else "ok"
        if outcome != "ok":
            error, made = outcome
            if made:
                self.raws.append(raw_job(next(self.numbers), body["snapshotId"], body["targetClusterName"]))
            raise error
        made = raw_job(next(self.numbers), body["snapshotId"], body["targetClusterName"])
        self.raws.append(made)
        return [job_view(made, self.cluster_type)]

    def cancel_restore_job(self, job_id):
        self.deleted.append(job_id)
        next(raw for raw in self.raws if raw["id"] == job_id)["cancelled"] = True


def restorer(backup, check_mode=False, max_retries=2):
    warnings, pauses = [], []
    service = Restorer(backup, {}, check_mode=check_mode, diff=True, warn=warnings.append,
                       pause=lambda retries, at_least=None: pauses.append((retries, at_least)), max_retries=max_retries,
                       request_timeout=7)
    return service, warnings, pauses


def request(snapshot=SNAPSHOT, target="dr"):
    return RestoreRequest(cluster_type="dedicated", project_id=PROJECT, cluster_name="prod", delivery_type="automated",
                          snapshot_id=snapshot, target_cluster_name=target)


LOST = AtlasError("no answer", status=None, transient=True, ambiguous=True, timed_out=True)
BAD_GATEWAY = AtlasError("bad gateway", status=502, transient=True, ambiguous=True)


def test_a_matching_job_is_reused_without_a_post():
    backup = FakeBackup(jobs=[raw_job(1, finishedAt="2026-11-20T06:00:00Z")])
    service, warnings, dummy = restorer(backup)
    job = service.ensure(request())
    assert backup.posts == 0 and job["id"] == backup.raws[0]["id"]
    assert service.result["reused"] is True and service.result["changed"] is False
    assert service.result["diff"]["before"] == service.result["diff"]["after"]


def test_a_failed_or_different_job_is_not_reused_and_one_post_starts_the_restore():
    backup = FakeBackup(jobs=[raw_job(1, failed=True), raw_job(2, snapshot=OTHER_SNAPSHOT), raw_job(3, target="other")])
    service, dummy, dummy = restorer(backup)
    job = service.ensure(request())
    assert backup.posts == 1 and service.result["changed"] is True and service.result["reused"] is False
    assert job["id"] == backup.raws[-1]["id"] and service.result["request"]["snapshotId"] == SNAPSHOT


def test_check_mode_predicts_without_posting():
    backup = FakeBackup()
    service, dummy, dummy = restorer(backup, check_mode=True)
    assert service.ensure(request()) is None
    assert backup.posts == 0 and service.result["changed"] is True and service.result["restore_job"] is None
    assert service.result["diff"]["before"] == {} and service.result["diff"]["after"]["snapshot_id"] == SNAPSHOT


def test_force_starts_a_new_job_even_when_one_matches():
    backup = FakeBackup(jobs=[raw_job(1)])
    service, dummy, dummy = restorer(backup)
    service.ensure(request(), force=True)
    assert backup.posts == 1


def test_after_a_lost_answer_the_job_it_made_is_found_instead_of_posting_again():
    backup = FakeBackup(creates=[(LOST, True)])
    service, warnings, pauses = restorer(backup)
    job = service.ensure(request())
    assert backup.posts == 1 and len(backup.raws) == 1 and job["id"] == backup.raws[0]["id"]
    assert pauses == [(0, 7)]  # a timed-out create may still be in flight: at least request_timeout before looking
    assert "found the matching job" in warnings[0]


def test_a_lost_answer_whose_job_never_appears_is_sent_again_within_max_retries():
    backup = FakeBackup(creates=[(BAD_GATEWAY, False)] * 3)
    service, dummy, dummy = restorer(backup, max_retries=2)
    with pytest.raises(AtlasError):
        service.ensure(request())
    assert backup.posts == 3  # the first try and max_retries more, each after a look


def test_a_409_names_the_job_in_the_way():
    in_the_way = raw_job(1, snapshot=OTHER_SNAPSHOT)
    backup = FakeBackup(jobs=[in_the_way], creates=[(AtlasError("conflict", status=409, error_code="CLUSTER_RESTORE_IN_PROGRESS"), False)])
    service, dummy, dummy = restorer(backup)
    with pytest.raises(AtlasError) as caught:
        service.ensure(request())
    assert in_the_way["id"] in str(caught.value) and "restore_job_info" in str(caught.value)
    assert caught.value.status == 409 and caught.value.error_code == "CLUSTER_RESTORE_IN_PROGRESS"


def test_cancel_rules():
    download = raw_job(1, deliveryType="download", targetClusterName=None)
    automated = raw_job(2)
    done = raw_job(3, deliveryType="download", targetClusterName=None, deliveryUrl=["https://x"])
    backup = FakeBackup(jobs=[download, automated, done])
    service, dummy, dummy = restorer(backup)
    service.cancel(done["id"])
    assert service.result["changed"] is False and backup.deleted == []
    with pytest.raises(ValueError, match="cancels only download jobs"):
        service.cancel(automated["id"])
    service.cancel(download["id"])
    assert backup.deleted == [download["id"]] and service.result["changed"] is True
    assert service.result["restore_job"]["status"] == "cancelled"
