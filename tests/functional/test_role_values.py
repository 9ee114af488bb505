# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's boolean and integer variables as every channel hands them over: -e JSON, -e key=value, ansible-runner
extravars (how AWX passes survey answers: strings) and inventory host variables (strings too).

Batched: one playbook run per channel for many variables at once; the overwrite guard once per spelling of false (those
runs stop before any request, so they are short). The Makefile runs this file on ansible-core 2.21 and 2.16.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness import PROJECT, PlaybookRun, api_calls

CHANNELS = ["json", "key_value", "runner"]
# Every spelling of false Ansible's boolean conversion takes, as strings (-e key=value, surveys, inventory files).
FALSE_WORDS = ["false", "False", "FALSE", "no", "No", "NO", "off", "Off", "n", "N", "f", "F", "0"]
# The same channel over JSON also carries native values.
FALSE_JSON = [False, 0, 0.0, "false", "no", "off", "n", "f", "0", "FALSE"]
RUNNER_DRIVER = """
import json, sys
import ansible_runner
outcome = ansible_runner.run(**json.loads(sys.argv[1]))
print(json.dumps({"status": outcome.status, "rc": outcome.rc, "stdout": outcome.stdout.read()[-6000:]}))
"""


def seed(emulator, job_seconds=2):
    emulator.add_cluster(PROJECT, "prod-db", job_seconds=job_seconds)
    emulator.add_cluster(PROJECT, "dr-db")
    created = emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-20T00:00:00Z", "status": "completed"}])
    return created[0]["id"]


def runner_python() -> str | None:
    """A Python that has ansible_runner: this one, else the .venv next to the repository (or its mirror), as AWX runs
    ansible-runner from its own Python whatever ansible-core the execution environment holds."""
    try:
        import ansible_runner  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        return sys.executable
    except ImportError:
        pass
    for parent in Path(__file__).resolve().parents:
        candidate = parent / ".venv" / "bin" / "python"
        if candidate.exists() and subprocess.run([str(candidate), "-c", "import ansible_runner"], capture_output=True,
                                                 check=False).returncode == 0:
            return str(candidate)
    return None


def run_role(ansible, channel: str, variables: dict, check: bool = False) -> PlaybookRun:
    """atlasops.backup.dr_restore with these variables, handed over the way the channel hands them over."""
    record = ansible.new_path("role", ".jsonl")
    env = dict(ansible.env(), RECORD_RESULTS_FILE=str(record))
    playbook_bin = str(Path(sys.executable).parent / "ansible-playbook")
    if channel == "runner":
        python = runner_python()
        if python is None:
            pytest.skip("ansible-runner is not installed")
        private = ansible.new_path("runner")
        (private / "project").mkdir(parents=True)
        arguments = dict(private_data_dir=str(private), playbook="atlasops.backup.dr_restore", envvars=env, quiet=True,
                         inventory="localhost ansible_connection=local", binary=playbook_bin,
                         extravars={key: str(value) for key, value in variables.items()},
                         # with `binary`, ansible-runner leaves the playbook to the command line
                         cmdline="atlasops.backup.dr_restore" + (" --check" if check else ""))
        done = subprocess.run([python, "-c", RUNNER_DRIVER, json.dumps(arguments)], capture_output=True, text=True, check=False,
                              timeout=600, env=env)
        assert done.returncode == 0, done.stderr[-4000:]
        outcome = json.loads(done.stdout.splitlines()[-1])
        stdout, stderr, rc = outcome["stdout"], done.stderr, outcome["rc"]
    else:
        command = [playbook_bin, "-i", "localhost,", "atlasops.backup.dr_restore"] + (["--check"] if check else [])
        if channel == "json":
            command += ["-e", json.dumps(variables)]
        else:
            for key, value in variables.items():
                command += ["-e", f"{key}={value}"]
        done = subprocess.run(command, cwd=ansible.workdir, env=env, capture_output=True, text=True, check=False, timeout=600)
        stdout, stderr, rc = done.stdout, done.stderr, done.returncode
    results = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return PlaybookRun(rc, stdout, stderr, results)


def settings(run: PlaybookRun) -> dict:
    return run.ok("Read the role variables as Ansible means them")["ansible_facts"]["restore__settings"]


SOURCE = dict(restore_project_id=PROJECT, restore_cluster_name="prod-db")


