# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: API requests, wall time, wait latency and memory of atlasops.backup against the emulator.

A script, not a test: it prints figures (and with --write-docs puts them into docs/performance.md).
Everything runs through the real ansible-playbook against the bundled Atlas emulator on 127.0.0.1:

1. API requests per operation, counted in the emulator's request log, against the minimum;
2. wall time of the DR runbook (playbook atlasops.backup.dr_restore) against a hand-written
   ansible.builtin.uri playbook (tools/bench_uri_restore.yml) doing the same restore;
3. wait latency: from the moment a restore job turns terminal to the moment restore_job returns,
   against the prediction of the documented polling schedule;
4. peak RSS and time of restore_job_info over 10,000 and 50,000 jobs.

Playbook runs come from tests/harness.py (as in the functional tests); the log tallies are shared with tools/soak.py.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
DOC = REPO / "docs" / "performance.md"
URI_PLAYBOOK = TOOLS / "bench_uri_restore.yml"
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from harness import (  # noqa: E402  pylint: disable=wrong-import-position
    API_PREFIX, COLLECTIONS_PATH, PROJECT, Playbooks, PlaybookRun as Run, task as module_task,
)
from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.atlasops.backup.plugins.module_utils._client import PAGE_SIZE  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import (  # noqa: E402  pylint: disable=wrong-import-position
    AGE_FRACTION, MAX_INTERVAL, MIN_INTERVAL,
)

# Used as ansible_python_interpreter for the memory figures: runs the module with the real Python and
# appends the peak RSS (KiB, ru_maxrss of its children) of that module process to $BENCH_MODULE_RSS_FILE.
RSS_WRAPPER_SOURCE = r'''#!{python}
import os
import resource
import subprocess
import sys

code = subprocess.call([{python!r}] + sys.argv[1:])
out = os.environ.get("BENCH_MODULE_RSS_FILE")
if out:
    with open(out, "a", encoding="utf-8") as handle:
        handle.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
'''


# ---------------------------------------------------------------------------------------------------
# running ansible-playbook


class Workspace(Playbooks):
    """Playbook runs of the measurements: the harness's, plus an interpreter wrapper that records peak memory."""

    def __init__(self, workdir: Path, base_url: str):
        super().__init__(base_url, workdir)
        self.collections_source = COLLECTIONS_PATH
        self.rss_python = self.workdir / "rss_python"
        self.rss_python.write_text(RSS_WRAPPER_SOURCE.format(python=sys.executable))
        self.rss_python.chmod(0o755)

    def env(self, credentials: str = "api_key", extra: dict | None = None) -> dict:
        return dict(super().env(credentials, extra), ANSIBLE_DEPRECATION_WARNINGS="0")

    def run(self, tasks=None, *, wrap_rss: Path | None = None, timeout: float = 900.0, **kwargs) -> Run:
        """Run ansible-playbook on a list of tasks, or on a playbook file or FQCN given in its place; bounded by timeout."""
        if tasks is not None and not isinstance(tasks, list):
            tasks, kwargs["playbook"] = None, tasks
        # the controller too: its peak RSS (with all its descendants) goes to wrap_rss
        prefix = (sys.executable, "-c", _CONTROLLER_WRAPPER, str(wrap_rss)) if wrap_rss is not None else ()
        return super().run(tasks, timeout=timeout, command_prefix=prefix, **kwargs)


