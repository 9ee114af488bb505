# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""restore_job_wait and the service-account tokens of a fleet, through real ansible-playbook runs against the emulator
(with Atlas's limits on: per-project buckets, the token endpoint's rate, 100 active tokens, revocation)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from harness import OTHER_PROJECT, PROJECT, api_calls, task

SNAPSHOT_AT = "2026-11-20T06:00:00Z"


@pytest.fixture
def token_env(tmp_path):
    """Each test's module runs share tokens in a cache of their own (the user's real cache is left alone)."""
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    return {"ATLASOPS_BACKUP_TOKEN_CACHE": str(directory)}


def start_jobs(emulator, project, names, *, cluster_type="dedicated", seconds=4.0, outcome=None):
    """One running restore job per source cluster (into <name>-dr); the jobs as restore_job_wait entries."""
    entries = []
    for name in names:
        emulator.add_cluster(project, name, cluster_type=cluster_type, job_outcome=outcome)
        emulator.add_cluster(project, name + "-dr", cluster_type=cluster_type)
        emulator.add_snapshots(project, name, snapshots=[{"created_at": SNAPSHOT_AT, "status": "completed"}])
        (job_id,) = emulator.add_restore_jobs(project, name, state="auto", job_seconds=seconds, target_cluster_name=name + "-dr")
        entries.append({"project_id": project, "cluster_name": name, "cluster_type": cluster_type, "job_id": job_id})
    return entries


def tokens(emulator) -> dict:
    return emulator.limits()["tokens"]


def polls_by_project(emulator) -> dict:
    found = {}
    for entry in api_calls(emulator, "GET"):
        project = entry["path"].split("/groups/")[1].split("/")[0]
        found.setdefault(project, []).append(entry)
    return found


def test_a_fleet_of_clusters_waits_as_long_as_the_slowest_with_one_token(ansible, emulator, token_env):
    entries = start_jobs(emulator, PROJECT, [f"orders{index}" for index in range(4)], seconds=6.0)
    entries += start_jobs(emulator, OTHER_PROJECT, ["catalog"], cluster_type="flex", seconds=5.0)
    entries += start_jobs(emulator, OTHER_PROJECT, ["billing"], cluster_type="legacy", seconds=3.0)
    run = ansible.run([task("restore_job_wait", "wait", jobs=entries, wait_timeout=120)], credentials="service_account",
                      env=token_env)
    result = run.ok("wait")
    assert [job["id"] for job in result["restore_jobs"]] == [entry["job_id"] for entry in entries]
    assert [job["cluster_name"] for job in result["restore_jobs"]] == [entry["cluster_name"] for entry in entries]
    assert {job["status"] for job in result["restore_jobs"]} == {"completed"}
    assert all(job["error"] is None for job in result["restore_jobs"])
    assert result["summary"] == dict(total=6, completed=6, failed=0, cancelled=0, expired=0, timed_out=0, unreadable=0)
    assert result["waited_seconds"] < 6.0 + 2.0 + 5.0, "the jobs were not waited for together"
    counts = tokens(emulator)
    assert (counts["issued"], counts["revoked"], counts["active"]) == (1, 1, 0), counts
    assert result["changed"] is False


def test_one_failed_and_one_timed_out_job_fail_only_their_entries(ansible, emulator, token_env):
    good = start_jobs(emulator, PROJECT, ["good1", "good2"], seconds=3.0)
    bad = start_jobs(emulator, PROJECT, ["broken"], seconds=3.0, outcome="failed")
    slow = start_jobs(emulator, PROJECT, ["slow"], seconds=600.0)
    entries = [good[0]] + bad + slow + [good[1]]
    run = ansible.run([task("restore_job_wait", "wait", jobs=entries, wait_timeout=15, register="fleet", ignore_errors=True),
                       {"name": "still", "ansible.builtin.debug": {"msg": "{{ fleet.restore_jobs | map(attribute='status') | list }}"}}],
                      credentials="service_account", env=token_env)
    result = run.failed("wait")
    assert [job["status"] for job in result["restore_jobs"]] == ["completed", "failed", "in_progress", "completed"]
    assert result["summary"] == dict(total=4, completed=2, failed=1, cancelled=0, expired=0, timed_out=1, unreadable=0)
    assert result["msg"].startswith("2 of 4 restore jobs did not complete")
    assert "broken job" in result["msg"] and "slow job" in result["msg"] and "good" not in result["msg"]
    assert 13 <= result["waited_seconds"] <= 15 + 1
    assert run.ok("still")["msg"] == ["completed", "failed", "in_progress", "completed"]
    assert tokens(emulator)["active"] == 0, "a failed wait kept its token"


