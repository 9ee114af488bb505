# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""restore_job never starts a second restore: real ansible-playbook runs against the emulator and a hostile server.

Each case broke before the create path looked for a lost create's job over a settle window, and before
the client refused what is not a list page.
"""

from __future__ import annotations

import json
import time

import pytest

from harness import PROJECT, SECRETS, api_calls, task
from ansible_collections.atlasops.backup.tests.unit.plugins.module_utils.hostile_server import HostileServer, answers

SNAPSHOT = "6741a2b3c4d5e6f7a8b9c0aa"
JOB_ID = "6741a2b3c4d5e6f7a8b9c0d1"
JOBS_PATH = f"/api/atlas/v2/groups/{PROJECT}/clusters/prod-db/backup/restoreJobs"


def restore(**extra):
    return task("restore_job", "restore", ignore_errors=True, project_id=PROJECT, cluster_name="prod-db",
                snapshot_id=extra.pop("snapshot_id", SNAPSHOT), target_cluster_name="dr-db", **extra)


def test_a_create_processed_after_the_client_timed_out_is_found_not_repeated(ansible, emulator):
    """Real time: Atlas takes 3 s to process the create, the client gives up after 1 s."""
    emulator.add_cluster(PROJECT, "prod-db", cluster_type="dedicated")
    emulator.add_cluster(PROJECT, "dr-db", cluster_type="dedicated")
    snapshot = emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-20T06:00:00Z", "status": "completed"}])[0]["id"]
    emulator.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="delay", delay_seconds=3.0,
                       delay_before_processing=True)
    run = ansible.run([restore(snapshot_id=snapshot, request_timeout=1)])
    result = run.ok("restore")
    posts = api_calls(emulator, "POST")
    jobs = emulator.restore_jobs(PROJECT, "prod-db")
    assert len(posts) == 1 and len(jobs) == 1, (posts, jobs)
    assert result["changed"] and result["restore_job"]["id"] == jobs[0]["id"]
    assert "found the matching job" in run.output


def job(**fields) -> dict:
    raw = {"id": JOB_ID, "deliveryType": "automated", "snapshotId": SNAPSHOT, "targetClusterName": "dr-db", "targetGroupId": PROJECT,
           "cancelled": False, "failed": False, "expired": False}
    raw.update(fields)
    return raw


def page(jobs: list) -> dict:
    return {"results": jobs, "totalCount": len(jobs), "links": []}


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


def hostile_run(ansible, server, tasks):
    return ansible.run(tasks, env={"MONGODB_ATLAS_BASE_URL": server.url})


@pytest.mark.parametrize("body", [b"", b"{}", b"null", b"[]"], ids=["empty", "object", "null", "list"])
def test_a_job_list_that_is_not_a_list_page_is_an_error_not_no_jobs(ansible, hostile, body):
    hostile.script(handler=lambda received: answers.raw(body))
    run = hostile_run(ansible, hostile, [restore()])
    result = run.failed("restore")
    assert {received.method for received in hostile.received} == {"GET"}  # reads (the pre-flight ones too), never a POST
    assert not result["changed"] and "list" in result["msg"].lower()


def test_a_create_answered_with_a_redirect_is_not_followed(ansible, hostile):
    def handler(received):
        if received.method == "POST":
            return answers.redirect(hostile.url + JOBS_PATH)
        return page([])

    hostile.script(handler=handler)
    result = hostile_run(ansible, hostile, [restore()]).failed("restore")
    assert len(hostile.requests_to("restoreJobs")) == 2 and len([r for r in hostile.received if r.method == "POST"]) == 1
    assert "307" in result["msg"] and "127.0.0.1" in result["msg"]


def test_a_501_on_the_create_is_final(ansible, hostile):
    def handler(received):
        if received.method == "POST":
            return answers.json({"error": 501, "errorCode": "NOT_IMPLEMENTED", "detail": "no"}, 501)
        return page([])

    hostile.script(handler=handler)
    result = hostile_run(ansible, hostile, [restore()]).failed("restore")
    assert len([received for received in hostile.received if received.method == "POST"]) == 1
    assert result["changed"] is False and "501" in result["msg"]


def test_a_502_whose_job_the_list_shows_only_5_seconds_later_makes_one_job(ansible, hostile):
    posted = []

    def handler(received):
        if received.method == "POST":
            posted.append(time.monotonic())
            return answers.json({"error": 502, "errorCode": "BAD_GATEWAY", "detail": "upstream"}, 502)
        lagging = bool(posted) and time.monotonic() - posted[0] >= 5
        return page([job()] if lagging else [])

    hostile.script(handler=handler)
    run = hostile_run(ansible, hostile, [restore()])
    result = run.ok("restore")
    assert len(posted) == 1 and result["restore_job"]["id"] == JOB_ID and result["changed"]
    assert not any(secret in json.dumps(run.results) for secret in SECRETS)
