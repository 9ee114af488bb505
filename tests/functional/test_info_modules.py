# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""snapshot_info and restore_job_info through real ansible-playbook runs against the emulator."""

from __future__ import annotations

import json

from harness import PROJECT, SECRETS, api_calls, task

SNAPSHOTS = [  # (created_at, status, snapshot_type)
    ("2026-11-20T00:00:00Z", "completed", "scheduled"),
    ("2026-11-20T06:00:00Z", "completed", "on_demand"),
    ("2026-11-20T12:00:00Z", "completed", "scheduled"),
    ("2026-11-20T18:00:00Z", "in_progress", "scheduled"),
    ("2026-11-20T09:00:00Z", "failed", "scheduled"),
]
FAMILIES = [("dedicated", "prod-db", False), ("dedicated", "shard-db", True), ("flex", "flex-db", False),
            ("serverless", "sls-db", False), ("legacy", "legacy-db", False)]


def seed_snapshots(emulator, cluster_type, name, sharded):
    emulator.add_cluster(PROJECT, name, cluster_type=cluster_type, sharded=sharded)
    created = emulator.add_snapshots(PROJECT, name, snapshots=[
        {"created_at": when, "status": status, "snapshot_type": kind if cluster_type in ("dedicated", "serverless") else None}
        for when, status, kind in SNAPSHOTS
    ])
    return {when: snapshot["id"] for (when, dummy, dummy2), snapshot in zip(SNAPSHOTS, created)}


def one_of(cluster_type):
    """A snapshot that the filters would leave out: a failed one, or for legacy an unfinished one."""
    return "2026-11-20T18:00:00Z" if cluster_type == "legacy" else "2026-11-20T09:00:00Z"


def test_snapshot_info_latest_and_last_good_before_for_every_cluster_type(ansible, emulator):
    ids, tasks = {}, []
    for cluster_type, name, sharded in FAMILIES:
        ids[name] = seed_snapshots(emulator, cluster_type, name, sharded)
        common = dict(project_id=PROJECT, cluster_name=name, cluster_type=cluster_type, sharded=sharded or None)
        tasks += [
            task("snapshot_info", f"{name} latest", **common),
            task("snapshot_info", f"{name} before", before="2026-11-20T10:00:00+00:00", **common),
            task("snapshot_info", f"{name} before epoch", before=1763640000, **common),  # 2025: nothing qualifies
            task("snapshot_info", f"{name} all", completed_only=False, **common),
            task("snapshot_info", f"{name} one", snapshot_id=ids[name][one_of(cluster_type)], **common),
        ]
        if cluster_type in ("dedicated", "serverless"):
            tasks.append(task("snapshot_info", f"{name} on demand", snapshot_type="on_demand", **common))
    run = ansible.run(tasks)
    assert run.rc == 0, run.stdout[-3000:]
    for cluster_type, name, sharded in FAMILIES:
        latest = run.ok(f"{name} latest")
        assert latest["changed"] is False
        assert latest["snapshot"]["id"] == ids[name]["2026-11-20T12:00:00Z"]
        completed_newest_first = ("2026-11-20T12:00:00Z", "2026-11-20T06:00:00Z", "2026-11-20T00:00:00Z")
        assert [snap["id"] for snap in latest["snapshots"]] == [ids[name][when] for when in completed_newest_first]
        assert all(snap["status"] == "completed" for snap in latest["snapshots"])
        assert run.ok(f"{name} before")["snapshot"]["id"] == ids[name]["2026-11-20T06:00:00Z"]
        assert run.ok(f"{name} before epoch") == dict(run.ok(f"{name} before epoch"), snapshot=None, snapshots=[])
        everything = [snap["status"] for snap in run.ok(f"{name} all")["snapshots"]]
        # Legacy backup has no failed snapshots: a snapshot is complete or still being taken.
        assert everything == ["in_progress", "completed"] + (["failed"] if cluster_type != "legacy" else []) + ["completed", "completed"]
        one = run.ok(f"{name} one")
        assert one["snapshot"]["id"] == ids[name][one_of(cluster_type)]
        assert one["snapshot"]["status"] == ("in_progress" if cluster_type == "legacy" else "failed")
        if cluster_type in ("dedicated", "serverless"):
            assert run.ok(f"{name} on demand")["snapshot"]["id"] == ids[name]["2026-11-20T06:00:00Z"]
    sharded_lists = [entry for entry in api_calls(emulator) if entry["operation_id"] == "listGroupClusterBackupSnapshotShardedClusters"]
    assert sharded_lists and all(entry["query"] == {} for entry in sharded_lists)


