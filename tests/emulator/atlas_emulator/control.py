"""Python control API for tests, ``make demo`` and benchmarks (stdlib + requests only).

    with EmulatorProcess(job_seconds=0.5) as emu:
        emu.admin.add_cluster(DEMO_PROJECT_ID, "prod", "dedicated")
        ... point the client at emu.url ...
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from .auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY
from .scenarios import DEMO_PROJECT_ID

__all__ = ["DEFAULT_PUBLIC_KEY", "DEFAULT_PRIVATE_KEY", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEMO_PROJECT_ID",
           "EMULATOR_PATH", "Emulator", "EmulatorError", "EmulatorProcess"]

EMULATOR_PATH = Path(__file__).resolve().parent.parent  # tests/emulator
URL_PREFIX = "ATLAS_EMULATOR_URL="


class EmulatorError(RuntimeError):
    pass


def _given(**values):
    """The keyword arguments that are not None."""
    return {name: value for name, value in values.items() if value is not None}


class Emulator:
    """A thin client of the ``/_emulator`` admin API."""

    def __init__(self, url, timeout=30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def close(self):
        self._session.close()

    def _call(self, method, path, body=None, params=None):
        response = self._session.request(method, "%s/_emulator/%s" % (self.url, path), json=body, params=params,
                                         timeout=self.timeout)
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text}
        if response.status_code >= 400:
            raise EmulatorError("%s /_emulator/%s -> %d: %s" % (method, path, response.status_code, data.get("error", data)))
        return data

    # -- general ---------------------------------------------------------------------------------

    def health(self):
        return self._call("GET", "health")

    def reset(self):
        return self._call("POST", "reset")

    def config(self):
        return self._call("GET", "config")

    def configure(self, **changes):
        return self._call("POST", "config", changes)

    def load_scenario(self, name, job_seconds=None):
        return self._call("POST", "scenario", dict(name=name, **_given(job_seconds=job_seconds)))

    # -- data ------------------------------------------------------------------------------------

    def add_project(self, id=None, org_id=None):  # pylint: disable=redefined-builtin
        return self._call("POST", "projects", _given(id=id or None, org_id=org_id))["id"]

    def add_cluster(self, project_id, name, cluster_type="dedicated", sharded=False, job_seconds=None, job_outcome=None,
                    **attributes):
        """Create (or update) a cluster; ``attributes`` are the keys of README "Clusters" (mongodb_version, fcv,
        shards, config_server_type, database_edition, encryption_provider, backup_enabled, pit_enabled, paused,
        state, restore_window_days, provider, region, encryption_key_valid)."""
        body = dict(attributes, project_id=project_id, name=name, type=cluster_type, sharded=sharded,
                    **_given(job_seconds=job_seconds, job_outcome=job_outcome))
        return self._call("POST", "clusters", body)

    def add_snapshots(self, project_id, cluster_name, snapshots=None, count=None, every_hours=None, newest=None):
        """Create snapshots; return them as the cluster's type renders them (each has ``id``)."""
        body = dict(project_id=project_id, cluster_name=cluster_name,
                    **_given(snapshots=snapshots, count=count, every_hours=every_hours, newest=newest))
        return self._call("POST", "snapshots", body)["snapshots"]

    def add_restore_jobs(self, project_id, cluster_name, count=1, **fields):
        """Bulk-create jobs (``delivery_type``, ``snapshot_id``, ``target_cluster_name``, ``state``...); return ids."""
        body = dict(fields, project_id=project_id, cluster_name=cluster_name, count=count)
        return self._call("POST", "restore_jobs", body)["ids"]

    def set_job_state(self, job_id, state):
        return self._call("POST", "restore_jobs/%s/state" % job_id, {"state": state})

    def restore_job(self, job_id):
        return self._call("GET", "restore_jobs/%s" % job_id)

    def restore_jobs(self, project_id, cluster_name):
        return self._call("GET", "restore_jobs", params={"project_id": project_id, "cluster_name": cluster_name})["results"]

    def limits(self):
        """Token counts (active now, peak, issued, revoked, refused), 429s by project, bucket levels."""
        return self._call("GET", "limits")

    def relax_limits(self):
        """Limits far above anything a functional test needs, until the next reset (see EmulatorProcess's
        ``relaxed_limits`` for a setting that survives resets)."""
        return self.configure(rate_limits={name: [10 ** 6, 10 ** 6] for name in
                                           ("Cloud Backups", "Flex Restore Jobs", "Flex Snapshots", "Clusters")},
                              token_requests_per_minute=10 ** 6, max_active_tokens=10 ** 6)

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, **rule):
        return self._call("POST", "faults", rule)["ids"][0]

    def add_faults(self, rules, seed=None):
        return self._call("POST", "faults", dict(rules=list(rules), **_given(seed=seed)))["ids"]

    def faults(self):
        return self._call("GET", "faults")

    def clear_faults(self):
        return self._call("DELETE", "faults")

    # -- logs ------------------------------------------------------------------------------------

    def requests(self, since=None):
        return self._call("GET", "requests", params={"since": since} if since is not None else None)["results"]

    def clear_requests(self):
        return self._call("DELETE", "requests")

    def api_requests(self, counted_only=True, since=None):
        """Logged calls under /api/atlas/v2 (only the counted ones by default)."""
        entries = [e for e in self.requests(since) if e["path"].startswith("/api/atlas/v2")]
        return [e for e in entries if e["counted"]] if counted_only else entries

    def violations(self):
        return self._call("GET", "violations")["results"]

    def clear_violations(self):
        return self._call("DELETE", "violations")


