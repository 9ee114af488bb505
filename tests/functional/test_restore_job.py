# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""restore_job through real ansible-playbook runs against the emulator."""

from __future__ import annotations

import time

import pytest

from harness import OTHER_PROJECT, PROJECT, SECRETS, api_calls, task

COMPLETED_AT = "2026-11-20T06:00:00Z"


def seed(emulator, cluster_type="dedicated", source="prod-db", target="dr-db", project=PROJECT, target_project=None, **cluster):
    emulator.add_cluster(project, source, cluster_type=cluster_type, **cluster)
    if target:
        emulator.add_cluster(target_project or project, target, cluster_type=cluster_type)
    snapshots = emulator.add_snapshots(project, source, snapshots=[{"created_at": COMPLETED_AT, "status": "completed"}])
    return snapshots[0]["id"]


def posts(emulator):
    return api_calls(emulator, "POST")


CASES = [  # (cluster_type, delivery_type, extra task arguments)
    ("dedicated", "automated", {}),
    ("dedicated", "download", {}),
    ("dedicated", "point_in_time", {"point_in_time": "PIT"}),
    ("dedicated", "point_in_time", {"oplog_ts": "OPLOG", "oplog_inc": 1}),
    ("flex", "automated", {}),
    ("serverless", "automated", {}),
    ("serverless", "download", {}),
    ("legacy", "automated", {}),
    ("legacy", "download", {}),
    ("legacy", "point_in_time", {"point_in_time": "PIT"}),
]


@pytest.mark.parametrize("cluster_type", ["dedicated", "flex", "serverless", "legacy"])
def test_every_delivery_type_restores_waits_and_is_not_repeated(ansible, emulator, cluster_type):
    cases = [case for case in CASES if case[0] == cluster_type]
    tasks = []
    point = int(time.time()) - 600
    for index, (dummy, delivery_type, extra) in enumerate(cases):
        source = f"src{index}"
        # a point in time needs continuous backup on the source (pre-flight checks it, as Atlas does)
        snapshot = seed(emulator, cluster_type, source=source, target=f"dst{index}",
                        **({"pit_enabled": True} if delivery_type == "point_in_time" and cluster_type != "flex" else {}))
        args = dict(project_id=PROJECT, cluster_name=source, cluster_type=cluster_type, delivery_type=delivery_type, wait=True,
                    wait_timeout=60)
        if delivery_type != "point_in_time":
            args["snapshot_id"] = snapshot
        if delivery_type != "download":
            args["target_cluster_name"] = f"dst{index}"
        for key, value in extra.items():
            args[key] = {"PIT": point, "OPLOG": point}.get(value, value)
        tasks += [task("restore_job", f"case {index}", **args), task("restore_job", f"case {index} again", **args)]
    run = ansible.run(tasks)
    assert run.rc == 0, run.stdout[-4000:]
    for index, (dummy, delivery_type, extra) in enumerate(cases):
        first, again = run.ok(f"case {index}"), run.ok(f"case {index} again")
        assert first["changed"] and not first["reused"], first
        assert first["restore_job"]["status"] == "completed"
        assert first["restore_job"]["delivery_type"] == ("automated" if cluster_type == "legacy" and delivery_type == "point_in_time"
                                                         else delivery_type)
        assert first["waited_seconds"] > 0
        assert not again["changed"] and again["reused"] and again["restore_job"]["id"] == first["restore_job"]["id"]
    assert len(posts(emulator)) == len(cases)
    if cluster_type == "serverless":
        assert "migrate the cluster to flex" in run.output


def test_check_mode_predicts_without_writing_and_diff_shows_both_sides(ansible, emulator):
    snapshot = seed(emulator)
    # the pre-flight reads in check mode have tests of their own (test_preflight.py)
    args = dict(project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot, target_cluster_name="dr-db", wait=True,
                preflight=False)
    predicted = ansible.run([task("restore_job", "restore", **args)], check=True, diff=True)
    result = predicted.ok("restore")
    assert result["changed"] and not result["reused"] and result["restore_job"] is None
    assert result["request"] == {"deliveryType": "automated", "snapshotId": snapshot, "targetClusterName": "dr-db",
                                 "targetGroupId": PROJECT}
    assert result["diff"]["before"] == {} and result["diff"]["after"]["target_cluster_name"] == "dr-db"
    assert "wait is ignored" in predicted.output
    assert [entry["method"] for entry in api_calls(emulator)] == ["GET"]

    ansible.run([task("restore_job", "restore", project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot,
                      target_cluster_name="dr-db")]).ok("restore")
    emulator.clear_requests()
    again = ansible.run([task("restore_job", "restore", **args)], check=True, diff=True).ok("restore")
    assert not again["changed"] and again["reused"]
    assert again["diff"]["before"] == again["diff"]["after"] and again["diff"]["before"]["snapshot_id"] == snapshot
    assert all(entry["method"] == "GET" for entry in api_calls(emulator))