@pytest.mark.parametrize("channel", CHANNELS)
def test_false_strings_mean_false_and_no_wait_means_no_wait(ansible, emulator, channel):
    """One real run: every boolean set to a different spelling of false, every integer as a digit string."""
    seed(emulator, job_seconds=30)
    values = dict(restore_wait="false", restore_force="no", restore_sharded="off", restore_allow_overwrite_source="n",
                  restore_show_delivery_urls="F", restore_wait_timeout="600", restore_reuse_window="120",
                  restore_oplog_ts="0", restore_oplog_inc="0")
    if channel == "json":
        values.update(restore_force=False, restore_sharded=0, restore_reuse_window=120)
    started = time.monotonic()
    run = run_role(ansible, channel, dict(SOURCE, restore_target_cluster_name="dr-db", **values))
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.stdout[-4000:]
    got = settings(run)
    expected = dict(wait=False, force=False, sharded=False, allow_overwrite_source=False, show_delivery_urls=False,
                    wait_timeout=600, reuse_window=120, oplog_ts=0, oplog_inc=0)
    assert {key: got[key] for key in expected} == expected and got["errors"] == []
    started_task = run.ok("Start the restore (or re-use the matching job) and wait for it")
    assert started_task["changed"] is True and started_task["restore_job"]["status"] in ("pending", "in_progress")
    assert "waited_seconds" not in started_task or not started_task["waited_seconds"]
    assert elapsed < 30, f"restore_wait=false waited: the run took {elapsed:.0f} s"
    result = run.ok("Record the result")["ansible_facts"]["restore_result"]
    assert result["finished_at"] is None and result["duration_seconds"] is None
    summary = run.ok("Summarize the restore")["msg"]
    assert "restore_wait is false" in summary and "restore_job_info" in summary
    assert len(api_calls(emulator, "POST")) == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_true_strings_mean_true(ansible, emulator, channel):
    """One check-mode run: every boolean set to a spelling of true, the guard switched off on purpose."""
    seed(emulator)
    values = dict(restore_wait="Y", restore_force="True", restore_allow_overwrite_source="yes", restore_show_delivery_urls="on",
                  restore_wait_timeout=" 900 " if channel == "runner" else "0900", restore_reuse_window="0")
    if channel == "json":
        values.update(restore_force=True, restore_allow_overwrite_source=1, restore_show_delivery_urls=1.0, restore_wait_timeout=900)
    run = run_role(ansible, channel, dict(SOURCE, restore_target_cluster_name="prod-db", **values), check=True)
    assert run.rc == 0, run.stdout[-4000:]
    got = settings(run)
    assert (got["wait"], got["force"], got["allow_overwrite_source"], got["show_delivery_urls"]) == (True, True, True, True)
    assert (got["wait_timeout"], got["reuse_window"], got["sharded"]) == (900, 0, False)
    assert "would start an automated restore of prod-db" in run.ok("Summarize the restore")["msg"]
    assert all(entry["method"] == "GET" for entry in api_calls(emulator))


@pytest.mark.parametrize("channel", CHANNELS)
def test_no_spelling_of_false_turns_the_overwrite_guard_off(ansible, emulator, channel):
    seed(emulator)
    spellings = FALSE_JSON if channel == "json" else FALSE_WORDS if channel == "key_value" else ["false", "no", "off", "0", "N", "F"]
    for spelling in spellings:
        emulator.clear_requests()
        run = run_role(ansible, channel, dict(SOURCE, restore_target_cluster_name="prod-db", restore_allow_overwrite_source=spelling))
        assert run.rc != 0, f"{spelling!r} turned the guard off"
        message = run.failed("Refuse to restore into the source cluster itself")["msg"]
        assert "overwrite" in message and "restore_allow_overwrite_source" in message, message
        assert emulator.requests() == [], f"{spelling!r}: requests were sent"


def test_no_spelling_of_false_turns_the_guard_off_in_inventory_variables(ansible, emulator, tmp_path):
    """Inventory host variables are strings too: one run, one host per spelling."""
    seed(emulator)
    hosts = {f"h{index}": dict(SOURCE, restore_target_cluster_name="prod-db", restore_allow_overwrite_source=spelling,
                               ansible_connection="local", ansible_python_interpreter=sys.executable)
             for index, spelling in enumerate(FALSE_WORDS)}
    lines = [f"{name} " + " ".join(f"{key}={value}" for key, value in variables.items()) for name, variables in hosts.items()]
    inventory = tmp_path / "clusters.ini"
    inventory.write_text("\n".join(lines) + "\n")
    playbook = tmp_path / "fleet.yml"
    playbook.write_text(yaml.safe_dump([{"name": "guard", "hosts": "all", "gather_facts": False,
                                         "roles": [{"role": "atlasops.backup.restore"}]}]))
    record = tmp_path / "inventory.jsonl"
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                          cwd=tmp_path, env=dict(ansible.env(), RECORD_RESULTS_FILE=str(record)), capture_output=True, text=True,
                          check=False, timeout=600)
    assert done.returncode != 0
    outcomes = {entry["host"]: entry["outcome"] for entry in map(json.loads, record.read_text().splitlines())
                if entry["task"].endswith("Refuse to restore into the source cluster itself")}
    assert outcomes == {name: "failed" for name in hosts}, done.stdout[-3000:]
    assert emulator.requests() == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_values_that_mean_nothing_are_refused_before_any_request_naming_the_variable(ansible, emulator, channel):
    seed(emulator)
    # Ansible's own `bool` filter on 2.21 reads "maybe" as false (with a deprecation): the role must refuse it instead.
    bad = dict(restore_allow_overwrite_source="maybe", restore_wait="sure", restore_wait_timeout="3h", restore_reuse_window="-1")
    run = run_role(ansible, channel, dict(SOURCE, restore_target_cluster_name="prod-db", **bad))
    assert run.rc != 0
    for name in ("restore_allow_overwrite_source", "restore_wait", "restore_wait_timeout"):
        assert name in run.output, f"{name} is not named: {run.output[-3000:]}"
    assert emulator.requests() == []
    # Values the role's argument spec lets through, which the role itself must refuse.
    run = run_role(ansible, channel, dict(SOURCE, restore_target_cluster_name="dr-db", restore_reuse_window="-1",
                                          restore_wait_timeout="0"))
    message = run.failed("Refuse role variables that cannot work")["msg"]
    assert "restore_reuse_window must be at least 0" in message and "restore_wait_timeout must be at least 1" in message
    assert emulator.requests() == []