_CONTROLLER_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'a').write('%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


# ---------------------------------------------------------------------------------------------------
# the emulator's request log


def is_challenge(entry: dict) -> bool:
    """A digest 401 challenge: a call under the API that came without (valid) credentials."""
    return entry["path"].startswith(API_PREFIX) and not entry["counted"] and entry["status"] == 401


def request_kind(entry: dict) -> str:
    path, method = entry["path"], entry["method"]
    if entry.get("operation_id") == "oauth_token":
        return "token"
    if method == "POST" and path.endswith("/restoreJobs"):
        return "create"
    if method == "GET" and path.endswith("/restoreJobs"):
        return "job list"
    if method == "GET" and "/restoreJobs/" in path:
        return "job get"
    if method == "GET" and re.search(r"/snapshots(/shardedClusters)?$", path):
        return "snapshot list"
    if method == "GET" and "/snapshots/" in path:
        return "snapshot get"
    if method == "POST" and path.endswith("/backup/snapshots"):
        return "snapshot take"
    if method == "GET" and path.endswith("/backup/schedule"):
        return "schedule get"
    if method == "GET" and re.search(r"/(clusters|flexClusters)/[^/]+$", path):
        return "cluster get"
    return f"{method} other"


@dataclass
class Tally:
    counted: int = 0
    challenges: int = 0
    tokens: int = 0
    kinds: dict = field(default_factory=dict)

    @classmethod
    def of(cls, entries: list, path_contains: str | None = None) -> "Tally":
        tally = cls()
        for entry in entries:
            if path_contains and path_contains not in entry["path"] and entry.get("operation_id") != "oauth_token":
                continue
            if entry.get("operation_id") == "oauth_token":
                tally.tokens += 1
            elif is_challenge(entry):
                tally.challenges += 1
            elif entry["counted"]:
                tally.counted += 1
                kind = request_kind(entry)
                tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
        return tally

    def breakdown(self) -> str:
        order = ["snapshot list", "job list", "cluster get", "schedule get", "snapshot take", "create", "job get"]
        keys = [key for key in order if key in self.kinds] + sorted(key for key in self.kinds if key not in order)
        return ", ".join(f"{self.kinds[key]} {key}" for key in keys)


# ---------------------------------------------------------------------------------------------------
# the polling schedule


def schedule_constants() -> tuple[float, float, float]:
    """MIN_INTERVAL, AGE_FRACTION and MAX_INTERVAL of the collection's waiter."""
    return MIN_INTERVAL, AGE_FRACTION, MAX_INTERVAL


def poll_offsets(limit: float) -> list[float]:
    """Poll times after the create answer, as the schedule sets them: every 2 s to 20 s, then a tenth of
    the job's age, at most 60 s (bounded)."""
    shortest, fraction, longest = schedule_constants()
    offsets, at = [], 0.0
    for dummy in range(10000):
        at += min(longest, max(shortest, at * fraction))
        offsets.append(at)
        if at >= limit:
            break
    return offsets


def predicted_wait(duration: float) -> tuple[int, float, float]:
    """(polls, the poll offset that sees the job terminal, latency) for a job of this duration."""
    offsets = poll_offsets(duration)
    seen = next(offset for offset in offsets if offset >= duration)
    return offsets.index(seen) + 1, seen, seen - duration


# ---------------------------------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, emulator: EmulatorProcess, workspace: Workspace, args):
        self.emu = emulator
        self.admin = emulator.admin
        self.ws = workspace
        self.args = args
        self.problems: list[str] = []
        self.report: dict = {}

    def log(self, message: str) -> None:
        print(message, flush=True)

    def problem(self, message: str) -> None:
        self.problems.append(message)
        print("PROBLEM: " + message, file=sys.stderr, flush=True)

    def measured(self, label: str, playbook, path_contains: str | None = None, **kwargs) -> tuple[Run, Tally]:
        """Run a playbook with a cleared request log; return the run and its API request tally."""
        self.admin.clear_requests()
        run = self.ws.run(playbook, **kwargs)
        tally = Tally.of(self.admin.requests(), path_contains)
        if run.rc != 0:
            self.problem(f"{label}: ansible-playbook failed: {run.describe_failure()}")
        return run, tally

    # -- data ------------------------------------------------------------------------------------

    def seed(self) -> None:
        admin = self.admin
        admin.add_project(PROJECT)
        # a cluster with 10,000 finished jobs, one of which restored snapshot S into many-dst
        admin.add_cluster(PROJECT, "many-src")
        admin.add_cluster(PROJECT, "many-dst")
        snapshots = admin.add_snapshots(PROJECT, "many-src", count=28, every_hours=6)
        self.many_snapshot = snapshots[-1]["id"] if snapshots else None
        admin.add_restore_jobs(PROJECT, "many-src", count=9999, state="completed")
        self.many_match = admin.add_restore_jobs(PROJECT, "many-src", count=1, state="completed", snapshot_id=self.many_snapshot,
                                                 target_cluster_name="many-dst")[0]
        for count in self.args.memory_jobs:
            name = f"mem-{count}"
            admin.add_cluster(PROJECT, name)
            if count:
                admin.add_restore_jobs(PROJECT, name, count=count, state="completed")

    def dr_clusters(self, source: str, target: str, seconds: float) -> None:
        self.admin.add_cluster(PROJECT, source, job_seconds=seconds)
        self.admin.add_cluster(PROJECT, target)
        # 4 weeks of 6-hourly snapshots: one page; the newest is completed
        self.admin.add_snapshots(PROJECT, source, count=28, every_hours=6)

    # -- 1. requests per operation ---------------------------------------------------------------

    def requests_per_operation(self) -> None:
        seconds = self.args.job_seconds
        polls, dummy, dummy2 = predicted_wait(seconds)
        rows = []
        jobs_pages = math.ceil(10000 / PAGE_SIZE)
        for credentials in ("api_key", "service_account"):
            short = "API key" if credentials == "api_key" else "service account"
            self.log(f"-- 1. API requests per operation ({short})")
            cases = [
                ("get one job (restore_job_info job_id)", 1, False,
                 module_task("restore_job_info", "get", project_id=PROJECT, cluster_name="many-src", job_id=self.many_match)),
                ("list 10,000 jobs (restore_job_info)", jobs_pages, False,
                 module_task("restore_job_info", "list", project_id=PROJECT, cluster_name="many-src")),
                ("idempotent re-run of a restore (restore_job, the match among 10,000 jobs)", jobs_pages, True,
                 module_task("restore_job", "rerun", project_id=PROJECT, cluster_name="many-src", snapshot_id=self.many_snapshot,
                             target_cluster_name="many-dst", wait=True)),
            ]
            for label, minimum, reuse_expected, task in cases:
                run, tally = self.measured(label, [task], credentials=credentials)
                entry = run.last(task["name"])
                if entry is None or entry["outcome"] != "ok":
                    self.problem(f"{label}: {run.describe_failure()}")
                elif reuse_expected and not (entry["result"].get("reused") and not entry["result"].get("changed")):
                    self.problem(f"{label}: the job was not re-used: {json.dumps(entry['result'])[:500]}")
                rows.append(dict(credentials=short, operation=label, requests=tally.counted, minimum=minimum,
                                 breakdown=tally.breakdown(), challenges=tally.challenges, tokens=tally.tokens))
                self.log(f"   {label}: {tally.counted} requests (min {minimum}); {tally.breakdown()}; "
                         f"{tally.challenges} digest challenges, {tally.tokens} token calls")
            tag = "ak" if credentials == "api_key" else "sa"
            source, target = f"dr-src-{tag}", f"dr-dst-{tag}"
            self.dr_clusters(source, target, seconds)
            extra = dict(restore_project_id=PROJECT, restore_cluster_name=source, restore_target_cluster_name=target)
            newest = self.admin.add_snapshots(PROJECT, source, count=1, every_hours=1)[-1]["id"]
            for label, preflight, minimum in (("restore_job in check mode, pre-flight off (the list only)", False, 1),
                                              ("restore_job in check mode, pre-flight on (+ source and target clusters, the snapshot)", True, 4)):
                task = module_task("restore_job", "predict", project_id=PROJECT, cluster_name=source, snapshot_id=newest,
                                   target_cluster_name=target, preflight=preflight)
                run, tally = self.measured(label, [task], credentials=credentials, check=True)
                rows.append(dict(credentials=short, operation=label, requests=tally.counted, minimum=minimum,
                                 breakdown=tally.breakdown(), challenges=tally.challenges, tokens=tally.tokens))
                self.log(f"   {label}: {tally.counted} requests (min {minimum}); {tally.breakdown()}")
            for label, minimum in ((f"DR restore through the role, job {seconds:g} s", 3 + polls),
                                   ("DR restore re-run (job re-used)", 2)):
                run, tally = self.measured(label, "atlasops.backup.dr_restore", extra_vars=extra, credentials=credentials)
                rows.append(dict(credentials=short, operation=label, requests=tally.counted, minimum=minimum,
                                 breakdown=tally.breakdown(), challenges=tally.challenges, tokens=tally.tokens))
                self.log(f"   {label}: {tally.counted} requests (min {minimum}); {tally.breakdown()}; "
                         f"{tally.challenges} digest challenges, {tally.tokens} token calls; {run.wall:.1f} s")
        self.report["requests"] = rows
        self.report["dr_polls_min"] = polls
        self.report["job_seconds"] = seconds

    # -- 2. wall time: the role against a hand-written uri playbook ------------------------------

    def wall_time(self) -> None:
        seconds, reps = self.args.job_seconds, self.args.reps
        self.log(f"-- 2. Wall time of a DR restore, job {seconds:g} s, {reps} repetitions each")
        role_times, uri_times, uri_tallies, role_tallies = [], [], [], []
        for rep in range(1, reps + 1):
            for kind in ("role", "uri"):
                source, target = f"wall-{kind}-src-{rep}", f"wall-{kind}-dst-{rep}"
                self.dr_clusters(source, target, seconds)
                if kind == "role":
                    run, tally = self.measured(f"role rep {rep}", "atlasops.backup.dr_restore", extra_vars=dict(
                        restore_project_id=PROJECT, restore_cluster_name=source, restore_target_cluster_name=target))
                    role_times.append(run.wall)
                    role_tallies.append(tally)
                else:
                    run, tally = self.measured(f"uri rep {rep}", URI_PLAYBOOK, extra_vars=dict(
                        uri_project_id=PROJECT, uri_cluster_name=source, uri_target_cluster_name=target,
                        uri_poll_delay=self.args.uri_poll))
                    uri_times.append(run.wall)
                    uri_tallies.append(tally)
                self.log(f"   rep {rep} {kind:4s}: {run.wall:.2f} s, {tally.counted} requests ({tally.breakdown()}), "
                         f"{tally.challenges} digest challenges")
        role_median, uri_median = statistics.median(role_times), statistics.median(uri_times)
        self.report["wall"] = dict(
            seconds=seconds, reps=reps, uri_poll=self.args.uri_poll, role=role_times, uri=uri_times, role_median=role_median,
            uri_median=uri_median, ratio=role_median / uri_median,
            role_requests=statistics.median(t.counted for t in role_tallies), role_breakdown=role_tallies[0].breakdown(),
            role_challenges=statistics.median(t.challenges for t in role_tallies),
            uri_requests=statistics.median(t.counted for t in uri_tallies), uri_breakdown=uri_tallies[0].breakdown(),
            uri_challenges=statistics.median(t.challenges for t in uri_tallies),
        )
        self.log(f"   median: role {role_median:.2f} s, uri {uri_median:.2f} s, ratio {role_median / uri_median:.2f}")

    # -- 3. wait latency -------------------------------------------------------------------------

    def wait_latency(self) -> None:
        durations = [10.0, 60.0] + ([] if self.args.quick else [300.0])
        self.log(f"-- 3. Wait latency for jobs of {', '.join(f'{d:g}' for d in durations)} s (run side by side)")
        self.admin.clear_requests()
        cases = {}
        for duration in durations:
            source, target = f"lat-{int(duration)}-src", f"lat-{int(duration)}-dst"
            self.admin.add_cluster(PROJECT, source, job_seconds=duration)
            self.admin.add_cluster(PROJECT, target)
            snapshot = self.admin.add_snapshots(PROJECT, source, count=1, every_hours=6)[0]["id"]
            tasks = [module_task("restore_job", "restore", project_id=PROJECT, cluster_name=source, snapshot_id=snapshot,
                                 target_cluster_name=target, wait=True, wait_timeout=int(duration * 3 + 120))]
            cases[duration] = (source, self.ws.write_playbook(tasks))
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(durations)) as pool:
            futures = {duration: pool.submit(self.ws.run, playbook, timeout=duration * 3 + 300)
                       for duration, (dummy, playbook) in cases.items()}
            runs = {duration: future.result() for duration, future in futures.items()}
        log = self.admin.requests()
        rows = []
        for duration, (source, dummy) in cases.items():
            run = runs[duration]
            entry = run.last("restore")
            if run.rc != 0 or entry is None or entry["outcome"] != "ok":
                self.problem(f"latency {duration:g} s: {run.describe_failure()}")
                continue
            mine = [e for e in log if f"/clusters/{source}/" in e["path"] and e["counted"]]
            post = next(e for e in mine if e["method"] == "POST")
            gets = [e for e in mine if request_kind(e) == "job get"]
            terminal = post["time"] + duration  # the job is created while the POST is processed (ms after it arrives)
            polls, seen_at, predicted = predicted_wait(duration)
            row = dict(duration=duration, predicted_polls=polls, predicted_latency=predicted, polls=len(gets),
                       detected=gets[-1]["time"] - terminal, returned=entry["end"] - terminal,
                       waited=entry["result"].get("waited_seconds"))
            rows.append(row)
            self.log(f"   job {duration:g} s: module returned {row['returned']:.2f} s after the job ended (last poll "
                     f"{row['detected']:.2f} s after), {row['polls']} polls; schedule predicts {predicted:.2f} s, {polls} polls")
        self.report["latency"] = rows

    # -- 4. memory and time of restore_job_info --------------------------------------------------

    def memory(self) -> None:
        self.log(f"-- 4. restore_job_info over {', '.join(f'{n:,}' for n in self.args.memory_jobs)} jobs")
        rows = []
        for count in self.args.memory_jobs:
            module_rss = self.ws.workdir / f"module-rss-{count}.txt"
            controller_rss = self.ws.workdir / f"controller-rss-{count}.txt"
            tasks = [module_task("restore_job_info", "info", project_id=PROJECT, cluster_name=f"mem-{count}")]
            run, tally = self.measured(f"memory {count}", tasks, wrap_rss=controller_rss,
                                       env=dict(ANSIBLE_PYTHON_INTERPRETER=str(self.ws.rss_python),
                                                BENCH_MODULE_RSS_FILE=str(module_rss)))
            entry = run.last("info")
            if entry is None or entry["outcome"] != "ok":
                self.problem(f"memory {count}: {run.describe_failure()}")
                continue
            jobs = entry["result"].get("restore_jobs")
            returned = jobs.get("_list_of") if isinstance(jobs, dict) else len(jobs or [])
            if returned != count:
                self.problem(f"memory {count}: restore_job_info returned {returned} jobs")
            module_kib = max(int(line) for line in module_rss.read_text().split())
            controller_kib = max(int(line) for line in controller_rss.read_text().split())
            row = dict(jobs=count, returned=returned, task_seconds=entry["end"] - entry["start"], playbook_seconds=run.wall,
                       module_mib=module_kib / 1024, controller_mib=controller_kib / 1024, requests=tally.counted)
            rows.append(row)
            self.log(f"   {count:>6,} jobs: task {row['task_seconds']:.2f} s (playbook {run.wall:.2f} s), {tally.counted} requests, "
                     f"module peak RSS {row['module_mib']:.1f} MiB, ansible-playbook and descendants {row['controller_mib']:.1f} MiB")
        self.report["memory"] = rows