def test_force_starts_a_second_job_and_failed_jobs_are_not_reused(ansible, emulator):
    snapshot = seed(emulator)
    args = dict(project_id=PROJECT, cluster_name="prod-db", delivery_type="download", snapshot_id=snapshot)
    emulator.add_restore_jobs(PROJECT, "prod-db", delivery_type="download", snapshot_id=snapshot, state="failed")
    run = ansible.run([task("restore_job", "first", **args), task("restore_job", "forced", force=True, **args)])
    first, forced = run.ok("first"), run.ok("forced")
    assert first["changed"] and forced["changed"] and first["restore_job"]["id"] != forced["restore_job"]["id"]
    assert len(posts(emulator)) == 2


def test_a_create_whose_answer_was_lost_makes_exactly_one_job(ansible, emulator):
    snapshot = seed(emulator)
    emulator.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="drop_after")
    emulator.add_fault(operation_id="listGroupClusterBackupRestoreJobs", action="status", status=503, skip=1, times=1)
    run = ansible.run([task("restore_job", "restore", project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot,
                            target_cluster_name="dr-db", wait=True, wait_timeout=60)])
    result = run.ok("restore")
    assert result["changed"] and result["restore_job"]["status"] == "completed"
    assert "found the matching job that this restore request started" in run.output
    assert len(emulator.restore_jobs(PROJECT, "prod-db")) == 1
    assert len(posts(emulator)) == 1


def test_a_create_dropped_before_processing_is_sent_again(ansible, emulator):
    snapshot = seed(emulator)
    emulator.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="drop_before")
    emulator.add_fault(operation_id="createGroupClusterBackupRestoreJob", action="status", status=429, retry_after=1, skip=1)
    run = ansible.run([task("restore_job", "restore", project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot,
                            target_cluster_name="dr-db")])
    assert run.ok("restore")["changed"]
    assert len(emulator.restore_jobs(PROJECT, "prod-db")) == 1


def test_conflict_names_the_job_in_the_way(ansible, emulator):
    snapshot = seed(emulator)
    emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-20T12:00:00Z", "status": "completed"}])
    emulator.configure(job_seconds=300)
    running = emulator.add_restore_jobs(PROJECT, "prod-db", delivery_type="automated", snapshot_id=snapshot, target_cluster_name="dr-db",
                                        state="running")[0]
    newer = emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-21T00:00:00Z", "status": "completed"}])[0]["id"]
    run = ansible.run([task("restore_job", "restore", project_id=PROJECT, cluster_name="prod-db", snapshot_id=newer,
                            target_cluster_name="dr-db", ignore_errors=True)])
    failure = run.failed("restore")
    assert running in failure["msg"] and "already being restored" in failure["msg"] and failure["error"]["status"] == 409


def test_adopting_a_job_and_cross_project_targets(ansible, emulator):
    snapshot = seed(emulator, target_project=OTHER_PROJECT)
    run = ansible.run([
        task("restore_job", "start", register="started", project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot,
             target_cluster_name="dr-db", target_project_id=OTHER_PROJECT),
        {"name": "adopt", "atlasops.backup.restore_job": {"project_id": PROJECT, "cluster_name": "prod-db",
                                                          "job_id": "{{ started.restore_job.id }}", "wait": True}},
    ])
    started, adopted = run.ok("start"), run.ok("adopt")
    assert started["request"]["targetGroupId"] == OTHER_PROJECT
    assert adopted["reused"] and not adopted["changed"] and adopted["restore_job"]["status"] == "completed"


def test_wait_fails_loudly_on_failed_expired_and_timeout(ansible, emulator):
    bad = seed(emulator, source="bad-db", target="bad-dr", job_outcome="failed")
    old = seed(emulator, source="old-db", target=None, job_outcome="expired")
    slow = seed(emulator, source="slow-db", target="slow-dr", job_seconds=300)
    run = ansible.run([
        task("restore_job", "failed", ignore_errors=True, project_id=PROJECT, cluster_name="bad-db", snapshot_id=bad,
             target_cluster_name="bad-dr", wait=True),
        task("restore_job", "expired", ignore_errors=True, project_id=PROJECT, cluster_name="old-db", snapshot_id=old,
             delivery_type="download", wait=True),
        task("restore_job", "timeout", ignore_errors=True, project_id=PROJECT, cluster_name="slow-db", snapshot_id=slow,
             target_cluster_name="slow-dr", wait=True, wait_timeout=3),
    ])
    assert "ended failed" in run.failed("failed")["msg"] and run.failed("failed")["restore_job"]["failed"] is True
    assert "ended expired" in run.failed("expired")["msg"]
    timeout = run.failed("timeout")
    assert "did not finish within wait_timeout" in timeout["msg"] and timeout["restore_job"]["status"] == "in_progress"
    again = ansible.run([task("restore_job", "retry", project_id=PROJECT, cluster_name="bad-db", snapshot_id=bad,
                              target_cluster_name="bad-dr")]).ok("retry")
    assert again["changed"], "a failed job must not be re-used"