def test_restore_job_info_lists_every_page_and_filters(ansible, emulator):
    emulator.add_cluster(PROJECT, "prod-db")
    emulator.add_cluster(PROJECT, "dr-db")
    snapshot = emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-20T00:00:00Z", "status": "completed"}])[0]["id"]
    emulator.add_restore_jobs(PROJECT, "prod-db", count=1100, delivery_type="automated", snapshot_id=snapshot, target_cluster_name="dr-db",
                              state="completed")
    emulator.add_restore_jobs(PROJECT, "prod-db", count=3, delivery_type="download", snapshot_id=snapshot, state="failed")
    emulator.add_restore_jobs(PROJECT, "prod-db", count=2, delivery_type="download", snapshot_id=snapshot, state="running")
    emulator.clear_requests()
    common = dict(project_id=PROJECT, cluster_name="prod-db")
    run = ansible.run([
        task("restore_job_info", "all", **common),
        task("restore_job_info", "failed downloads", status=["failed"], delivery_type="download", **common),
        task("restore_job_info", "running", status=["pending", "in_progress"], **common),
        task("restore_job_info", "to dr", target_cluster_name="dr-db", snapshot_id=snapshot, **common),
        task("restore_job_info", "other snapshot", snapshot_id="b" * 24, **common),
    ])
    assert run.rc == 0, run.stdout[-3000:]
    jobs = run.ok("all")["restore_jobs"]
    assert len(jobs) == 1105 and len({job["id"] for job in jobs}) == 1105
    assert [job["id"] for job in jobs] == sorted((job["id"] for job in jobs), reverse=True)
    assert {job["status"] for job in jobs} == {"completed", "failed", "in_progress"}
    assert len(run.ok("failed downloads")["restore_jobs"]) == 3
    assert len(run.ok("running")["restore_jobs"]) == 2
    assert len(run.ok("to dr")["restore_jobs"]) == 1100
    assert run.ok("other snapshot")["restore_jobs"] == []
    lists = [entry for entry in api_calls(emulator) if entry["operation_id"] == "listGroupClusterBackupRestoreJobs"]
    assert len(lists) == 5 * 3  # 1105 jobs at 500 a page: 3 requests for each of the five tasks
    assert all(entry["query"].get("itemsPerPage") == "500" for entry in lists)


def test_restore_job_info_waits_for_a_job_and_fails_on_a_bad_end(ansible, emulator):
    emulator.add_cluster(PROJECT, "prod-db", job_seconds=8)
    emulator.add_cluster(PROJECT, "flaky-db", cluster_type="flex", job_seconds=2, job_outcome="failed")
    emulator.add_cluster(PROJECT, "slow-db", job_seconds=600)
    good = emulator.add_restore_jobs(PROJECT, "prod-db", delivery_type="download", state="running")[0]
    bad = emulator.add_restore_jobs(PROJECT, "flaky-db", delivery_type="automated", target_cluster_name="flaky-db", state="running")[0]
    slow = emulator.add_restore_jobs(PROJECT, "slow-db", delivery_type="download", state="running")[0]
    # The first read passes; the polls of the wait then meet two 429s and two 503s.
    for fault in ({"action": "status", "status": 429, "retry_after": 1, "times": 2, "skip": 1},
                  {"action": "status", "status": 503, "times": 2, "skip": 3}):
        emulator.add_fault(operation_id="getGroupClusterBackupRestoreJob", **fault)
    run = ansible.run([
        task("restore_job_info", "wait good", project_id=PROJECT, cluster_name="prod-db", job_id=good, wait=True, wait_timeout=120),
        task("restore_job_info", "wait bad", project_id=PROJECT, cluster_name="flaky-db", cluster_type="flex", job_id=bad, wait=True,
             ignore_errors=True),
        task("restore_job_info", "wait slow", project_id=PROJECT, cluster_name="slow-db", job_id=slow, wait=True, wait_timeout=3,
             ignore_errors=True),
    ])
    good_result = run.ok("wait good")
    assert good_result["restore_job"]["status"] == "completed" and good_result["restore_job"]["delivery_url"]
    assert good_result["waited_seconds"] > 0
    statuses = [entry["status"] for entry in emulator.requests() if entry.get("operation_id") == "getGroupClusterBackupRestoreJob"]
    assert statuses.count(429) == 2 and statuses.count(503) == 2 and statuses[-1] == 200
    bad_result = run.failed("wait bad")
    assert "ended failed" in bad_result["msg"] and bad_result["restore_job"]["atlas_status"] == "FAILED"
    slow_result = run.failed("wait slow")
    assert "did not finish within wait_timeout (3 s)" in slow_result["msg"]
    assert slow_result["restore_job"]["status"] == "in_progress" and slow_result["waited_seconds"] >= 3


