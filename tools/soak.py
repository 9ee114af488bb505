# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make soak: many restore_job create-and-wait runs through randomized faults injected by the emulator.

Every run is one restore_job task (wait: true) on its own source cluster, snapshot and target, so each
run must create exactly one job. The runs are batched into ansible-playbook runs (ignore_errors, a
result-recording callback) that go side by side; half the batches use an API key (HTTP digest), half
a service account with a short token lifetime. Fault rules with fixed seeds answer 429 (with and
without Retry-After), 500/502/503/504 and 501, drop connections before and after processing, answer after
request_timeout (slow answers and slow processing), process creates after the client's timeout (within
the settle window), cut answers off mid-body, lag job lists behind creates, redirect, and expire tokens
(and digest nonces). A case of its own processes a create only after the whole settle window and checks
that the warning names the extra job.

Reports: runs, faults injected per kind (the emulator's tallies), duplicate jobs, runs failed for a
reason other than an exhausted retry budget, secrets seen in any output, contract violations.
Exits 1 when any of the last four is not 0 (or when not every run ran).

The seed fixes the rule set and each rule's random sequence; with batches side by side, which
request draws which number depends on timing, so two runs with one seed are alike, not identical
(--parallel 1 comes closest).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import (  # noqa: E402  pylint: disable=wrong-import-position
    DOC, REPO, EmulatorProcess, Tally, Workspace, find_spec, machine, machine_line, request_kind, write_section,
)
from harness import PROJECT, SECRETS  # noqa: E402  pylint: disable=wrong-import-position

DEFAULT_SEED = 20261122
RETRYABLE = {429, 500, 502, 503, 504}
# The client's messages for transport errors it retries (plugins/module_utils/_client.py, _transport_error).
TRANSPORT_MESSAGES = ("no answer within request_timeout", "the connection failed or was closed", "could not connect")
LOST_ANSWER_WARNING = "the answer to the create request was lost"
# 501 and redirects end a run at once, as promised: expected failures, not budget ones.
FINAL_ANSWER = "final answer (501 or a redirect), never sent again"
EXTRA_JOB_WARNING = "as well as"


def fault_rules(seed: int, delay: float, request_timeout: float) -> list[tuple[str, dict]]:
    """(kind, rule) pairs; the rules that target the create request come first (the first rule that fires wins)."""
    create = dict(method="POST", path_contains="/restoreJobs")
    late = request_timeout + 10  # after the client gave up, well inside the settle window (request_timeout + 30 s)
    rules = [
        (f"create: processed {late:g} s later, after the client's timeout",
         dict(create, action="late", delay_seconds=late, probability=0.05)),
        ("create: answer cut off mid-body", dict(create, action="truncate", probability=0.04)),
        ("create: 501 (final)", dict(create, action="status", status=501, probability=0.015)),
        ("job list lagging 5 s behind creates", dict(operation_id="listGroupClusterBackupRestoreJobs", action="lag_list",
                                                     lag_seconds=5, probability=0.25)),
        ("create: dropped after processing", dict(create, action="drop_after", probability=0.08)),
        ("create: dropped before processing", dict(create, action="drop_before", probability=0.04)),
        (f"create: slow answer ({delay:g} s, processed first)", dict(create, action="delay", delay_seconds=delay, probability=0.05)),
        (f"create: slow processing ({delay:g} s, then processed)",
         dict(create, action="delay", delay_seconds=delay, delay_before_processing=True, probability=0.05)),
        ("create: 503", dict(create, action="status", status=503, probability=0.04)),
        ("429 with Retry-After: 1", dict(action="status", status=429, retry_after=1, probability=0.03)),
        ("429 without Retry-After", dict(action="status", status=429, probability=0.03)),
        ("500", dict(action="status", status=500, probability=0.02)),
        ("502", dict(action="status", status=502, probability=0.02)),
        ("503", dict(action="status", status=503, probability=0.02)),
        ("504", dict(action="status", status=504, probability=0.02)),
        ("dropped before processing", dict(action="drop_before", probability=0.02)),
        ("dropped after processing", dict(action="drop_after", probability=0.02)),
        (f"slow answer ({delay:g} s)", dict(action="delay", delay_seconds=delay, probability=0.015)),
        (f"slow processing ({delay:g} s)", dict(action="delay", delay_seconds=delay, delay_before_processing=True, probability=0.015)),
        ("answer cut off mid-body", dict(action="truncate", probability=0.01)),
        ("redirect (final)", dict(action="redirect", probability=0.004)),
        ("token (or digest nonce) expired", dict(action="expire_token", probability=0.03)),
        ("token endpoint: 503", dict(operation_id="oauth_token", action="status", status=503, probability=0.05)),
        (f"token endpoint: slow answer ({delay:g} s)",
         dict(operation_id="oauth_token", action="delay", delay_seconds=delay, probability=0.03)),
    ]
    return [(kind, dict(rule, times=-1, seed=seed + index)) for index, (kind, rule) in enumerate(rules)]


def classify(result: dict, story: list | None = None) -> str:
    """Why a run failed: 'retry budget exhausted ...' or 'other: ...'.

    Budget exhausted: the last error is transient (429, 5xx, a lost connection, a timeout) after the
    client's retries; or a 401 after the one credential renewal the client allows per request, i.e.
    the emulator's log of the run ends with two injected expiries in a row (story: that log, in time
    order). A 401 after a single expiry is not a budget: it counts as 'other'.
    """
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    message = str(result.get("msg") or "")
    status = error.get("status")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if status in RETRYABLE:
        return "retry budget exhausted"
    if status == 501 or (isinstance(status, int) and 300 <= status < 400):
        return FINAL_ANSWER
    if status in (None, "None") and error and any(text in message for text in TRANSPORT_MESSAGES):
        return "retry budget exhausted"
    if status == 401 and story is not None and trailing_expiries(story) >= 2:
        return "retry budget exhausted (auth: the one renewal per request, then expired again)"
    return "other: " + _shorten(message)


def trailing_expiries(story: list) -> int:
    """How many injected token/nonce expiries end a run's request log, in a row."""
    count = 0
    for entry in reversed(story):
        if entry.get("fault") != "expire_token":
            break
        count += 1
    return count


def _shorten(message: str) -> str:
    """A message with ids and numbers blanked, to group failures of one kind."""
    text = re.sub(r"\b[0-9a-f]{24}\b", "<id>", message)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:300]