def test_wait_survives_rate_limits_server_errors_drops_and_token_expiry(ansible, emulator):
    snapshot = seed(emulator, job_seconds=12)
    emulator.configure(token_ttl=4)
    get_job = "getGroupClusterBackupRestoreJob"
    emulator.add_fault(operation_id=get_job, action="status", status=429, retry_after=1, times=3)
    emulator.add_fault(operation_id=get_job, action="status", status=503, skip=3, times=2)
    emulator.add_fault(operation_id=get_job, action="drop_before", skip=5, times=1)
    run = ansible.run([task("restore_job", "restore", project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot,
                            target_cluster_name="dr-db", wait=True, wait_timeout=120)], credentials="service_account")
    result = run.ok("restore")
    assert result["restore_job"]["status"] == "completed"
    assert sum(1 for entry in emulator.requests() if entry.get("operation_id") == "oauth_token") >= 2, "the token was never renewed"
    tallies = emulator.faults()
    assert tallies["status_tallies"] == {"429": 3, "503": 2} and tallies["tallies"]["drop_before"] == 1


def test_cancel_rules(ansible, emulator):
    snapshot = seed(emulator, job_seconds=300)
    shard_snapshot = seed(emulator, source="shard-db", target=None, sharded=True, job_seconds=300)
    flex_snapshot = seed(emulator, "flex", source="flex-db", target="flex-dr", job_seconds=300)
    download = emulator.add_restore_jobs(PROJECT, "prod-db", delivery_type="download", snapshot_id=snapshot, state="running")[0]
    done = emulator.add_restore_jobs(PROJECT, "prod-db", delivery_type="download", snapshot_id=snapshot, state="completed")[0]
    automated = emulator.add_restore_jobs(PROJECT, "prod-db", delivery_type="automated", snapshot_id=snapshot,
                                          target_cluster_name="dr-db", state="running")[0]
    sharded = emulator.add_restore_jobs(PROJECT, "shard-db", delivery_type="download", snapshot_id=shard_snapshot, state="running")[0]
    flex = emulator.add_restore_jobs(PROJECT, "flex-db", delivery_type="automated", snapshot_id=flex_snapshot,
                                     target_cluster_name="flex-dr", state="running")[0]

    def cancel(name, job, cluster="prod-db", **extra):
        return task("restore_job", name, ignore_errors=True, project_id=PROJECT, cluster_name=cluster, state="absent", job_id=job, **extra)

    predicted = ansible.run([cancel("download", download)], check=True).ok("download")
    assert predicted["changed"] and not api_calls(emulator, "DELETE")
    run = ansible.run([cancel("download", download), cancel("download again", download), cancel("done", done),
                       cancel("automated", automated), cancel("sharded", sharded, cluster="shard-db"),
                       cancel("flex", flex, cluster="flex-db", cluster_type="flex")])
    cancelled = run.ok("download")
    assert cancelled["changed"] and cancelled["restore_job"]["status"] == "cancelled"
    assert not run.ok("download again")["changed"]
    assert not run.ok("done")["changed"]
    assert "cancels only download jobs" in run.failed("automated")["msg"]
    sharded_failure = run.failed("sharded")
    assert sharded_failure["error"]["status"] == 405 and "sharded" in sharded_failure["msg"]
    assert "no cancel operation for flex" in run.failed("flex")["msg"]
    assert len(api_calls(emulator, "DELETE")) == 2  # the download, and the sharded job Atlas refused


def test_no_secret_in_verbose_output(ansible, emulator):
    snapshot = seed(emulator)
    for credentials in ("api_key", "service_account"):
        run = ansible.run([task("restore_job", "restore", project_id=PROJECT, cluster_name="prod-db", snapshot_id=snapshot,
                                target_cluster_name="dr-db", wait=True),
                           task("restore_job_info", "wrong", project_id=PROJECT, cluster_name="prod-db", ignore_errors=True,
                                public_key="emu-public-key", private_key="wrong-" + SECRETS[0])],
                          verbosity=4, credentials=credentials)
        assert run.rc == 0, run.stdout[-3000:]
        for secret in SECRETS + ("wrong-" + SECRETS[0],):
            assert secret not in run.stdout and secret not in run.stderr
