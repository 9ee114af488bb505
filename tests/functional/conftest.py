# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures: one Atlas emulator per test session, and real ansible-playbook runs against it."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "emulator"))

from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import (  # noqa: E402  pylint: disable=wrong-import-position
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY, EmulatorProcess,
)

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
OTHER_PROJECT = "6a1a2b3c4d5e6f7a8b9c0d1e"
SECRETS = (DEFAULT_PRIVATE_KEY, DEFAULT_CLIENT_SECRET)
CREDENTIAL_ENV = ("MONGODB_ATLAS_CLIENT_ID", "MONGODB_ATLAS_CLIENT_SECRET", "MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PUBLIC_KEY",
                  "MONGODB_ATLAS_PRIVATE_API_KEY", "MONGODB_ATLAS_PRIVATE_KEY", "MONGODB_ATLAS_BASE_URL")


def _collections_path() -> str:
    """ANSIBLE_COLLECTIONS_PATH as the Makefile sets it, else a temporary one linking to this checkout."""
    given = os.environ.get("ANSIBLE_COLLECTIONS_PATH")
    if given:
        return given
    root = Path(tempfile.mkdtemp(prefix="atlasops-collections-"))
    atexit.register(shutil.rmtree, root, True)
    link_parent = root / "ansible_collections" / "atlasops"
    link_parent.mkdir(parents=True)
    (link_parent / "backup").symlink_to(REPO)
    return str(root)


COLLECTIONS_PATH = _collections_path()
# The tests import the collection's module_utils the way Ansible does.
sys.path.insert(0, COLLECTIONS_PATH.split(os.pathsep)[0])


@pytest.fixture(scope="session")
def emulator_process():
    spec = find_spec()
    with EmulatorProcess(spec=spec if spec else False, job_seconds=2.0) as process:
        yield process


@pytest.fixture
def emulator(emulator_process):
    """The emulator, reset, failing the test on any contract violation it saw."""
    admin = emulator_process.admin
    admin.reset()
    admin.configure(job_seconds=2.0)
    yield admin
    violations = admin.violations()
    assert violations == [], f"the emulator saw contract violations: {json.dumps(violations, indent=1)[:4000]}"


@pytest.fixture(scope="session")
def spec_path():
    spec = find_spec()
    if spec is None:
        pytest.skip("official OpenAPI subset not found: set ATLAS_OPENAPI_SPEC or place ../shared/atlas-openapi beside the repo")
    return spec


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: list  # one dict per task result: {"task", "outcome", "result"}

    @property
    def output(self) -> str:
        """stdout and stderr with whitespace folded (ansible-core 2.16 wraps warnings across lines)."""
        return " ".join((self.stdout + self.stderr).split())

    def task(self, name: str) -> dict:
        """The one recorded result of the task with this name."""
        # Role tasks are reported as "<role> : <name>".
        found = [entry for entry in self.results if entry["task"] == name or entry["task"].endswith(" : " + name)]
        assert len(found) == 1, f"task {name!r} ran {len(found)} times; stdout:\n{self.stdout[-3000:]}"
        return found[0]

    def ok(self, name: str) -> dict:
        entry = self.task(name)
        assert entry["outcome"] == "ok", f"{name}: {json.dumps(entry['result'], indent=1)[:3000]}"
        return entry["result"]

    def failed(self, name: str) -> dict:
        entry = self.task(name)
        assert entry["outcome"] == "failed", f"{name} did not fail: {json.dumps(entry['result'], indent=1)[:3000]}"
        return entry["result"]


class Ansible:
    """Writes a playbook and runs the real ansible-playbook on it."""

    def __init__(self, emulator_url: str, workdir: Path, collections: str):
        self.emulator_url = emulator_url
        self.workdir = workdir
        self.collections = collections
        self.runs = 0

    def env(self, credentials: str = "api_key", extra: dict | None = None) -> dict:
        env = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_ENV}
        env.update(
            ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).parent / "callback_plugins"),
            ANSIBLE_CALLBACKS_ENABLED="record_results", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            MONGODB_ATLAS_BASE_URL=self.emulator_url,
        )
        if credentials == "api_key":
            env.update(MONGODB_ATLAS_PUBLIC_API_KEY=DEFAULT_PUBLIC_KEY, MONGODB_ATLAS_PRIVATE_API_KEY=DEFAULT_PRIVATE_KEY)
        elif credentials == "service_account":
            env.update(MONGODB_ATLAS_CLIENT_ID=DEFAULT_CLIENT_ID, MONGODB_ATLAS_CLIENT_SECRET=DEFAULT_CLIENT_SECRET)
        env.update(extra or {})
        return env

    def run(self, tasks: list, *, check: bool = False, diff: bool = False, verbosity: int = 0, credentials: str = "api_key",
            env: dict | None = None, play_vars: dict | None = None, playbook: str | None = None, extra_vars: dict | None = None,
            timeout: float = 600) -> PlaybookRun:
        self.runs += 1
        record = self.workdir / f"run{self.runs}.jsonl"
        if playbook is None:
            play = {"name": "functional test", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}
            if play_vars:
                play["vars"] = play_vars
            playbook_file = self.workdir / f"run{self.runs}.yml"
            playbook_file.write_text(yaml.safe_dump([play], sort_keys=False))
            playbook = str(playbook_file)
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", playbook]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if verbosity:
            command.append("-" + "v" * verbosity)
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        process = subprocess.run(command, cwd=self.workdir, env=dict(self.env(credentials, env), RECORD_RESULTS_FILE=str(record)),
                                 capture_output=True, text=True, timeout=timeout, check=False)
        results = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        return PlaybookRun(process.returncode, process.stdout, process.stderr, results)


@pytest.fixture(scope="session")
def collections():
    return COLLECTIONS_PATH


@pytest.fixture
def ansible(emulator_process, collections, tmp_path):
    return Ansible(emulator_process.url, tmp_path, collections)


def task(module: str, name: str | None = None, register: str | None = None, ignore_errors: bool = False, **args) -> dict:
    """One playbook task calling an atlasops.backup module (None-valued arguments are left out)."""
    entry = {"name": name or module, f"atlasops.backup.{module}": {key: value for key, value in args.items() if value is not None}}
    if register:
        entry["register"] = register
    if ignore_errors:
        entry["ignore_errors"] = True
    return entry


def api_calls(emulator, method: str | None = None) -> list:
    """The counted Atlas API requests the emulator logged (digest challenges and token calls excluded)."""
    return [entry for entry in emulator.requests() if entry.get("counted") and (method is None or entry["method"] == method)]