def test_a_job_that_cannot_be_read_is_reported_unreadable(ansible, emulator, token_env):
    entries = start_jobs(emulator, PROJECT, ["here"], seconds=2.0)
    entries.append({"cluster_name": "here", "job_id": "6741a2b3c4d5e6f7a8b9c0d1"})
    run = ansible.run([task("restore_job_wait", "wait", project_id=PROJECT, jobs=entries, wait_timeout=60)], env=token_env)
    result = run.failed("wait")
    assert result["restore_jobs"][1]["status"] is None and "404" in result["restore_jobs"][1]["error"]
    assert result["summary"]["unreadable"] == 1 and result["summary"]["completed"] == 1


def test_check_mode_reads_each_job_once_without_waiting(ansible, emulator, token_env):
    entries = start_jobs(emulator, PROJECT, ["one", "two", "three"], seconds=300.0)
    emulator.clear_requests()
    run = ansible.run([task("restore_job_wait", "wait", jobs=entries)], check=True, env=token_env)
    result = run.ok("wait")
    assert [job["status"] for job in result["restore_jobs"]] == ["in_progress"] * 3
    assert result["summary"]["timed_out"] == 3
    assert len(api_calls(emulator)) == 3
    assert result["waited_seconds"] < 5


def test_a_429_storm_on_one_project_does_not_delay_another(ansible, emulator, token_env):
    stormy = start_jobs(emulator, OTHER_PROJECT, [f"stormy{index}" for index in range(3)], seconds=4.0)
    calm = start_jobs(emulator, PROJECT, [f"calm{index}" for index in range(3)], seconds=4.0)
    started = time.time()
    emulator.add_fault(path_contains=f"/groups/{OTHER_PROJECT}/", action="status", status=429, error_code="RATE_LIMITED",
                       retry_after=4, times=12)
    run = ansible.run([task("restore_job_wait", "wait", jobs=stormy + calm, wait_timeout=180)], credentials="service_account",
                      env=token_env)
    result = run.ok("wait")
    assert result["summary"]["completed"] == 6
    by_project = polls_by_project(emulator)
    calm_done = max(entry["time"] for entry in by_project[PROJECT])
    assert calm_done - started <= 4.0 + 3.0 + 4.0, "the calm project waited for the stormy one"
    limited = [entry for entry in by_project[OTHER_PROJECT] if entry["status"] == 429]
    assert len(limited) == 12
    gaps = [later["time"] - earlier["time"] for earlier, later in zip(limited, limited[1:])]
    assert min(gaps) >= 4.0 - 0.2, "Retry-After was not honoured by the stormy project"
    assert emulator.limits()["rate_limited"].get(PROJECT, 0) == 0


def write_inventory(path: Path, hosts: dict) -> Path:
    path.write_text(yaml.safe_dump({"all": {"children": {"atlas_clusters": {"hosts": hosts}}}}))
    return path


