# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore role and the DR runbook playbook, through real ansible-playbook runs."""

from __future__ import annotations

import time
from datetime import datetime

from harness import PROJECT, api_calls, role_result, runbook

SNAPSHOT_TIMES = ["2026-11-19T00:00:00Z", "2026-11-19T12:00:00Z", "2026-11-20T00:00:00Z", "2026-11-20T12:00:00Z"]


def seed(emulator, source="prod-db", target="dr-db", cluster_type="dedicated"):
    emulator.add_cluster(PROJECT, source, cluster_type=cluster_type, job_seconds=3,
                         **({} if cluster_type == "flex" else {"pit_enabled": True}))  # point-in-time restores need it
    emulator.add_cluster(PROJECT, target, cluster_type=cluster_type)
    created = emulator.add_snapshots(PROJECT, source, snapshots=[{"created_at": when, "status": "completed"} for when in SNAPSHOT_TIMES]
                                     + [{"created_at": "2026-11-21T00:00:00Z", "status": "in_progress"}])
    return {when: snapshot["id"] for when, snapshot in zip(SNAPSHOT_TIMES, created)}


def test_runbook_restores_the_latest_snapshot_waits_reports_and_reruns_idempotently(ansible, emulator):
    snapshots = seed(emulator)
    first = runbook(ansible)
    assert first.rc == 0, first.stdout[-4000:]
    result = role_result(first)
    assert result["snapshot"]["id"] == snapshots["2026-11-20T12:00:00Z"]
    assert result["restore_job"]["status"] == "completed" and result["reused"] is False
    # The job's own times: its creation (from its id) and its own end, whatever the run around it did.
    assert result["started_at"] == result["restore_job"]["created_at"] and result["finished_at"] == result["restore_job"]["finished_at"]
    assert result["duration_seconds"] == int((datetime.strptime(result["finished_at"], "%Y-%m-%dT%H:%M:%SZ")
                                              - datetime.strptime(result["started_at"], "%Y-%m-%dT%H:%M:%SZ")).total_seconds())
    assert result["snapshot_created_at"] == "2026-11-20T12:00:00Z"
    assert first.ok("Publish the result for the next node of an AWX workflow")["ansible_stats"]["data"]["atlas_restore"]["restore_job"]["id"] \
        == result["restore_job"]["id"]
    summary = first.ok("Summarize the restore")["msg"]
    assert "started by this run" in summary and "completed" in summary and "dr-db" in summary
    assert len(api_calls(emulator, "POST")) == 1

    again = runbook(ansible)
    assert again.rc == 0
    rerun = role_result(again)
    assert rerun["reused"] is True and rerun["restore_job"]["id"] == result["restore_job"]["id"]
    # the target was ready before this run: this run did not see it become so, and never reports "now" minus anything
    assert result["target_ready_at"] and rerun["target_ready_at"] is None and rerun["rto_seconds"] is None
    assert "re-used" in again.ok("Summarize the restore")["msg"]
    # A re-run reports the job's times, not "now" minus the job's creation.
    assert (rerun["started_at"], rerun["finished_at"], rerun["duration_seconds"]) == \
        (result["started_at"], result["finished_at"], result["duration_seconds"])
    assert again.ok("Start the restore (or re-use the matching job) and wait for it")["changed"] is False
    assert len(api_calls(emulator, "POST")) == 1


def test_check_mode_resolves_the_snapshot_and_starts_nothing(ansible, emulator):
    snapshots = seed(emulator)
    run = runbook(ansible, check=True, restore_snapshot_before="2026-11-20T06:00:00Z")
    assert run.rc == 0, run.stdout[-4000:]
    result = role_result(run)
    assert result["snapshot"]["id"] == snapshots["2026-11-20T00:00:00Z"]
    assert result["check_mode"] is True and result["restore_job"] is None and result["started_at"] is None
    assert result["request"]["snapshotId"] == snapshots["2026-11-20T00:00:00Z"]
    summary = run.ok("Summarize the restore")["msg"]
    assert "Check mode: would start an automated restore of prod-db snapshot" in summary
    assert "(taken 2026-11-20T00:00:00Z) into dr-db" in summary
    assert all(entry["method"] == "GET" for entry in api_calls(emulator))


def test_no_snapshot_before_the_time_and_overwriting_the_source_are_refused(ansible, emulator):
    seed(emulator)
    early = runbook(ansible, restore_snapshot_before="2026-11-01T00:00:00Z")
    message = early.failed("Fail when no completed snapshot qualifies")["msg"]
    assert "prod-db" in message and "2026-11-01T00:00:00Z" in message
    emulator.clear_requests()
    onto_source = runbook(ansible, restore_target_cluster_name="prod-db")
    assert "overwrite" in onto_source.failed("Refuse to restore into the source cluster itself")["msg"]
    assert emulator.requests() == []


def test_point_in_time_through_the_role_skips_the_lookup(ansible, emulator):
    seed(emulator)
    point = int(time.time()) - 300
    run = runbook(ansible, restore_delivery_type="point_in_time", restore_point_in_time=str(point))
    assert run.rc == 0, run.stdout[-4000:]
    result = role_result(run)
    assert result["snapshot"] is None and result["restore_job"]["point_in_time_utc_seconds"] == point
    assert not any(entry["operation_id"].endswith("Snapshots") for entry in api_calls(emulator))


def test_flex_source_through_the_role(ansible, emulator):
    snapshots = seed(emulator, source="flex-src", target="flex-dst", cluster_type="flex")
    run = runbook(ansible, restore_cluster_name="flex-src", restore_target_cluster_name="flex-dst", restore_cluster_type="flex")
    assert run.rc == 0, run.stdout[-4000:]
    result = role_result(run)
    assert result["snapshot"]["id"] == snapshots["2026-11-20T12:00:00Z"] and result["restore_job"]["atlas_status"] == "COMPLETED"


def test_preflight_safety_snapshot_and_target_readiness_through_the_role(ansible, emulator):
    seed(emulator)
    run = runbook(ansible, restore_target_safety_snapshot="yes", restore_preflight_skip="snapshot_age, pit_window")
    assert run.rc == 0, run.stdout[-4000:]
    result = role_result(run)
    checks = {row["check"]: row["ok"] for row in result["preflight"]}
    assert checks["mongodb_version"] is True and checks["snapshot_age"] is None and checks["pit_window"] is None
    safety = result["safety_snapshot"]
    assert safety["action"] == "taken" and safety["cluster_name"] == "dr-db"
    assert result["target_ready_at"] and result["rto_seconds"] >= result["duration_seconds"]
    summary = run.ok("Summarize the restore")["msg"]
    assert safety["id"] in summary and "undo" in summary and "ready at" in summary
    takes = [entry for entry in api_calls(emulator, "POST") if entry["path"].endswith("/backup/snapshots")]
    assert len(takes) == 1

    emulator.add_cluster(PROJECT, "dr2-db")
    refused = runbook(ansible, restore_target_cluster_name="dr2-db", restore_max_snapshot_age="60")  # the snapshot is days old
    assert refused.rc != 0 and "snapshot_age" in refused.output
    assert len([entry for entry in api_calls(emulator, "POST") if entry["path"].endswith("/restoreJobs")]) == 1