def find_secrets(texts) -> Counter:
    found = Counter()
    for text in texts:
        for secret in SECRETS:
            if secret and secret in text:
                found[secret[:6] + "…"] += text.count(secret)
    return found


class Soak:
    def __init__(self, emulator, workspace: Workspace, args):
        self.emu = emulator
        self.admin = emulator.admin
        self.ws = workspace
        self.args = args
        self.rng = random.Random(args.seed)
        self.runs = []  # per run: index, source, target, snapshot, job_seconds, batch, credentials

    def seed_data(self) -> None:
        self.admin.add_project(PROJECT)
        for index in range(self.args.runs):
            source, target = f"soak-src-{index:04d}", f"soak-dst-{index:04d}"
            seconds = round(self.rng.uniform(1.0, 2.0), 1)
            self.admin.add_cluster(PROJECT, source, job_seconds=seconds)
            self.admin.add_cluster(PROJECT, target)
            snapshot = self.admin.add_snapshots(PROJECT, source, count=2, every_hours=6)[-1]["id"]
            batch = index // self.args.batch
            self.runs.append(dict(index=index, name=f"run {index:04d}", source=source, target=target, snapshot=snapshot,
                                  job_seconds=seconds, batch=batch,
                                  credentials="service_account" if batch % 2 else "api_key"))

    def playbook(self, batch: int) -> Path:
        tasks = []
        for run in self.runs:
            if run["batch"] != batch:
                continue
            tasks.append({
                "name": run["name"],
                "atlasops.backup.restore_job": dict(project_id=PROJECT, cluster_name=run["source"], snapshot_id=run["snapshot"],
                                                    target_cluster_name=run["target"], wait=True, wait_timeout=self.args.wait_timeout),
                "ignore_errors": True,
                "timeout": self.args.wait_timeout + 120,
            })
        defaults = {"group/atlasops.backup.atlas": dict(request_timeout=self.args.request_timeout, max_retries=self.args.max_retries)}
        return self.ws.write_playbook(tasks, {"module_defaults": defaults}, name=f"soak batch {batch}")

    def go(self) -> dict:
        args = self.args
        self.admin.configure(token_ttl=args.token_ttl)
        rules = fault_rules(args.seed, args.delay, args.request_timeout)
        ids = self.admin.add_faults([rule for dummy, rule in rules], seed=args.seed)
        kinds = dict(zip(ids, (kind for kind, dummy in rules)))
        self.admin.clear_requests()
        batches = sorted({run["batch"] for run in self.runs})
        deadline = time.monotonic() + args.max_minutes * 60
        verbosity = ["-" + "v" * args.verbosity] if args.verbosity else []
        started = time.monotonic()

        def run_batch(batch):
            remaining = deadline - time.monotonic()
            if remaining < 30:
                return batch, None
            credentials = "service_account" if batch % 2 else "api_key"
            run = self.ws.run(self.playbook(batch), credentials=credentials, args=tuple(verbosity), timeout=remaining,
                              env={"ANSIBLE_DISPLAY_TRACEBACK": "error"})
            done = sum(1 for entry in run.results if entry["task"].startswith("run "))
            print(f"   batch {batch:2d} ({credentials}): rc {run.rc}, {done} results, {run.wall:.0f} s", flush=True)
            return batch, run

        print(f"-- {len(self.runs)} runs in {len(batches)} batches of {args.batch}, {args.parallel} side by side; "
              f"request_timeout {args.request_timeout:g} s, max_retries {args.max_retries}, token TTL {args.token_ttl:g} s", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
            outputs = dict(pool.map(run_batch, batches))
        elapsed = time.monotonic() - started
        return self.analyse(outputs, kinds, elapsed)

    def extra_job_case(self) -> dict:
        """One create processed only after the whole settle window: the module sends again, and must name the extra job.

        A download: an automated restore's late create would meet Atlas's 409 for a target being restored, and make no job.
        """
        args = self.args
        source = "soak-late-src"
        settle = args.request_timeout + 30
        self.admin.add_cluster(PROJECT, source, job_seconds=settle + 30)  # the late job lands while the first one is prepared
        snapshot = self.admin.add_snapshots(PROJECT, source, count=1, every_hours=6)[-1]["id"]
        self.admin.clear_faults()
        self.admin.add_fault(method="POST", path_contains=f"/clusters/{source}/", action="late", delay_seconds=settle + 10, times=1)
        task = {"name": "late create", "ignore_errors": True,
                "atlasops.backup.restore_job": dict(project_id=PROJECT, cluster_name=source, snapshot_id=snapshot,
                                                    delivery_type="download", wait=True, wait_timeout=args.wait_timeout,
                                                    request_timeout=args.request_timeout)}
        print(f"-- a create processed {settle + 10:g} s late, after the whole settle window of {settle:g} s", flush=True)
        run = self.ws.run([task], timeout=args.wait_timeout + 120)
        entry = run.last("late create") or {"result": {}}
        jobs = [job["id"] for job in self.admin.restore_jobs(PROJECT, source)]
        warnings = " ".join(str(warning) for warning in entry["result"].get("warnings") or [])
        returned = (entry["result"].get("restore_job") or {}).get("id")
        extra = [job for job in jobs if job != returned]
        named = bool(extra) and all(job in warnings for job in extra) and EXTRA_JOB_WARNING in warnings
        print(f"   jobs {jobs}; returned {returned}; the warning names the extra job: {named}", flush=True)
        return dict(jobs=jobs, returned=returned, extra=extra, named=named, warnings=warnings[:2000])

    def analyse(self, outputs: dict, kinds: dict, elapsed: float) -> dict:
        results = {}
        texts = [self.emu.stderr()]
        not_run_batches = []
        for batch, run in outputs.items():
            if run is None:
                not_run_batches.append(batch)
                continue
            texts += [run.stdout, run.stderr, run.results_text]
            if run.timed_out:
                not_run_batches.append(batch)
            for entry in run.results:
                results[entry["task"]] = entry
        log = self.admin.requests()
        outcome = Counter()
        failures = Counter()
        duplicates, lost_answers_found = [], 0
        others = []
        for run in self.runs:
            jobs = self.admin.restore_jobs(PROJECT, run["source"])
            if len(jobs) > 1:
                duplicates.append((run["name"], [job["id"] for job in jobs]))
            entry = results.get(run["name"])
            if entry is None:
                outcome["not run"] += 1
                others.append((run["name"], "no result (the batch did not run or was stopped)"))
                continue
            result = entry["result"]
            warnings = " ".join(str(w) for w in result.get("warnings") or [])
            if LOST_ANSWER_WARNING in warnings:
                lost_answers_found += 1
            if entry["outcome"] == "ok":
                job = result.get("restore_job") or {}
                problem = None
                if len(jobs) > 1:
                    outcome["ok, but a duplicate job was made"] += 1  # counted among the duplicates
                    continue
                if job.get("status") != "completed":
                    problem = f"returned ok with the job {job.get('status')}"
                elif [j["id"] for j in jobs] != [job.get("id")]:
                    problem = f"returned job {job.get('id')} but the cluster has {[j['id'] for j in jobs]}"
                elif not result.get("changed") or result.get("reused"):
                    problem = f"changed={result.get('changed')} reused={result.get('reused')} on a first run"
                if problem:
                    outcome["ok but inconsistent"] += 1
                    others.append((run["name"], problem))
                else:
                    outcome["ok"] += 1
                continue
            reason = classify(result, cluster_log(log, run["source"]))
            failures[reason] += 1
            if reason.startswith("other"):
                outcome["failed: other"] += 1
                others.append((run["name"], f"{result.get('msg')} | error={json.dumps(result.get('error'))}"))
            elif reason == FINAL_ANSWER:
                outcome["failed: final answer (501, redirect)"] += 1
            else:
                outcome["failed: retry budget exhausted"] += 1
        suspects = {name for name, dummy in others} | {name for name, dummy in duplicates}
        diagnostics = []
        for run in self.runs:
            if run["name"] in suspects:
                diagnostics.append(f"{run['name']} ({run['credentials']}, job {run['job_seconds']} s): "
                                   + "; ".join(dict(others).get(run["name"], "").splitlines()[:1]))
                diagnostics += ["    " + line for line in cluster_story(log, run["source"])]
                diagnostics += [f"    job {job['id']} (created {int(job['id'][:8], 16) - int(log[0]['time']) if log else 0} s into the "
                                f"soak), finished {job.get('finishedAt')}" for job in self.admin.restore_jobs(PROJECT, run["source"])]
        (self.ws.workdir / "diagnostics.txt").write_text("\n".join(diagnostics) + "\n")
        fault_state = self.admin.faults()
        per_kind = {kinds.get(rule["id"], rule["id"]): rule["applied"] for rule in fault_state["rules"]}
        tally = Tally.of(log)
        secrets = find_secrets(texts)
        violations = self.admin.violations()
        emulator_errors = [line for line in self.emu.stderr().splitlines() if line.startswith("emulator error")]
        return dict(
            runs=len(self.runs), outcome=dict(outcome), failures=dict(failures), duplicates=duplicates, others=others,
            faults=per_kind, faults_total=sum(per_kind.values()), tallies=fault_state["tallies"],
            status_tallies=fault_state["status_tallies"], requests=tally.counted, challenges=tally.challenges, tokens=tally.tokens,
            request_kinds=tally.kinds, secrets=dict(secrets), violations=violations, emulator_errors=emulator_errors,
            lost_answers_found=lost_answers_found, diagnostics=diagnostics, elapsed=elapsed, not_run_batches=not_run_batches,
        )


def cluster_log(log: list, source: str) -> list:
    """The emulator's log entries of one source cluster, in order of arrival."""
    return sorted((entry for entry in log if f"/clusters/{source}/" in entry["path"]), key=lambda entry: entry["time"])


def cluster_story(log: list, source: str) -> list[str]:
    """The emulator's log of one source cluster's requests, one line each, times relative to the first."""
    mine = cluster_log(log, source)
    if not mine:
        return ["(no requests)"]
    start = mine[0]["time"]
    # seq is the order in which the emulator finished processing (a delay before processing shows as a late seq)
    return [f"+{entry['time'] - start:6.2f} s seq {entry['seq']:>6} {entry['method']:4s} {request_kind(entry):13s} -> "
            f"{entry['status']} {'fault ' + entry['fault'] if entry.get('fault') else ''}"
            f"{'' if entry['counted'] else ' (not counted)'}" for entry in mine]


def verdicts(report: dict) -> list[tuple[str, int]]:
    other = report["outcome"].get("failed: other", 0) + report["outcome"].get("ok but inconsistent", 0) + \
        report["outcome"].get("not run", 0)
    return [
        ("duplicate jobs", len(report["duplicates"])),
        ("runs failed for another reason than an exhausted retry budget (or not run, or inconsistent)", other),
        ("secrets seen in any output", sum(report["secrets"].values())),
        ("contract violations", len(report["violations"])),
        ("emulator errors (500s from emulator bugs)", len(report["emulator_errors"])),
        ("create processed after the whole settle window: extra job not named in a warning",
         0 if report.get("extra_job_case", {}).get("named", True) else 1),
    ]


def soak_markdown(report: dict, command: str, info: dict, args) -> str:
    outcome = report["outcome"]
    lines = [f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())}: {report['runs']} create-and-wait runs in "
             f"{report['elapsed']:.0f} s (batches of {args.batch}, {args.parallel} side by side; seed {args.seed}).",
             f"Machine: {machine_line(info)}.",
             f"Settings: request_timeout {args.request_timeout:g} s, max_retries {args.max_retries}, wait_timeout "
             f"{args.wait_timeout} s, jobs of 1-2 s, token TTL {args.token_ttl:g} s for the service-account batches, "
             f"slow answers {args.delay:g} s.", "",
             "| outcome | runs |", "| --- | ---: |"]
    for key in ("ok", "ok, but a duplicate job was made", "failed: retry budget exhausted", "failed: final answer (501, redirect)",
                "failed: other", "ok but inconsistent", "not run"):
        lines.append(f"| {key} | {outcome.get(key, 0)} |")
    lines += ["", f"API requests: {report['requests']} counted ({', '.join(f'{v} {k}' for k, v in sorted(report['request_kinds'].items()))}), "
              f"{report['challenges']} digest challenges, {report['tokens']} token calls. Lost create answers recovered by "
              f"finding the job: {report['lost_answers_found']}.", "",
              f"Faults injected ({report['faults_total']} in all):", "", "| fault | injected |", "| --- | ---: |"]
    for kind, count in report["faults"].items():
        lines.append(f"| {kind} | {count} |")
    late = report.get("extra_job_case")
    if late:
        lines += ["", f"A create processed only after the whole settle window (a case of its own): the cluster has jobs "
                      f"{', '.join(late['jobs']) or 'none'}; restore_job returned {late['returned']}; the warning names the extra job: "
                      f"{'yes' if late['named'] else 'no'}."]
    lines += ["", "| must be 0 | seen |", "| --- | ---: |"]
    for label, value in verdicts(report):
        lines.append(f"| {label} | {value} |")
    if report["failures"]:
        lines += ["", "Failure reasons:", ""] + [f"- {count} × {reason}" for reason, count in sorted(report["failures"].items())]
    if report["others"]:
        lines += ["", "Runs that count against the verdict:", ""] + [f"- {name}: {why[:400]}" for name, why in report["others"][:20]]
    if report["duplicates"]:
        lines += ["", "Duplicate jobs:", ""] + [f"- {name}: {ids}" for name, ids in report["duplicates"][:20]]
    lines.append("")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--runs", type=int, default=200, help="create-and-wait runs (restore_job tasks)")
    parser.add_argument("--batch", type=int, default=25, help="runs per ansible-playbook run")
    parser.add_argument("--parallel", type=int, default=4, help="ansible-playbook runs side by side")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop starting batches after this, and stop running ones")
    parser.add_argument("--request-timeout", type=float, default=2.0)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds of the slow-answer faults (more than request_timeout)")
    parser.add_argument("--max-retries", type=int, default=6)
    parser.add_argument("--wait-timeout", type=int, default=600,
                        help="restore_job wait_timeout (settle windows of request_timeout + 30 s come out of it)")
    parser.add_argument("--token-ttl", type=float, default=6.0, help="OAuth token lifetime in the emulator")
    parser.add_argument("--verbosity", type=int, default=3, help="ansible-playbook -v count (the output is scanned for secrets)")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (playbooks, outputs, results)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 5000 or not 1 <= args.batch <= 500 or not 1 <= args.parallel <= 16:
        parser.error("--runs 1..5000, --batch 1..500, --parallel 1..16")
    if not 0 < args.max_minutes <= 120:
        parser.error("--max-minutes must be in (0, 120]")
    if args.delay <= args.request_timeout:
        parser.error("--delay must exceed --request-timeout (the slow answers must time out)")
    if not 0 <= args.verbosity <= 5:
        parser.error("--verbosity 0..5")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    spec = find_spec()
    info = machine()
    command = shlex.join(["python", "tools/soak.py"] + list(sys.argv[1:] if argv is None else argv))
    print(f"== atlasops.backup soak on {machine_line(info)}; seed {args.seed}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="atlasops-soak-"))
    try:
        # Atlas's rate and token limits raised: the soak is about faults (the limits have tests and bench cases of their own)
        with EmulatorProcess(spec=spec if spec else False, job_seconds=1.5, relaxed_limits=True) as emulator:
            workspace = Workspace(workdir, emulator.url)
            print(f"   emulator {emulator.url} (contract validation {'on' if spec else 'off'}); collections from "
                  f"{workspace.collections_source}; work directory {workdir}", flush=True)
            soak = Soak(emulator, workspace, args)
            soak.seed_data()
            report = soak.go()
            report["extra_job_case"] = soak.extra_job_case()
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    markdown = soak_markdown(report, command, info, args)
    print("\n" + markdown, flush=True)
    if report["violations"]:
        print("first contract violations:\n" + json.dumps(report["violations"][:5], indent=1), flush=True)
    if report["diagnostics"]:
        print("request logs of the runs that count against the verdict:\n" + "\n".join(report["diagnostics"][:400]), flush=True)
    if report["emulator_errors"]:
        print("emulator errors:\n" + "\n".join(report["emulator_errors"][:10]), flush=True)
    if args.write_docs:
        write_section("soak", markdown, "Fault-injection soak (`make soak`)")
        print(f"wrote {DOC.relative_to(REPO)}")
    bad = [(label, value) for label, value in verdicts(report) if value]
    for label, value in bad:
        print(f"FAIL: {label}: {value}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
