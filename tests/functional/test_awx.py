# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX readiness: the runbook through ansible-runner with credentials injected as the documented credential type
would inject them, and the execution environment definition through ansible-builder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jinja2 import Environment, StrictUndefined

from harness import PROJECT, REPO, SECRETS, api_calls
from atlas_emulator.control import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY

CREDENTIAL_TYPE = REPO / "docs" / "awx" / "atlas-credential-type.yml"


def injected_env(inputs: dict) -> dict:
    """The environment AWX builds from the credential type's env injectors (Jinja2 over the inputs)."""
    definition = yaml.safe_load(CREDENTIAL_TYPE.read_text())
    defaults = {field["id"]: field["default"] for field in definition["inputs"]["fields"] if "default" in field}
    context = dict(defaults, **inputs)
    templates = Environment(undefined=StrictUndefined)
    return {name: templates.from_string(template).render(context) for name, template in definition["injectors"]["env"].items()}


@pytest.mark.parametrize("inputs", [
    {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET},
    {"public_key": DEFAULT_PUBLIC_KEY, "private_key": DEFAULT_PRIVATE_KEY},
], ids=["service_account", "api_key"])
def test_runbook_under_ansible_runner_with_injected_credentials(emulator, emulator_process, collections, tmp_path, inputs):
    ansible_runner = pytest.importorskip("ansible_runner")
    emulator.add_cluster(PROJECT, "prod-db", job_seconds=2)
    emulator.add_cluster(PROJECT, "dr-db")
    emulator.add_snapshots(PROJECT, "prod-db", snapshots=[{"created_at": "2026-11-20T00:00:00Z", "status": "completed"}])
    env = injected_env(dict(inputs, base_url=emulator_process.url))
    env.update(ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    (tmp_path / "project").mkdir()
    outcome = ansible_runner.run(
        private_data_dir=str(tmp_path), playbook="atlasops.backup.dr_restore", envvars=env, quiet=True,
        inventory="localhost ansible_connection=local",
        extravars=dict(restore_project_id=PROJECT, restore_cluster_name="prod-db", restore_target_cluster_name="dr-db"),
    )
    assert outcome.status == "successful" and outcome.rc == 0, outcome.stdout.read()[-4000:]
    stats = [event for event in outcome.events if event.get("event") == "playbook_on_stats"]
    assert stats[0]["event_data"]["artifact_data"]["atlas_restore"]["restore_job"]["status"] == "completed"
    assert len(api_calls(emulator, "POST")) == 1
    leaks = []
    for path in (tmp_path / "artifacts").rglob("*"):
        # `command` is ansible-runner's own record of the command line and environment it was given (the job's
        # input, as AWX injects it); every other artifact holds what the playbook and the modules wrote.
        if path.is_file() and path.name != "command":
            text = path.read_text(errors="replace")
            leaks += [str(path) for secret in SECRETS if secret in text]
    assert leaks == []


def test_ansible_builder_creates_the_execution_environment_context(tmp_path):
    builder = Path(sys.executable).parent / "ansible-builder"
    if not builder.exists():
        pytest.skip("ansible-builder is not installed in this environment")
    context = tmp_path / "context"
    done = subprocess.run([str(builder), "create", "--file", str(REPO / "docs" / "awx" / "execution-environment.yml"),
                           "--context", str(context)], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # ansible-builder names the file after the container runtime it finds: Containerfile (podman) or Dockerfile.
    build_file = next(path for path in (context / "Containerfile", context / "Dockerfile") if path.exists())
    assert "requirements.yml" in build_file.read_text()
    assert (context / "_build" / "requirements.yml").exists()


def test_ansible_builder_finds_the_collection_python_requirement(collections):
    builder = Path(sys.executable).parent / "ansible-builder"
    if not builder.exists():
        pytest.skip("ansible-builder is not installed in this environment")
    done = subprocess.run([str(builder), "introspect", "--sanitize", collections], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "requests" in done.stdout and "atlasops.backup" in done.stdout
