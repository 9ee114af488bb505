# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real ansible-playbook runs against the Atlas emulator: the one helper of the functional tests and of tools/.

    from harness import PROJECT, Playbooks, task
    playbooks = Playbooks(emulator.url, workdir)
    run = playbooks.run([task("snapshot_info", "look", project_id=PROJECT, cluster_name="prod-db")])
    run.ok("look")["snapshot"]

Importing it puts the emulator package (tests/emulator) and the collection (ANSIBLE_COLLECTIONS_PATH, or a
link to this checkout) on sys.path, so that `atlas_emulator` and `ansible_collections.atlasops.backup`
import the way Ansible loads them.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CALLBACK_PLUGINS = REPO / "tests" / "functional" / "callback_plugins"
if str(REPO / "tests" / "emulator") not in sys.path:
    sys.path.insert(0, str(REPO / "tests" / "emulator"))

from atlas_emulator.control import (  # noqa: E402  pylint: disable=wrong-import-position
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY,
)

PROJECT = "5f1a2b3c4d5e6f7a8b9c0d1e"
OTHER_PROJECT = "6a1a2b3c4d5e6f7a8b9c0d1e"
API_PREFIX = "/api/atlas/v2"
SECRETS = (DEFAULT_PRIVATE_KEY, DEFAULT_CLIENT_SECRET)
CREDENTIAL_ENV = ("MONGODB_ATLAS_CLIENT_ID", "MONGODB_ATLAS_CLIENT_SECRET", "MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PUBLIC_KEY",
                  "MONGODB_ATLAS_PRIVATE_API_KEY", "MONGODB_ATLAS_PRIVATE_KEY", "MONGODB_ATLAS_BASE_URL")


def _collections_path() -> str:
    """ANSIBLE_COLLECTIONS_PATH as the Makefile sets it (when it holds this collection), else a temporary link to this checkout."""
    given = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or ""
    for entry in given.split(os.pathsep):
        if entry and (Path(entry).expanduser() / "ansible_collections" / "atlasops" / "backup" / "galaxy.yml").exists():
            return given
    root = Path(tempfile.mkdtemp(prefix="atlasops-collections-"))
    atexit.register(shutil.rmtree, root, True)
    link_parent = root / "ansible_collections" / "atlasops"
    link_parent.mkdir(parents=True)
    (link_parent / "backup").symlink_to(REPO)
    return str(root)


COLLECTIONS_PATH = _collections_path()
if COLLECTIONS_PATH.split(os.pathsep)[0] not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH.split(os.pathsep)[0])


def atlas_env(base_url: str, credentials: str = "api_key") -> dict:
    """The environment an AWX credential would inject: the emulator's URL and one pair of its credentials."""
    env = {"MONGODB_ATLAS_BASE_URL": base_url}
    if credentials == "api_key":
        env.update(MONGODB_ATLAS_PUBLIC_API_KEY=DEFAULT_PUBLIC_KEY, MONGODB_ATLAS_PRIVATE_API_KEY=DEFAULT_PRIVATE_KEY)
    elif credentials == "service_account":
        env.update(MONGODB_ATLAS_CLIENT_ID=DEFAULT_CLIENT_ID, MONGODB_ATLAS_CLIENT_SECRET=DEFAULT_CLIENT_SECRET)
    return env


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: list  # one dict per task result: {"task", "outcome", "result", ...} (tests/functional/callback_plugins)
    started: float = 0.0
    ended: float = 0.0
    timed_out: bool = False

    @property
    def output(self) -> str:
        """stdout and stderr with whitespace folded (ansible-core 2.16 wraps warnings across lines)."""
        return " ".join((self.stdout + self.stderr).split())

    @property
    def wall(self) -> float:
        return self.ended - self.started

    @property
    def results_text(self) -> str:
        """The recorded results as text (one JSON line each), for scans of the whole output."""
        return "\n".join(json.dumps(entry) for entry in self.results)

    def task(self, name: str) -> dict:
        """The one recorded result of the task with this name."""
        found = self._named(name)
        assert len(found) == 1, f"task {name!r} ran {len(found)} times; stdout:\n{self.stdout[-3000:]}"
        return found[0]

    def on(self, name: str, host: str) -> dict:
        """The one recorded result of the task with this name on this inventory host."""
        found = [entry for entry in self._named(name) if entry.get("host") == host]
        assert len(found) == 1, f"task {name!r} ran {len(found)} times on {host}; stdout:\n{self.stdout[-3000:]}"
        return found[0]

    def last(self, name: str) -> dict | None:
        """The last recorded result of the task with this name, or None when it did not run."""
        found = self._named(name)
        return found[-1] if found else None

    def ok(self, name: str) -> dict:
        entry = self.task(name)
        assert entry["outcome"] == "ok", f"{name}: {json.dumps(entry['result'], indent=1)[:3000]}"
        return entry["result"]

    def failed(self, name: str) -> dict:
        entry = self.task(name)
        assert entry["outcome"] == "failed", f"{name} did not fail: {json.dumps(entry['result'], indent=1)[:3000]}"
        return entry["result"]

    def describe_failure(self) -> str:
        return f"rc={self.rc}{' (timed out)' if self.timed_out else ''}\n{self.stdout[-3000:]}\n{self.stderr[-2000:]}"

    def _named(self, name: str) -> list:
        # Role tasks are reported as "<role> : <name>".
        return [entry for entry in self.results if entry["task"] == name or entry["task"].endswith(" : " + name)]