# ---------------------------------------------------------------------------------------------------
# machine, markdown, docs


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        nproc = str(os.cpu_count())
    try:
        from ansible.release import __version__ as ansible_version  # pylint: disable=import-outside-toplevel
    except ImportError:
        ansible_version = "not importable"
    try:
        import requests  # pylint: disable=import-outside-toplevel
        requests_version = requests.__version__
    except ImportError:
        requests_version = "not importable"
    return dict(nproc=nproc, cpu=model, python=platform.python_version(), ansible_core=ansible_version, requests=requests_version,
                system=f"{platform.system()} {platform.release()}")


def machine_line(info: dict) -> str:
    return (f"`nproc` {info['nproc']}, CPU {info['cpu']}, Python {info['python']}, ansible-core {info['ansible_core']}, "
            f"requests {info['requests']}, {info['system']}")


def bench_markdown(report: dict, command: str, info: dict, spec: str | None) -> str:
    lines = [f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())}, in {report['elapsed']:.0f} s.",
             f"Machine: {machine_line(info)}.",
             f"Emulator contract validation: {'on (' + Path(spec).name + ')' if spec else 'off (spec not found)'}; "
             f"contract violations seen: {report['violations']}.", ""]
    if "requests" in report:
        polls = report["dr_polls_min"]
        first, dummy, ceiling = schedule_constants()
        lines += ["### 1. API requests per operation", "",
                  "Counted: authenticated calls under `/api/atlas/v2` in the emulator's request log. Digest 401 challenges "
                  "and OAuth token calls are counted apart.", "",
                  "| credentials | operation | requests | minimum | breakdown | digest challenges | token calls |",
                  "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
        for row in report["requests"]:
            lines.append(f"| {row['credentials']} | {row['operation']} | {row['requests']} | {row['minimum']} | {row['breakdown']} "
                         f"| {row['challenges']} | {row['tokens']} |")
        offsets = poll_offsets(report["job_seconds"])
        lines += ["", f"Minimum of the DR restore: 1 snapshot list + 1 job list + 1 POST + {polls} polls. The polls are those "
                  f"of the documented schedule (the next poll after a tenth of the job's age, at least {first:g} s and at most "
                  f"{ceiling:g} s later: at {', '.join(f'{o:.4g}' for o in offsets)} s after the create answer): the first poll at or after the "
                  "job's end sees it finished. This is the minimum for this schedule; a client that knew the duration could "
                  "poll once. The re-run's minimum is the two lists and no POST; a list of 10,000 jobs is 20 pages of 500.", ""]
    if "wall" in report:
        wall = report["wall"]
        lines += [f"### 2. Wall time of a DR restore (job {wall['seconds']:g} s, median of {wall['reps']})", "",
                  "| playbook | runs (s) | median (s) | API requests | digest challenges |", "| --- | --- | ---: | ---: | ---: |",
                  f"| `atlasops.backup.dr_restore` (role) | {', '.join(f'{t:.1f}' for t in wall['role'])} | {wall['role_median']:.1f} "
                  f"| {wall['role_requests']:g} ({wall['role_breakdown']}) | {wall['role_challenges']:g} |",
                  f"| `tools/bench_uri_restore.yml` (ansible.builtin.uri, polls every {wall['uri_poll']:g} s) | "
                  f"{', '.join(f'{t:.1f}' for t in wall['uri'])} | {wall['uri_median']:.1f} | {wall['uri_requests']:g} "
                  f"({wall['uri_breakdown']}) | {wall['uri_challenges']:g} |", "",
                  f"Ratio role / uri: **{wall['ratio']:.2f}**. Wall time is ansible-playbook's whole run, start to exit. The uri "
                  f"playbook polls every {wall['uri_poll']:g} s (a typical hand-written `until`/`delay`), reads one page of "
                  "snapshots, and has no idempotency and no retries.", ""]
    if "latency" in report:
        lines += ["### 3. Wait latency (restore_job with wait: true)", "",
                  "From the job's end (the POST's arrival in the emulator log + the job's duration) to the task's result reaching "
                  "the controller (callback time), and to the poll that saw the job finished. The cases ran side by side.", "",
                  "| job duration (s) | predicted latency (s) | poll saw it after (s) | module returned after (s) | polls (predicted) |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        for row in report["latency"]:
            lines.append(f"| {row['duration']:g} | {row['predicted_latency']:.2f} | {row['detected']:.2f} | {row['returned']:.2f} "
                         f"| {row['polls']} ({row['predicted_polls']}) |")
        lines.append("")
    if "memory" in report:
        lines += ["### 4. restore_job_info over many jobs", "",
                  "Peak RSS of the module process: `ru_maxrss` of `RUSAGE_CHILDREN` in a wrapper used as "
                  "`ansible_python_interpreter` (the AnsiballZ payload and the module, in their own process). The last column "
                  "is the same measure over ansible-playbook and all its descendants: the largest single process of the run (the controller "
                  "and its worker hold the whole result too), not a sum. "
                  "Task time is from the callback's task start to its result.", "",
                  "| jobs | API requests | task time (s) | playbook wall time (s) | module peak RSS (MiB) | largest process of the run (MiB) |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in report["memory"]:
            lines.append(f"| {row['jobs']:,} | {row['requests']} | {row['task_seconds']:.2f} | {row['playbook_seconds']:.2f} "
                         f"| {row['module_mib']:.1f} | {row['controller_mib']:.1f} |")
        lines.append("")
    if report.get("problems"):
        lines += ["### Problems seen during this run", ""] + [f"- {problem.splitlines()[0]}" for problem in report["problems"]] + [""]
    return "\n".join(lines)


def write_section(name: str, body: str, title: str) -> None:
    """Replace the text between <!-- {name}:begin --> and <!-- {name}:end --> in docs/performance.md."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n{block}\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 300 s wait-latency case")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the wall-time comparison (median reported)")
    parser.add_argument("--job-seconds", type=float, default=20.0, help="restore job duration of the DR restores")
    parser.add_argument("--uri-poll", type=float, default=5.0, help="poll delay of the hand-written uri playbook")
    parser.add_argument("--only", action="append", choices=["requests", "wall", "latency", "memory"],
                        help="run only these parts (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if not 1 <= args.reps <= 20:
        parser.error("--reps must be 1..20")
    if not 1 <= args.job_seconds <= 600:
        parser.error("--job-seconds must be 1..600")
    args.memory_jobs = [0, 10000, 50000]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    parts = args.only or ["requests", "wall", "latency", "memory"]
    spec = find_spec()
    info = machine()
    command = shlex.join(["python", "tools/bench.py"] + list(sys.argv[1:] if argv is None else argv))
    print(f"== atlasops.backup bench on {machine_line(info)}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="atlasops-bench-"))
    started = time.monotonic()
    try:
        with EmulatorProcess(spec=spec if spec else False, job_seconds=3.0) as emulator:
            workspace = Workspace(workdir, emulator.url)
            print(f"   emulator {emulator.url} (contract validation {'on' if spec else 'off'}); collections from "
                  f"{workspace.collections_source}; work directory {workdir}", flush=True)
            bench = Bench(emulator, workspace, args)
            bench.seed()
            for part in ("requests", "wall", "latency", "memory"):
                if part in parts:
                    getattr(bench, {"requests": "requests_per_operation", "wall": "wall_time", "latency": "wait_latency",
                                    "memory": "memory"}[part])()
            violations = emulator.admin.violations()
            bench.report["violations"] = len(violations)
            if violations:
                bench.problem(f"{len(violations)} contract violations, the first: {json.dumps(violations[0])}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    bench.report["elapsed"] = time.monotonic() - started
    bench.report["problems"] = bench.problems
    markdown = bench_markdown(bench.report, command, info, str(spec) if spec else None)
    print("\n" + markdown, flush=True)
    if args.write_docs:
        write_section("bench", markdown, "Benchmarks (`make bench`)")
        print(f"wrote {DOC.relative_to(REPO)}")
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