def test_credentials_from_the_environment_service_account_and_wrong_keys(ansible, emulator):
    emulator.add_cluster(PROJECT, "prod-db")
    tasks = [task("restore_job_info", "list", project_id=PROJECT, cluster_name="prod-db", ignore_errors=True)]
    old_spelling = ansible.run(tasks, credentials="none", env={"MONGODB_ATLAS_PUBLIC_KEY": "emu-public-key",
                                                               "MONGODB_ATLAS_PRIVATE_KEY": SECRETS[0]})
    assert old_spelling.ok("list")["restore_jobs"] == []
    emulator.clear_requests()
    service_account = ansible.run(tasks, credentials="service_account")
    assert service_account.ok("list")["restore_jobs"] == []
    assert [entry["auth"] for entry in api_calls(emulator)] == ["bearer"]
    assert any(entry.get("operation_id") == "oauth_token" for entry in emulator.requests())
    wrong = ansible.run(tasks, credentials="none", env={"MONGODB_ATLAS_PUBLIC_API_KEY": "emu-public-key",
                                                        "MONGODB_ATLAS_PRIVATE_API_KEY": "not-the-key"})
    failure = wrong.failed("list")
    assert "HTTP 401" in failure["msg"] and failure["error"]["status"] == 401 and "hint" in failure["msg"]
    emulator.clear_requests()
    missing = ansible.run(tasks, credentials="none")
    message = missing.failed("list")["msg"]
    assert "client_id" in message and "MONGODB_ATLAS_PRIVATE_KEY" in message
    assert emulator.requests() == []


def test_bad_input_is_refused_before_any_request(ansible, emulator):
    common = dict(project_id=PROJECT, cluster_name="prod-db")
    cases = [
        ("snapshot_info", dict(common, project_id="5F1A")),
        ("snapshot_info", dict(common, cluster_name="../../admin")),
        ("snapshot_info", dict(common, cluster_name="x" * 300)),
        ("snapshot_info", dict(common, cluster_type="flex", sharded=True)),
        ("snapshot_info", dict(common, before="yesterday")),
        ("snapshot_info", dict(common, snapshot_type="fallback", cluster_type="serverless")),
        ("snapshot_info", dict(common, request_timeout=-1)),
        ("restore_job_info", dict(common, wait=True)),
        ("restore_job_info", dict(common, job_id="%2e%2e")),
        ("restore_job_info", dict(common, status=["done"])),
        ("restore_job", dict(common, snapshot_id="a" * 24)),
        ("restore_job", dict(common, delivery_type="download", snapshot_id="a" * 24, target_cluster_name="dr")),
        ("restore_job", dict(common, delivery_type="point_in_time", target_cluster_name="dr", point_in_time="2026-11-20T08:00:00")),
        ("restore_job", dict(common, delivery_type="point_in_time", target_cluster_name="dr", point_in_time=1763626500000)),
        ("restore_job", dict(common, state="absent")),
        ("restore_job", dict(common, cluster_type="flex", delivery_type="point_in_time", target_cluster_name="dr", point_in_time=1763626500)),
    ]
    run = ansible.run([task(module, f"case {index}", ignore_errors=True, **args) for index, (module, args) in enumerate(cases)])
    for index, (module, args) in enumerate(cases):
        result = run.failed(f"case {index}")
        assert result["msg"], (module, args)
    assert emulator.requests() == []
    assert not any(secret in json.dumps(run.results) for secret in SECRETS)


def test_listing_10000_jobs_takes_exactly_20_requests(ansible, emulator):
    emulator.add_cluster(PROJECT, "busy-db")
    emulator.add_cluster(PROJECT, "dr-db")
    snapshot = emulator.add_snapshots(PROJECT, "busy-db", snapshots=[{"created_at": "2026-11-20T00:00:00Z", "status": "completed"}])[0]["id"]
    emulator.add_restore_jobs(PROJECT, "busy-db", count=10000, delivery_type="automated", snapshot_id=snapshot, target_cluster_name="dr-db",
                              state="completed")
    emulator.clear_requests()
    run = ansible.run([task("restore_job_info", "all", project_id=PROJECT, cluster_name="busy-db")])
    assert len(run.ok("all")["restore_jobs"]) == 10000
    assert len(api_calls(emulator)) == 20


def test_request_timeout_and_max_retries(ansible, emulator):
    emulator.add_cluster(PROJECT, "prod-db")
    list_jobs = "listGroupClusterBackupRestoreJobs"
    emulator.add_fault(operation_id=list_jobs, action="delay", delay_seconds=3)
    emulator.add_fault(operation_id=list_jobs, action="status", status=503, skip=2)
    common = dict(project_id=PROJECT, cluster_name="prod-db", ignore_errors=True)
    run = ansible.run([
        task("restore_job_info", "slow answer retried", request_timeout=1, **common),
        task("restore_job_info", "no retries", max_retries=0, **common),
    ])
    assert run.ok("slow answer retried")["restore_jobs"] == []
    failure = run.failed("no retries")
    assert failure["error"]["status"] == 503 and "HTTP 503" in failure["msg"]
    statuses = [entry["status"] for entry in emulator.requests() if entry.get("operation_id") == list_jobs]
    assert statuses[-1] == 503 and statuses.count(503) == 1