class Playbooks:
    """Writes playbooks into a work directory and runs the real ansible-playbook on them, against base_url."""

    def __init__(self, base_url: str, workdir: Path, collections: str | None = None):
        self.base_url = base_url
        self.workdir = Path(workdir)
        self.collections = collections or COLLECTIONS_PATH
        self.ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(1)  # file names; next() is atomic, so runs may start from threads

    def env(self, credentials: str = "api_key", extra: dict | None = None) -> dict:
        env = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_ENV}
        env.update(
            ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_PLUGINS),
            ANSIBLE_CALLBACKS_ENABLED="record_results", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_LOCAL_TEMP=str(self.workdir / "tmp"), ANSIBLE_REMOTE_TMP=str(self.workdir / "tmp"),
        )
        env.update(atlas_env(self.base_url, credentials))
        env.update(extra or {})
        return env

    def new_path(self, stem: str, suffix: str = "") -> Path:
        """A fresh file or directory name in the work directory (safe from threads)."""
        return self.workdir / f"{stem}{next(self._numbers):03d}{suffix}"

    def write_playbook(self, tasks: list, play_extra: dict | None = None, name: str = "functional test") -> Path:
        play = {"name": name, "hosts": "localhost", "connection": "local", "gather_facts": False}
        play.update(play_extra or {})
        play["tasks"] = tasks
        path = self.new_path("run", ".yml")
        path.write_text(yaml.safe_dump([play], sort_keys=False))
        return path

    def run(self, tasks: list | None = None, *, playbook=None, check: bool = False, diff: bool = False, verbosity: int = 0,
            credentials: str = "api_key", env: dict | None = None, play_vars: dict | None = None, extra_vars: dict | None = None,
            args: tuple = (), timeout: float = 600, command_prefix: tuple = (), inventory: str = "localhost,") -> PlaybookRun:
        """Run ansible-playbook on a list of tasks (one play on localhost), or on a playbook file or FQCN.

        Ended, with what it started, after timeout seconds.
        """
        if playbook is None:
            playbook = self.write_playbook(tasks or [], {"vars": play_vars} if play_vars else None)
        record = self.new_path("results", ".jsonl")
        command = list(command_prefix) + [self.ansible_playbook, "-i", str(inventory), str(playbook)]
        command += ["--check"] * check + ["--diff"] * diff + (["-" + "v" * verbosity] if verbosity else []) + list(args)
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        started, timed_out = time.time(), False
        with subprocess.Popen(command, cwd=self.workdir, env=dict(self.env(credentials, env), RECORD_RESULTS_FILE=str(record)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                              start_new_session=True) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _end_group(process)
                stdout, stderr = process.communicate(timeout=30)
        ended = time.time()
        results = [json.loads(line) for line in record.read_text().splitlines() if line.strip()] if record.exists() else []
        return PlaybookRun(process.returncode, stdout or "", stderr or "", results, started, ended, timed_out)


def _end_group(process) -> None:
    """End a timed-out ansible-playbook and what it started (its own session, started by us)."""
    for signal_number in (15, 9):
        try:
            os.killpg(process.pid, signal_number)
            process.wait(10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def task(module: str, name: str | None = None, register: str | None = None, ignore_errors: bool = False, **args) -> dict:
    """One playbook task calling an atlasops.backup module (None-valued arguments are left out)."""
    entry = {"name": name or module, f"atlasops.backup.{module}": {key: value for key, value in args.items() if value is not None}}
    if register:
        entry["register"] = register
    if ignore_errors:
        entry["ignore_errors"] = True
    return entry


def runbook(playbooks: Playbooks, check: bool = False, **extra_vars) -> PlaybookRun:
    """The DR runbook (atlasops.backup.dr_restore) from prod-db into dr-db of PROJECT, with these role variables on top."""
    variables = dict(restore_project_id=PROJECT, restore_cluster_name="prod-db", restore_target_cluster_name="dr-db")
    variables.update(extra_vars)
    return playbooks.run(playbook="atlasops.backup.dr_restore", extra_vars=variables, check=check)


def role_result(run: PlaybookRun) -> dict:
    """The role's restore_result fact of a runbook run on one host."""
    return run.ok("Record the result")["ansible_facts"]["restore_result"]


def api_calls(emulator, method: str | None = None) -> list:
    """The counted Atlas API requests the emulator logged (digest challenges and token calls excluded)."""
    return [entry for entry in emulator.requests() if entry.get("counted") and (method is None or entry["method"] == method)]
