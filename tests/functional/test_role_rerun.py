# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore role re-run as operators re-run it (snapshot chosen by policy), its times, and what it reports when the
restore fails, times out or delivers a download."""

from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from harness import OTHER_PROJECT, PROJECT, api_calls, role_result, runbook

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def seed(emulator, job_seconds=3, job_outcome=None):
    emulator.add_cluster(PROJECT, "prod-db", job_seconds=job_seconds, job_outcome=job_outcome)
    emulator.add_cluster(PROJECT, "dr-db")
    times = ("2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z")
    created = emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": when, "status": "completed"} for when in times])
    return [snapshot["id"] for snapshot in created]


def seconds(later: str, earlier: str) -> int:
    return int((datetime.strptime(later, FORMAT) - datetime.strptime(earlier, FORMAT)).total_seconds())


def test_rerun_after_a_newer_snapshot_reattaches_then_reuses_and_starts_exactly_one_restore(ansible, emulator):
    older, newest = seed(emulator, job_seconds=6)
    # Run 1 starts a restore of the newest snapshot (and is interrupted: it does not wait).
    first = runbook(ansible, restore_wait=False)
    assert first.rc == 0, first.stdout[-4000:]
    job = role_result(first)["restore_job"]
    assert job["snapshot_id"] == newest and job["status"] in ("pending", "in_progress")
    # A newer snapshot completes meanwhile.
    emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-21T00:00:00Z", "status": "completed"}])
    # Run 2, while the job still runs: re-attaches and waits for it.
    second = runbook(ansible)
    assert second.rc == 0, second.stdout[-4000:]
    attached = role_result(second)
    assert attached["restore_job"]["id"] == job["id"] and attached["reused"] is True
    assert attached["restore_job"]["status"] == "completed" and attached["snapshot"]["id"] == newest
    assert attached["snapshot_created_at"] == "2026-11-20T00:00:00Z"
    assert "re-used" in second.ok("Summarize the restore")["msg"] and "taken 2026-11-20T00:00:00Z" in second.ok("Summarize the restore")["msg"]
    # Run 3, after it finished: re-used, with the job's own times, the same as run 2 reported.
    time.sleep(2)
    third = runbook(ansible)
    assert third.rc == 0, third.stdout[-4000:]
    reused = role_result(third)
    assert reused["restore_job"]["id"] == job["id"] and reused["reused"] is True and reused["snapshot"]["id"] == newest
    for key in ("started_at", "finished_at", "duration_seconds"):
        assert reused[key] == attached[key], key
    assert reused["started_at"] == job["created_at"]
    assert reused["duration_seconds"] == seconds(reused["finished_at"], reused["started_at"]) and 4 <= reused["duration_seconds"] <= 9
    assert len(api_calls(emulator, "POST")) == 1


def test_a_completed_restore_older_than_the_window_is_refused_until_forced(ansible, emulator):
    seed(emulator, job_seconds=1)
    first = runbook(ansible)
    assert first.rc == 0, first.stdout[-4000:]
    job = role_result(first)["restore_job"]
    time.sleep(1.5)
    emulator.clear_requests()
    again = runbook(ansible, restore_reuse_window=0)
    message = again.failed("Refuse to restore over an earlier restore of this source")["msg"]
    for part in (job["id"], job["snapshot_id"], "taken 2026-11-20T00:00:00Z", job["created_at"], "restore_reuse_window=0",
                 "restore_force", "dr-db"):
        assert part in message, f"{part!r} missing from: {message}"
    assert api_calls(emulator, "POST") == []
    forced = runbook(ansible, restore_reuse_window=0, restore_force=True)
    assert forced.rc == 0, forced.stdout[-4000:]
    assert role_result(forced)["restore_job"]["id"] != job["id"] and len(api_calls(emulator, "POST")) == 1


def test_a_running_restore_of_a_snapshot_after_the_chosen_time_is_refused(ansible, emulator):
    older, newest = seed(emulator, job_seconds=30)
    first = runbook(ansible, restore_wait=False)
    job = role_result(first)["restore_job"]
    emulator.clear_requests()
    run = runbook(ansible, restore_snapshot_before="2026-11-19T12:00:00Z")
    message = run.failed("Refuse to restore over an earlier restore of this source")["msg"]
    for part in (job["id"], newest, "taken 2026-11-20T00:00:00Z", "restore_snapshot_before=2026-11-19T12:00:00Z", "still running"):
        assert part in message, f"{part!r} missing from: {message}"
    assert api_calls(emulator, "POST") == []
    assert older  # the snapshot the selection wants exists: the refusal is about the target, not about the look-up


def test_an_earlier_restore_into_another_target_project_does_not_count(ansible, emulator):
    seed(emulator, job_seconds=1)
    emulator.add_project(OTHER_PROJECT)
    emulator.add_cluster(OTHER_PROJECT, "dr-db")
    assert runbook(ansible, restore_target_project_id=OTHER_PROJECT).rc == 0
    run = runbook(ansible, restore_reuse_window=0)
    assert run.rc == 0, run.stdout[-4000:]
    assert role_result(run)["reused"] is False and len(api_calls(emulator, "POST")) == 2


def test_a_failed_restore_is_reported_and_published_before_the_role_fails(ansible, emulator):
    seed(emulator, job_seconds=2, job_outcome="failed")
    run = runbook(ansible)
    assert run.rc != 0
    result = role_result(run)
    assert result["restore_job"]["status"] == "failed" and result["failed"] is True and result["timed_out"] is False
    published = run.ok("Publish the result for the next node of an AWX workflow")["ansible_stats"]["data"]["atlas_restore"]
    assert published["restore_job"]["id"] == result["restore_job"]["id"] and published["failed"] is True
    message = run.failed("Fail when the restore did not complete")["msg"]
    for part in (result["restore_job"]["id"], "dr-db", "taken 2026-11-20T00:00:00Z", "failed after"):
        assert part in message, f"{part!r} missing from: {message}"


def test_a_timed_out_wait_says_the_restore_goes_on_and_how_to_reattach(ansible, emulator):
    seed(emulator, job_seconds=60)
    run = runbook(ansible, restore_wait_timeout=2)
    assert run.rc != 0
    result = role_result(run)
    assert result["timed_out"] is True and result["finished_at"] is None and result["duration_seconds"] is None
    assert run.ok("Publish the result for the next node of an AWX workflow")["ansible_stats"]["data"]["atlas_restore"]["timed_out"] is True
    message = run.failed("Fail when the restore did not complete")["msg"]
    job_id = result["restore_job"]["id"]
    for part in ("goes on in Atlas", f"atlasops.backup.restore_job_info -a 'project_id={PROJECT} cluster_name=prod-db job_id={job_id} wait=true",
                 "dr-db", "taken 2026-11-20T00:00:00Z", "restore_wait_timeout=2"):
        assert part in message, f"{part!r} missing from: {message}"


def test_download_urls_show_as_host_and_expiry_and_never_reach_the_stats(ansible, emulator):
    seed(emulator, job_seconds=1)
    run = runbook(ansible, restore_delivery_type="download", restore_target_cluster_name="")
    assert run.rc == 0, run.stdout[-4000:]
    job = role_result(run)["restore_job"]
    url = job["delivery_url"][0]
    summary = run.ok("Summarize the restore")["msg"]
    assert url not in summary and f"Download from {urlsplit(url).hostname} (1 link" in summary and "expiring " + job["expires_at"] in summary
    published = run.ok("Publish the result for the next node of an AWX workflow")["ansible_stats"]["data"]["atlas_restore"]
    assert "delivery_url" not in published["restore_job"] and url not in str(published)
    # Atlas gives a ready download no finishedAt: its end is when this run first saw it ready
    assert "finished_at" not in job and role_result(run)["finished_at"] and role_result(run)["duration_seconds"] >= 0
    shown = runbook(ansible, restore_delivery_type="download", restore_target_cluster_name="", restore_show_delivery_urls=True)
    assert url in shown.ok("Summarize the restore")["msg"] and role_result(shown)["reused"] is True
    # A re-used download that was complete before this run: its own end or nothing, never "now".
    assert role_result(shown)["finished_at"] == role_result(run)["finished_at"] or role_result(shown)["finished_at"] is None


def test_variables_are_checked_before_any_request_and_named_as_the_role_names_them(ansible, emulator):
    seed(emulator)
    cases = [
        (dict(restore_target_cluster_name=""), "restore_target_cluster_name is required"),
        (dict(restore_delivery_type="point_in_time"), "needs restore_point_in_time"),
        (dict(restore_point_in_time="2026-11-20T08:00:00Z"), "restore_point_in_time is only for restore_delivery_type=point_in_time"),
        (dict(restore_snapshot_before="yesterday"), "restore_snapshot_before must be ISO 8601"),
        (dict(restore_snapshot_before="2026-11-20T08:00:00"), "restore_snapshot_before \"2026-11-20T08:00:00\" has no timezone"),
        (dict(restore_snapshot_id="not-an-id"), "restore_snapshot_id must be 24"),
        (dict(restore_delivery_type="download"), "restore_target_cluster_name must be empty for restore_delivery_type=download"),
    ]
    for variables, expected in cases:
        emulator.clear_requests()
        run = runbook(ansible, **variables)
        message = run.failed("Refuse role variables that cannot work")["msg"]
        assert expected in message, f"{variables}: {message}"
        assert emulator.requests() == [], f"{variables}: requests were sent"


def test_fractional_seconds_in_snapshot_before_are_a_filter_not_an_error(ansible, emulator):
    older, newest = seed(emulator)
    run = runbook(ansible, check=True, restore_snapshot_before="2026-11-20T00:00:00.750Z")
    assert run.rc == 0, run.stdout[-4000:]
    assert role_result(run)["snapshot"]["id"] == newest


def test_a_target_that_does_not_exist_names_the_target_variables(ansible, emulator):
    seed(emulator)
    run = runbook(ansible, restore_target_cluster_name="no-such-db")
    assert run.rc != 0
    message = run.failed("Fail when the restore did not complete")["msg"]
    assert "restore_target_cluster_name (no-such-db)" in message and "restore_target_project_id" in message, message
    published = run.ok("Publish the result for the next node of an AWX workflow")["ansible_stats"]["data"]["atlas_restore"]
    assert published["failed"] is True and published["restore_job"] is None


@pytest.mark.parametrize("cluster_type", ["flex", "serverless", "legacy"])
def test_every_backup_family_reruns_into_the_same_job_with_its_own_times(ansible, emulator, cluster_type):
    emulator.add_cluster(PROJECT, "src-db", cluster_type=cluster_type, job_seconds=2)
    emulator.add_cluster(PROJECT, "dst-db", cluster_type=cluster_type)
    emulator.add_snapshots(PROJECT, "src-db", snapshots=[{"created_at": "2026-11-20T00:00:00Z", "status": "completed"}])
    variables = dict(restore_cluster_name="src-db", restore_target_cluster_name="dst-db", restore_cluster_type=cluster_type)
    first = role_result(runbook(ansible, **variables))
    again_run = runbook(ansible, **variables)
    assert again_run.rc == 0, again_run.stdout[-4000:]
    again = role_result(again_run)
    assert again["reused"] is True and again["restore_job"]["id"] == first["restore_job"]["id"]
    assert first["snapshot_created_at"] == "2026-11-20T00:00:00Z" and first["started_at"] == first["restore_job"]["created_at"]
    # Legacy jobs report no end time of their own: null rather than a time this run made up.
    assert (first["finished_at"] is None) == (cluster_type == "legacy")
    for key in ("started_at", "finished_at", "duration_seconds"):
        assert again[key] == first[key], key
    assert len(api_calls(emulator, "POST")) == 1


def test_legacy_download_urls_never_reach_the_stats(ansible, emulator):
    emulator.add_cluster(PROJECT, "old-db", cluster_type="legacy", job_seconds=1)
    emulator.add_snapshots(PROJECT, "old-db", snapshots=[{"created_at": "2026-11-20T00:00:00Z", "status": "completed"}])
    run = runbook(ansible, restore_cluster_name="old-db", restore_cluster_type="legacy", restore_delivery_type="download",
                  restore_target_cluster_name="")
    assert run.rc == 0, run.stdout[-4000:]
    delivery = role_result(run)["restore_job"]["delivery"]
    assert delivery["url"]
    published = run.ok("Publish the result for the next node of an AWX workflow")["ansible_stats"]["data"]["atlas_restore"]
    assert "url" not in published["restore_job"]["delivery"] and delivery["url"] not in str(published)
    assert delivery["url"] not in run.ok("Summarize the restore")["msg"]
    # This run saw the download complete: that moment stands in for the end legacy jobs do not report.
    assert role_result(run)["finished_at"] is not None
    again = runbook(ansible, restore_cluster_name="old-db", restore_cluster_type="legacy", restore_delivery_type="download",
                    restore_target_cluster_name="")
    assert again.rc == 0, again.stdout[-4000:]
    # Re-used, and already complete before this run: no end of its own, so null, never the time of this re-run.
    assert role_result(again)["reused"] is True and role_result(again)["finished_at"] is None
    assert role_result(again)["duration_seconds"] is None


def test_a_given_snapshot_that_is_not_completed_is_refused_naming_its_status(ansible, emulator):
    seed(emulator)
    running = emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-21T00:00:00Z", "status": "in_progress"}])
    run = runbook(ansible, restore_snapshot_id=running[0]["id"])
    message = run.failed("Fail when no completed snapshot qualifies")["msg"]
    assert f"Snapshot {running[0]['id']} (restore_snapshot_id) of cluster prod-db is in_progress, not completed" in message, message
    assert api_calls(emulator, "POST") == []
