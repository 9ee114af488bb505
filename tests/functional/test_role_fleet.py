# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore role over an inventory of clusters: every host starts its restore, the batch waits together in one task."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from harness import OTHER_PROJECT, PROJECT, api_calls

RECORD = "Record the result"
PUBLISH = "Publish the result for the next node of an AWX workflow"
SUMMARY = "Summarize the restore"
BATCH_REFUSAL = "Refuse a batch whose clusters would restore into one target, or into one another"


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
    # one task for the batch publishes what set_stats would merge from one per host: atlas_restore keyed by host
    stats = run.task(PUBLISH)["result"]["ansible_stats"]["data"]
    assert sorted(stats["atlas_restore"]) == names and stats["atlas_restore_summary"]
    for name in names:
        assert stats["atlas_restore"][name]["restore_job"]["id"] == run.on(RECORD, name)["result"]["ansible_facts"]["restore_result"][
            "restore_job"]["id"]
    summary = run.task(SUMMARY)["result"]["msg"]
    assert len(summary) == 3 and all("completed" in line for line in summary)
    assert stats["atlas_restore_summary"] == summary
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
    summary = run.task(SUMMARY)["result"]["msg"]
    assert summary[-1].startswith("good:") and {line.split(":")[0] for line in summary[:2]} == {"bad", "slow"}


def test_check_mode_over_many_clusters_starts_nothing(ansible, emulator, tmp_path):
    names = ["a", "b"]
    seed(emulator, names)
    run = fleet(ansible, tmp_path, hosts_for(names), check=True)
    assert run.rc == 0, run.stdout[-4000:]
    assert all(entry["method"] == "GET" for entry in api_calls(emulator))
    summary = run.task(SUMMARY)["result"]["msg"]
    assert len(summary) == len(names), summary
    for name, line in zip(names, sorted(summary)):
        assert line.startswith(f"{name}: src-{name} -> dst-{name}, snapshot ") and "(taken 2026-11-20T06:00:00Z)" in line, line
        assert line.endswith(", check mode: would start an automated restore"), line


def test_a_batch_restoring_two_clusters_into_one_target_or_into_a_source_is_refused_whole(ansible, emulator, tmp_path):
    seed(emulator, ["a", "b"])
    emulator.add_cluster(OTHER_PROJECT, "src-a")
    hosts = hosts_for(["a", "b"])
    hosts["b"]["restore_target_cluster_name"] = "dst-a"
    run = fleet(ansible, tmp_path, hosts)
    assert run.rc != 0 and emulator.requests() == []
    message = run.on(BATCH_REFUSAL, "a")["result"]["msg"]
    assert "both restore into dst-a" in message
    assert not [entry for entry in run.results if entry["task"].endswith("Start the restore (or re-use the matching job) and wait for it")]
    assert all(re.search(rf"^{name}\s+:.*failed=1", run.stdout, re.MULTILINE) for name in ("a", "b")), run.stdout[-2000:]
    hosts = hosts_for(["a", "b"])
    hosts["b"]["restore_target_cluster_name"] = "src-a"
    run = fleet(ansible, tmp_path, hosts)
    assert run.rc != 0 and emulator.requests() == []
    assert "the source cluster of host a" in run.on(BATCH_REFUSAL, "b")["result"]["msg"]
    # the batch's refusal fails each of its hosts (in AWX too): the recap counts a failure for both
    assert all(re.search(rf"^{name}\s+:.*failed=1", run.stdout, re.MULTILINE) for name in ("a", "b")), run.stdout[-2000:]


TEMPLATES = Path(__file__).resolve().parents[2] / "roles" / "restore" / "templates"


def settings_of(index: int, project: str = PROJECT, cluster_type: str = "dedicated", budget=None) -> dict:
    """A host's restore__settings as settings.json.j2 makes them (what batch.json.j2 reads)."""
    return {"errors": [], "project_id": project, "cluster_name": f"src{index}", "cluster_type": cluster_type,
            "delivery_type": "automated", "target_cluster_name": f"dst{index}", "target_project": project, "wait_timeout": 600,
            "wait_for_target": False, "max_requests_per_minute": budget}


def test_an_unset_budget_grows_with_the_jobs_of_the_batch_in_one_project_and_endpoint_set(ansible, tmp_path):
    # noticing each end takes one poll: a fleet of more than 80 jobs in one lane gets a quarter more than its jobs, at
    # most 250; a budget set on any host (a string from AWX too) is the batch's when it is the smallest
    groups = {
        "hundred": {f"h{index}": settings_of(index) for index in range(100)},
        "two_projects": dict({f"a{index}": settings_of(index) for index in range(70)},
                             **{f"b{index}": settings_of(index, OTHER_PROJECT) for index in range(70)}),
        "flex_apart": dict({f"d{index}": settings_of(index) for index in range(60)},
                           **{f"f{index}": settings_of(index, cluster_type="flex") for index in range(60)}),
        "capped": {f"c{index}": settings_of(index) for index in range(210)},
        "one_set": dict({f"s{index}": settings_of(index) for index in range(90)}, s0=settings_of(0, budget=40)),
    }
    inventory_path = tmp_path / "budgets.yml"
    inventory_path.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {group: {"hosts": {host: {"restore__settings": settings} for host, settings in hosts.items()}}
                     for group, hosts in groups.items()}}}))
    plays = [{"name": group, "hosts": group, "gather_facts": False, "tasks": [
        {"name": f"batch of {group}", "run_once": True,
         "ansible.builtin.set_fact": {"batch": f"{{{{ lookup('ansible.builtin.template', '{TEMPLATES / 'batch.json.j2'}') | from_json }}}}"}}]}
        for group in groups]
    playbook = tmp_path / "budgets_play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    run = ansible.run(playbook=playbook, inventory=str(inventory_path))
    assert run.rc == 0, run.stdout[-3000:]
    budgets = {group: run.task(f"batch of {group}")["result"]["ansible_facts"]["batch"]["max_requests_per_minute"] for group in groups}
    assert budgets == {"hundred": 125, "two_projects": 100, "flex_apart": 100, "capped": 250, "one_set": 40}


def test_the_role_reads_an_unset_or_empty_budget_as_derived_and_a_string_as_a_number(ansible, tmp_path):
    values = {"unset": None, "empty": "", "awx_string": "40", "zero": "0", "word": "many"}
    tasks = [{"name": name, "vars": dict(restore_project_id=PROJECT, restore_cluster_name="src", restore_target_cluster_name="dst",
                                         restore_max_requests_per_minute=value),
              "ansible.builtin.set_fact": {"settings": f"{{{{ lookup('ansible.builtin.template', '{TEMPLATES / 'settings.json.j2'}') | from_json }}}}"}}
             for name, value in values.items()]
    run = ansible.run(tasks)
    assert run.rc == 0, run.stdout[-3000:]
    read = {name: run.ok(name)["ansible_facts"]["settings"] for name in values}
    assert [read[name]["max_requests_per_minute"] for name in ("unset", "empty", "awx_string")] == [None, None, 40]
    assert not read["unset"]["errors"] and not read["empty"]["errors"] and not read["awx_string"]["errors"]
    assert read["zero"]["errors"] == ["restore_max_requests_per_minute must be at least 1, got 0"]
    assert read["word"]["errors"] == ['restore_max_requests_per_minute must be a whole number, got "many"']
