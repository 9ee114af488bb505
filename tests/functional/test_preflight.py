# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight checks, the target's safety snapshot and waiting until the target is ready, through real
ansible-playbook runs against the emulator."""

from __future__ import annotations

import calendar
import time

import pytest

from harness import PROJECT, api_calls, task


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def seed(emulator, source="prod", target="dr", source_attrs=None, target_attrs=None, snapshot_age=600, target_type="dedicated"):
    """A source and a target cluster and one completed snapshot of the source, taken snapshot_age seconds ago."""
    source_attrs, target_attrs = dict(source_attrs or {}), dict(target_attrs or {})
    emulator.add_cluster(PROJECT, source, sharded=source_attrs.pop("sharded", False), **source_attrs)
    if target:
        emulator.add_cluster(PROJECT, target, cluster_type=target_type, sharded=target_attrs.pop("sharded", False), **target_attrs)
    snapshots = emulator.add_snapshots(PROJECT, source, snapshots=[{"created_at": iso(time.time() - snapshot_age), "status": "completed"}])
    return snapshots[0]["id"]


def restore(name, source, snapshot=None, target="dr", **args):
    if snapshot is not None:
        args["snapshot_id"] = snapshot
    return task("restore_job", name, project_id=PROJECT, cluster_name=source, target_cluster_name=target, **args)


def rows(result) -> dict:
    return {entry["check"]: entry for entry in result["preflight"]}


def writes(emulator) -> list:
    return api_calls(emulator, "POST")


def test_a_sound_restore_passes_every_check_for_a_few_gets(ansible, emulator):
    snapshot = seed(emulator)
    run = ansible.run([restore("restore", "prod", snapshot)], check=True)
    result = run.ok("restore")
    assert [entry["check"] for entry in result["preflight"]][:3] == ["target_exists", "target_not_paused", "target_not_deleting"]
    assert len(result["preflight"]) == 14 and all(entry["ok"] is True for entry in result["preflight"]), result["preflight"]
    assert rows(result)["mongodb_version"]["values"] == {"snapshot": "7.0", "target": "7.0"}
    calls = api_calls(emulator)
    assert all(entry["method"] == "GET" for entry in calls)
    # The checks cost three GETs (source, target, snapshot); the fourth request is the job list the restore itself reads.
    assert sorted(entry["operation_id"] for entry in calls) == sorted(
        ["getGroupCluster", "getGroupCluster", "getGroupClusterBackupSnapshot", "listGroupClusterBackupRestoreJobs"])
    emulator.clear_requests()
    ansible.run([restore("restore", "prod", snapshot, preflight=False)], check=True).ok("restore")
    assert [entry["operation_id"] for entry in api_calls(emulator)] == ["listGroupClusterBackupRestoreJobs"]


CASES = [  # (check, source attributes, target attributes, extra task arguments, snapshot age)
    ("target_not_paused", {}, {"paused": True}, {}, 600),
    ("target_not_deleting", {}, {"state": "DELETING"}, {}, 600),
    ("mongodb_version", {"mongodb_version": "8.0.4"}, {"mongodb_version": "7.0.14"}, {}, 600),
    ("feature_compatibility_version", {"mongodb_version": "8.0.4"}, {"mongodb_version": "8.0.4", "fcv": "7.0"}, {}, 600),
    ("sharded_target", {"sharded": True}, {}, {}, 600),
    ("shard_count", {"sharded": True, "shards": 3}, {"sharded": True, "shards": 2}, {}, 600),
    ("config_server_type", {"sharded": True, "config_server_type": "DEDICATED"}, {"sharded": True}, {}, 600),
    ("database_edition", {}, {"database_edition": "INFINITE"}, {}, 600),
    ("encryption_at_rest", {"encryption_provider": "AWS"}, {}, {}, 600),
    ("source_backup_enabled", {"backup_enabled": False}, {}, {}, 600),
    ("continuous_backup", {}, {}, {"delivery_type": "point_in_time", "point_in_time": "PIT"}, 600),
    ("pit_window", {"pit_enabled": True, "restore_window_days": 1}, {},
     {"delivery_type": "point_in_time", "point_in_time": "OLD_PIT"}, 600),
    ("snapshot_age", {}, {}, {"max_snapshot_age": 3600}, 7200),
]


def case_tasks(emulator, prefix, extra=None, check_names=None):
    tasks = []
    for index, (check, source_attrs, target_attrs, args, age) in enumerate(CASES):
        if check_names and check not in check_names:
            continue
        source, target = f"src{index}", f"dst{index}"
        snapshot = seed(emulator, source, target, source_attrs, target_attrs, snapshot_age=age)
        args = {key: {"PIT": int(time.time()) - 600, "OLD_PIT": int(time.time()) - 2 * 86400}.get(value, value)
                for key, value in args.items()}
        if args.get("delivery_type") != "point_in_time":
            args["snapshot_id"] = snapshot
        args.update(extra or {})
        tasks.append(restore(f"{prefix} {check}", source, target=target, ignore_errors=True, **args))
    return tasks


def test_each_rule_refuses_the_restore_on_its_own_before_the_post(ansible, emulator):
    tasks = case_tasks(emulator, "refused") + [task("restore_job", "missing target", project_id=PROJECT, cluster_name="src0",
                                                    snapshot_id=emulator.add_snapshots(PROJECT, "src0", count=1)[0]["id"],
                                                    target_cluster_name="nowhere", ignore_errors=True)]
    run = ansible.run(tasks)
    for check, *dummy in CASES:
        result = run.failed(f"refused {check}")
        failing = [entry["check"] for entry in result["preflight"] if entry["ok"] is False]
        assert failing == [check], (check, result["preflight"])
        assert result["msg"].startswith("pre-flight checks refused the restore before anything was sent") and check in result["msg"]
        assert result["changed"] is False and result["restore_job"] is None
    missing = run.failed("missing target")
    assert [entry["check"] for entry in missing["preflight"] if entry["ok"] is False] == ["target_exists"]
    assert "nowhere does not exist" in missing["msg"]
    assert writes(emulator) == []


def test_a_broken_rule_names_both_values_and_check_mode_shows_it_too(ansible, emulator):
    tasks = case_tasks(emulator, "checked", check_names=("mongodb_version", "sharded_target"))
    run = ansible.run(tasks, check=True)
    version = run.failed("checked mongodb_version")
    row = rows(version)["mongodb_version"]
    assert row["values"] == {"snapshot": "8.0", "target": "7.0"} and "8.0" in version["msg"] and "7.0" in version["msg"]
    assert len(version["preflight"]) == 14
    sharded = rows(run.failed("checked sharded_target"))["sharded_target"]
    assert sharded["values"] == {"snapshot": "sharded", "target": "REPLICASET"} and "replica set" in sharded["detail"]
    assert writes(emulator) == []


def test_without_the_checks_atlas_refuses_the_same_restore_at_the_post(ansible, emulator):
    tasks = case_tasks(emulator, "unchecked", extra={"preflight": False}, check_names=("mongodb_version",))
    tasks += case_tasks(emulator, "skipped", extra={"preflight_skip": ["sharded_target", "shard_count"]},
                        check_names=("sharded_target",))
    run = ansible.run(tasks)
    unchecked = run.failed("unchecked mongodb_version")
    assert unchecked["preflight"] is None and "INCOMPATIBLE_MONGODB_VERSION" in unchecked["msg"]
    skipped = run.failed("skipped sharded_target")
    assert rows(skipped)["sharded_target"]["ok"] is None and "preflight_skip" in rows(skipped)["sharded_target"]["detail"]
    assert "CANNOT_RESTORE_SHARDED_TO_REPLICA_SET" in skipped["msg"]
    assert len([entry for entry in writes(emulator) if entry["operation_id"] == "createGroupClusterBackupRestoreJob"]) == 2


def test_unknown_check_names_are_refused_before_any_request(ansible, emulator):
    snapshot = seed(emulator)
    emulator.clear_requests()
    run = ansible.run([restore("restore", "prod", snapshot, preflight_skip=["shard_count", "no_such_check"], ignore_errors=True)])
    assert "preflight_skip names no check no_such_check" in run.failed("restore")["msg"]
    assert api_calls(emulator) == []


def test_credentials_that_cannot_read_clusters_warn_and_do_not_block(ansible, emulator):
    snapshot = seed(emulator, target_attrs={"paused": True})  # a paused target that nobody can see
    emulator.add_fault(operation_id="getGroupCluster", action="status", status=403, error_code="USER_UNAUTHORIZED", times=-1)
    run = ansible.run([restore("restore", "prod", snapshot, wait=True, wait_timeout=60, wait_for_target=True)])
    result = run.ok("restore")
    assert result["changed"] and result["restore_job"]["status"] == "completed"
    unjudged = [entry["check"] for entry in result["preflight"] if entry["ok"] is None]
    assert "target_exists" in unjudged and "target_not_paused" in unjudged and "mongodb_version" in unjudged
    assert not [entry for entry in result["preflight"] if entry["ok"] is False]
    assert "not judged" in run.output and "the restore is not refused for it" in run.output
    assert result["target_ready_at"] is None and "target_ready_at is null" in run.output


def test_a_deleted_source_is_not_judged_and_the_target_still_is(ansible, emulator):
    snapshot = seed(emulator, target_attrs={"paused": True})
    emulator.add_fault(operation_id="getGroupCluster", path_contains="/clusters/prod", action="status", status=404,
                       error_code="CLUSTER_NOT_FOUND", times=-1)
    run = ansible.run([restore("restore", "prod", snapshot, ignore_errors=True)], check=True)
    result = run.failed("restore")
    assert [entry["check"] for entry in result["preflight"] if entry["ok"] is False] == ["target_not_paused"]
    assert rows(result)["source_backup_enabled"]["ok"] is None and "could not read source cluster prod" in \
        rows(result)["source_backup_enabled"]["detail"]


def test_a_safety_snapshot_then_the_restore_and_a_re_run_takes_no_other(ansible, emulator):
    emulator.configure(snapshot_seconds=3.0)
    snapshot = seed(emulator)
    args = dict(target_safety_snapshot=True, wait=True, wait_timeout=120)
    predicted = ansible.run([restore("restore", "prod", snapshot, **args)], check=True).ok("restore")
    assert predicted["safety_snapshot"]["action"] == "would_take" and writes(emulator) == []

    run = ansible.run([restore("restore", "prod", snapshot, **args), restore("again", "prod", snapshot, **args)])
    first, again = run.ok("restore"), run.ok("again")
    safety = first["safety_snapshot"]
    assert safety["action"] == "taken" and safety["status"] == "completed" and safety["cluster_name"] == "dr"
    assert safety["retention_days"] == 7 and "prod" in safety["description"] and snapshot in safety["description"]
    assert f"restore snapshot {safety['id']} of dr into dr" in safety["undo"] and "restore_allow_overwrite_source: true" in safety["undo"]
    assert first["restore_job"]["status"] == "completed"
    assert again["reused"] and not again["changed"] and again["safety_snapshot"]["id"] == safety["id"]
    assert again["safety_snapshot"]["action"] == "reused"
    posts = [entry["operation_id"] for entry in writes(emulator)]
    assert posts == ["takeGroupClusterBackupSnapshots", "createGroupClusterBackupRestoreJob"]
    on_demand = [entry for entry in emulator.requests() if entry["operation_id"] == "takeGroupClusterBackupSnapshots"]
    assert "/clusters/dr/" in on_demand[0]["path"]

    # A forced new restore of the same snapshot re-uses the snapshot it took before the first restore.
    forced = ansible.run([restore("forced", "prod", snapshot, force=True, **args)]).ok("forced")
    assert forced["safety_snapshot"]["action"] == "reused" and forced["safety_snapshot"]["id"] == safety["id"]
    assert [entry["operation_id"] for entry in writes(emulator)].count("takeGroupClusterBackupSnapshots") == 1


@pytest.mark.parametrize("preflight", [True, False])
@pytest.mark.parametrize("target_type, target_attrs, words", [
    ("flex", {}, "is a flex cluster"),
    ("dedicated", {"backup_enabled": False}, "has backup disabled"),
])
def test_a_safety_snapshot_that_cannot_be_taken_refuses_before_anything_is_sent(ansible, emulator, target_type, target_attrs, words,
                                                                                preflight):
    snapshot = seed(emulator, target_attrs=target_attrs, target_type=target_type)
    run = ansible.run([restore("restore", "prod", snapshot, target_safety_snapshot=True, preflight=preflight, ignore_errors=True)])
    assert words in run.failed("restore")["msg"]
    assert writes(emulator) == []


def test_done_means_the_target_is_ready(ansible, emulator):
    emulator.configure(cluster_idle_seconds=8.0)
    snapshot = seed(emulator)
    run = ansible.run([restore("restore", "prod", snapshot, wait=True, wait_timeout=120, wait_for_target=True)])
    result = run.ok("restore")
    ready = calendar.timegm(time.strptime(result["target_ready_at"], "%Y-%m-%dT%H:%M:%SZ"))
    finished = calendar.timegm(time.strptime(result["restore_job"]["finished_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert ready >= finished + 7, (result["target_ready_at"], result["restore_job"]["finished_at"])
    reads = [entry for entry in api_calls(emulator) if entry["operation_id"] == "getGroupCluster" and "/clusters/dr" in entry["path"]]
    assert len(reads) >= 3  # one for the checks, then polls until IDLE


def test_a_target_not_ready_by_the_deadline_fails_saying_the_restore_completed(ansible, emulator):
    emulator.configure(cluster_idle_seconds=120.0)
    snapshot = seed(emulator)
    started = time.time()
    run = ansible.run([restore("restore", "prod", snapshot, wait=True, wait_timeout=12, wait_for_target=True, ignore_errors=True)])
    result = run.failed("restore")
    assert "the restore completed, but target cluster dr is not ready within wait_timeout (12 s)" in result["msg"]
    assert "UPDATING" in result["msg"] and result["restore_job"]["status"] == "completed"
    assert time.time() - started < 12 + 30 + 20  # the same deadline bounds the job wait and the target wait


def test_flex_restores_are_judged_on_what_atlas_reports_for_flex(ansible, emulator):
    emulator.add_cluster(PROJECT, "flex-src", cluster_type="flex", mongodb_version="8.0.4")
    emulator.add_cluster(PROJECT, "flex-dst", cluster_type="flex", mongodb_version="8.0.4")
    emulator.add_cluster(PROJECT, "flex-old", cluster_type="flex", mongodb_version="7.0.14")
    snapshot = emulator.add_snapshots(PROJECT, "flex-src", snapshots=[{"created_at": iso(time.time() - 600), "status": "completed"}])[0]["id"]
    args = dict(project_id=PROJECT, cluster_name="flex-src", cluster_type="flex", snapshot_id=snapshot, ignore_errors=True)
    run = ansible.run([task("restore_job", "sound", target_cluster_name="flex-dst", **args),
                       task("restore_job", "older", target_cluster_name="flex-old", **args)], check=True)
    sound = run.ok("sound")
    assert not [entry for entry in sound["preflight"] if entry["ok"] is not True], sound["preflight"]
    assert rows(sound)["mongodb_version"]["values"] == {"snapshot": "8.0", "target": "8.0"}
    older = run.failed("older")
    assert [entry["check"] for entry in older["preflight"] if entry["ok"] is False] == ["mongodb_version"]
    assert {entry["operation_id"] for entry in api_calls(emulator) if "Cluster" in entry["operation_id"]
            and "Backup" not in entry["operation_id"]} == {"getGroupFlexCluster"}
