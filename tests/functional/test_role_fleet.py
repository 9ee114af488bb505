# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore role over an inventory of clusters: every host starts its restore, the batch waits together in one task."""

from __future__ import annotations

import sys

import yaml

from harness import OTHER_PROJECT, PROJECT, api_calls

RECORD = "Record the result"


def inventory(tmp_path, hosts: dict, **group_vars) -> str:
    """One inventory host per source cluster, its restore_* variables as host vars."""
    group = {"vars": dict(ansible_connection="local", ansible_python_interpreter=sys.executable, restore_project_id=PROJECT,
                          **group_vars),
             "hosts": hosts}
    path = tmp_path / "clusters.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"atlas_clusters": group}}}))
    return str(path)


def seed(emulator, names, **cluster):
    for name in names:
        emulator.add_cluster(PROJECT, f"src-{name}", **cluster.get(name, {}))
        emulator.add_cluster(PROJECT, f"dst-{name}")
        emulator.add_snapshots(PROJECT, f"src-{name}", snapshots=[{"created_at": "2026-11-20T06:00:00Z", "status": "completed"}])


def hosts_for(names) -> dict:
    return {name: {"restore_cluster_name": f"src-{name}", "restore_target_cluster_name": f"dst-{name}"} for name in names}


def fleet(ansible, tmp_path, hosts, check=False, **extra_vars):
    return ansible.run(playbook="atlasops.backup.dr_restore", inventory=inventory(tmp_path, hosts), check=check,
                       extra_vars=dict(restore_hosts="atlas_clusters", **extra_vars))


def waits(emulator) -> list:
    return [entry for entry in api_calls(emulator) if entry["method"] == "GET" and "/restoreJobs/" in entry["path"]]


def test_every_cluster_restores_and_the_batch_waits_once(ansible, emulator, tmp_path):
    names = ["a", "b", "c"]
    seed(emulator, names)
    run = fleet(ansible, tmp_path, hosts_for(names), restore_wait_for_target=False)
    assert run.rc == 0, run.stdout[-4000:]
    assert len(api_calls(emulator, "POST")) == 3
    assert len([entry for entry in run.results if entry["task"].endswith("Wait for the restores of every cluster of this batch together")
                and entry["outcome"] == "ok"]) == 1
    for name in names:
        result = run.on(RECORD, name)["result"]["ansible_facts"]["restore_result"]
        assert result["restore_job"]["status"] == "completed" and result["restore_job"]["target_cluster_name"] == f"dst-{name}"
        assert result["finished_at"] and result["duration_seconds"] >= 0
        stats = run.on("Publish the result for the next node of an AWX workflow", name)["result"]["ansible_stats"]["data"]
        assert list(stats["atlas_restore"]) == [name]
    summary = run.task("Summarize the restores of every cluster of this batch")["result"]["msg"]
    assert len(summary) == 3 and all("completed" in line for line in summary)
    # Each host's start is one module run: its jobs listed once (earlier restores and matching), its snapshots listed
    # once, the snapshot itself never read again, and no module run of its own to look up either.
    calls = [entry["operation_id"] for entry in api_calls(emulator)]
    assert calls.count("listGroupClusterBackupRestoreJobs") == 3 and calls.count("listGroupClusterBackupSnapshots") == 3
    assert calls.count("getGroupClusterBackupSnapshot") == 0
    module_runs = [entry["task"].split(" : ")[-1] for entry in run.results
                   if entry["host"] == "b" and entry["action"].startswith("atlasops.backup.")]
    assert module_runs == ["Start the restore (or re-use the matching job) and wait for it"], module_runs


def test_one_failed_and_one_slow_cluster_fail_alone_and_lead_the_summary(ansible, emulator, tmp_path):
    names = ["good", "bad", "slow"]
    seed(emulator, names, bad={"job_outcome": "failed", "job_seconds": 2}, slow={"job_seconds": 600})
    run = fleet(ansible, tmp_path, hosts_for(names), restore_wait_timeout=15, restore_wait_for_target=False)
    assert run.rc != 0
    outcomes = {name: run.on("Fail when the restore did not complete", name)["outcome"] for name in names}
    assert outcomes == {"good": "skipped", "bad": "failed", "slow": "failed"}
    assert "ended failed" in run.on("Fail when the restore did not complete", "bad")["result"]["msg"]
    slow = run.on(RECORD, "slow")["result"]["ansible_facts"]["restore_result"]
    assert slow["timed_out"] and slow["restore_job"]["status"] == "in_progress"
    summary = run.task("Summarize the restores of every cluster of this batch")["result"]["msg"]
    assert summary[-1].startswith("good:") and {line.split(":")[0] for line in summary[:2]} == {"bad", "slow"}


def test_check_mode_over_many_clusters_starts_nothing(ansible, emulator, tmp_path):
    names = ["a", "b"]
    seed(emulator, names)
    run = fleet(ansible, tmp_path, hosts_for(names), check=True)
    assert run.rc == 0, run.stdout[-4000:]
    assert all(entry["method"] == "GET" for entry in api_calls(emulator))
    for name in names:
        assert "would start" in run.on("Summarize the restore", name)["result"]["msg"]


def test_a_batch_restoring_two_clusters_into_one_target_or_into_a_source_is_refused_whole(ansible, emulator, tmp_path):
    seed(emulator, ["a", "b"])
    emulator.add_cluster(OTHER_PROJECT, "src-a")
    hosts = hosts_for(["a", "b"])
    hosts["b"]["restore_target_cluster_name"] = "dst-a"
    run = fleet(ansible, tmp_path, hosts)
    assert run.rc != 0 and emulator.requests() == []
    message = run.on("Refuse a batch whose clusters would restore into one target, or into one another", "a")["result"]["msg"]
    assert "both restore into dst-a" in message
    hosts = hosts_for(["a", "b"])
    hosts["b"]["restore_target_cluster_name"] = "src-a"
    run = fleet(ansible, tmp_path, hosts)
    assert run.rc != 0 and emulator.requests() == []
    assert "the source cluster of host a" in run.on("Refuse a batch whose clusters would restore into one target, or into one another",
                                                    "b")["result"]["msg"]