class EmulatorProcess:
    """Start ``python -m atlas_emulator`` in a subprocess; a context manager.

    ``spec``: None = discover, a path = ``--spec``, False = ``--no-spec``. ``config``: start-up configuration keys
    (README, "Configuration"), kept across resets; ``relaxed_limits``: rate and token limits far above any test's needs.
    """

    def __init__(self, spec=None, scenario=None, job_seconds=None, token_ttl=None, extra_args=(), port=0, env=None,
                 start_timeout=20.0, python=None, config=None, relaxed_limits=False):
        self.spec = spec
        self.scenario = scenario
        self.job_seconds = job_seconds
        self.token_ttl = token_ttl
        self.extra_args = list(extra_args)
        self.config = dict(config or {})
        self.relaxed_limits = relaxed_limits
        self.port = port
        self.env = env
        self.start_timeout = start_timeout
        self.python = python or sys.executable
        self.url = None
        self.admin = None
        self.process = None
        self._stderr = collections.deque(maxlen=2000)
        self._lines = []
        self._ready = threading.Event()
        self._threads = []

    def command(self):
        cmd = [self.python, "-m", "atlas_emulator", "--port", str(self.port)]
        if self.spec is False:
            cmd.append("--no-spec")
        elif self.spec is not None:
            cmd += ["--spec", str(self.spec)]
        if self.scenario:
            cmd += ["--scenario", self.scenario]
        if self.job_seconds is not None:
            cmd += ["--job-seconds", str(self.job_seconds)]
        if self.token_ttl is not None:
            cmd += ["--token-ttl", str(self.token_ttl)]
        if self.config:
            cmd += ["--config", json.dumps(self.config)]
        if self.relaxed_limits:
            cmd.append("--relaxed-limits")
        return cmd + self.extra_args

    def start(self):
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join([str(EMULATOR_PATH)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,  # pylint: disable=consider-using-with
                                        stdin=subprocess.DEVNULL)
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None:
                time.sleep(0.2)
                raise EmulatorError("the emulator exited with %s before it was ready:\n%s" % (self.process.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError("the emulator did not print its URL within %.0f s:\n%s" % (self.start_timeout, self.stderr()))
        self.admin = Emulator(self.url)
        return self

    def _read_stdout(self):
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if self.url is None and line.startswith(URL_PREFIX):
                self.url = line[len(URL_PREFIX):].strip()
                self._ready.set()
            else:
                self._lines.append(line)

    def _read_stderr(self):
        for raw in iter(self.process.stderr.readline, b""):
            self._stderr.append(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def stop(self, timeout=5.0):
        if self.admin is not None:
            self.admin.close()
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        for thread in self._threads:
            thread.join(2.0)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.process.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