def fleet_playbook(path: Path, wait: bool = True, budget: int | None = None) -> Path:
    """The fleet pattern the role follows: every host starts its restore, one task waits for the batch's jobs."""
    tasks = [
        {"name": "start", "atlasops.backup.restore_job": {"project_id": "{{ source_project }}", "cluster_name": "{{ source }}",
                                                          "snapshot_id": "{{ snapshot }}", "target_cluster_name": "{{ target }}"},
         "register": "started"},
    ]
    tasks.append({"name": "name the job", "ansible.builtin.set_fact": {"fleet_job": {
        "project_id": "{{ source_project }}", "cluster_name": "{{ source }}", "job_id": "{{ started.restore_job.id }}"}}})
    if wait:
        tasks.append({"name": "wait", "run_once": True, "atlasops.backup.restore_job_wait": {
            "jobs": "{{ ansible_play_batch | map('extract', hostvars, 'fleet_job') | list }}", "wait_timeout": 300}})
        if budget:
            tasks[-1]["atlasops.backup.restore_job_wait"]["max_requests_per_minute"] = budget
    play = {"name": "fleet", "hosts": "atlas_clusters", "connection": "local", "gather_facts": False, "tasks": tasks}
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def test_a_fleet_of_hosts_holds_at_most_forks_plus_one_tokens_and_revokes_them(ansible, emulator, token_env, tmp_path):
    hosts = {}
    for index in range(12):
        project = PROJECT if index % 2 else OTHER_PROJECT
        source = f"src{index}"
        emulator.add_cluster(project, source, job_seconds=5.0)
        emulator.add_cluster(project, source + "-dr")
        (snapshot,) = emulator.add_snapshots(project, source, snapshots=[{"created_at": SNAPSHOT_AT, "status": "completed"}])
        hosts[f"cluster{index}"] = {"source_project": project, "source": source, "target": source + "-dr",
                                    "snapshot": snapshot["id"], "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory = write_inventory(tmp_path / "clusters.yml", hosts)
    run = ansible.run(playbook=fleet_playbook(tmp_path / "fleet.yml"), credentials="service_account", env=token_env,
                      args=("-i", str(inventory), "--forks", "5"))
    assert run.rc == 0, run.describe_failure()
    result = run.ok("wait")
    assert result["summary"]["completed"] == 12 and len(result["restore_jobs"]) == 12
    counts = tokens(emulator)
    assert counts["peak_active"] <= 5 + 1, counts
    assert counts["issued"] <= 2 and counts["active"] == 0, counts
    token_calls = [entry for entry in emulator.requests() if entry.get("operation_id") == "oauth_token"]
    assert len(token_calls) == counts["issued"]
    print(f"\nfleet of 12 hosts at 5 forks: {counts}, wall {run.wall:.1f} s, waited {result['waited_seconds']} s")


def test_runs_share_the_token_until_a_revoke_only_run_gives_it_back(ansible, emulator, token_env):
    entries = start_jobs(emulator, PROJECT, ["shared"], seconds=1.0)
    info = task("restore_job_info", "read", project_id=PROJECT, cluster_name="shared")
    for dummy in range(3):
        assert ansible.run([info], credentials="service_account", env=token_env).rc == 0
    assert (tokens(emulator)["issued"], tokens(emulator)["active"]) == (1, 1)
    assert ansible.run([task("restore_job_wait", "revoke", jobs=[], revoke_token=True)], credentials="service_account",
                       env=token_env).rc == 0
    assert (tokens(emulator)["issued"], tokens(emulator)["active"], tokens(emulator)["revoked"]) == (1, 0, 1)
    # and without the cache, each run gives its own token back at its end
    assert ansible.run([info], credentials="service_account", env={"ATLASOPS_BACKUP_TOKEN_CACHE": "off"}).rc == 0
    assert (tokens(emulator)["issued"], tokens(emulator)["active"]) == (2, 0)
    assert entries


def test_no_token_in_any_output(ansible, emulator, token_env):
    entries = start_jobs(emulator, PROJECT, ["quiet"], seconds=1.0)
    run = ansible.run([task("restore_job_wait", "wait", jobs=entries, wait_timeout=60)], credentials="service_account",
                      env=token_env, verbosity=4)
    assert run.rc == 0
    issued = [entry for entry in emulator.requests() if entry.get("operation_id") == "oauth_token"]
    assert issued
    assert "emu." not in run.stdout + run.stderr + json.dumps(run.results)
    for path in Path(token_env["ATLASOPS_BACKUP_TOKEN_CACHE"]).iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def _descendants(pid: int) -> list:
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _is_module(pid: int) -> bool:
    """Whether pid is the Python process running restore_job_wait (not the shell that started it)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"python" in os.path.basename(argv[0]) and any(arg.endswith(b"AnsiballZ_restore_job_wait.py") for arg in argv)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_wait_still_revokes_its_token(ansible, emulator, token_env, signal_number):
    entries = start_jobs(emulator, PROJECT, ["long"], seconds=600.0)
    playbook = ansible.write_playbook([task("restore_job_wait", "wait", jobs=entries, wait_timeout=300)])
    command = [ansible.ansible_playbook, "-i", "localhost,", str(playbook)]
    with subprocess.Popen(command, cwd=ansible.workdir, env=ansible.env("service_account", token_env), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        try:
            module = None
            for dummy in range(300):
                if tokens(emulator)["active"] == 1:
                    module = next((pid for pid in _descendants(process.pid) if _is_module(pid)), None)
                    if module:
                        break
                time.sleep(0.1)
            assert module, "the module never started polling"
            os.kill(module, signal_number)
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    counts = tokens(emulator)
    assert (counts["issued"], counts["revoked"], counts["active"]) == (1, 1, 0), counts


def test_wait_for_target_says_when_each_target_was_ready(ansible, emulator, token_env):
    entries = start_jobs(emulator, PROJECT, ["tgt1", "tgt2"], seconds=3.0)
    run = ansible.run([task("restore_job_wait", "wait", jobs=entries, wait_for_target=True, wait_timeout=120)], env=token_env)
    result = run.ok("wait")
    assert [job["status"] for job in result["restore_jobs"]] == ["completed", "completed"]
    assert all(job["target_ready_at"] for job in result["restore_jobs"]), result["restore_jobs"]
    assert result["summary"]["target_not_ready"] == 0
    reads = [entry for entry in api_calls(emulator, "GET") if entry["path"].endswith(("/clusters/tgt1-dr", "/clusters/tgt2-dr"))]
    assert len(reads) >= 2
