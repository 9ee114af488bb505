# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench, fleet part: the DR runbook over an inventory of N clusters against the emulator with Atlas's limits on.

For N clusters in one project (restore jobs of --job-seconds, --forks forks, a service account):
- the runbook over the inventory (every host starts its restore, the batch waits in one restore_job_wait task):
  wall time, the start phase per host, wall against the target (last start + D + one poll + 10 s);
- tokens issued and the peak of active tokens, token requests in the busiest minute;
- API requests in the busiest minute per project against Atlas's Cloud Backups bucket (1200, refill 500 a minute), 429s;
and two anchors in the same run: one restore alone (D), and N restore_job runs (no wait) followed by one
restore_job_info wait per job, the way a playbook without the fleet wait does it.

    python tools/bench_fleet.py [N ...] [--forks 5] [--job-seconds 30] [--write-docs]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import REPO, Workspace, machine, machine_line, write_section  # noqa: E402  pylint: disable=wrong-import-position
from harness import PROJECT, task  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.atlasops.backup.plugins.module_utils._waiter import interval_after  # noqa: E402  pylint: disable=wrong-import-position

SNAPSHOT_AT = "2026-11-20T06:00:00Z"
CLOUD_BACKUPS_BUCKET = (1200, 500)  # Atlas's per-project capacity and refill a minute (atlas-api-facts §8)


def peak_per_minute(times: list) -> int:
    """The most events in any 60 s window."""
    times, best, start = sorted(times), 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def phases(run) -> list:
    """Per task of the run, in order: (name, first start, last end, results) in seconds from the start of the run."""
    spans: dict = {}
    for entry in run.results:
        name = entry["task"].split(" : ")[-1]
        start, end = entry.get("start") or entry["end"], entry["end"]
        first, last, count = spans.get(name, (start, end, 0))
        spans[name] = (min(first, start), max(last, end), count + 1)
    return [(name, round(first - run.started, 1), round(last - run.started, 1), count)
            for name, (first, last, count) in sorted(spans.items(), key=lambda item: item[1][0])]


class FleetBench:
    def __init__(self, emulator: EmulatorProcess, workspace: Workspace, forks: int, job_seconds: float, budget: int | None = None):
        self.budget = budget  # restore_max_requests_per_minute, or None for the role's default
        self.admin = emulator.admin
        self.ws = workspace
        self.forks = forks
        self.job_seconds = job_seconds

    def seed(self, count: int) -> list:
        self.admin.reset()
        names = []
        for index in range(count):
            source = f"src{index:03d}"
            self.admin.add_cluster(PROJECT, source, job_seconds=self.job_seconds)
            self.admin.add_cluster(PROJECT, source + "-dr")
            self.admin.add_snapshots(PROJECT, source, snapshots=[{"created_at": SNAPSHOT_AT, "status": "completed"}])
            names.append(source)
        return names

    def env(self, tag: str) -> dict:
        tokens = self.ws.workdir / f"tokens-{tag}"
        tokens.mkdir(mode=0o700, exist_ok=True)
        return {"ATLASOPS_BACKUP_TOKEN_CACHE": str(tokens)}

    def accounting(self) -> dict:
        """Tokens, the busiest minute per project and of the token endpoint, and 429s, from the emulator."""
        log = self.admin.requests()
        by_project: dict = {}
        for entry in log:
            if entry.get("counted"):
                by_project.setdefault(entry["path"].split("/groups/")[1].split("/")[0], []).append(entry["time"])
        token_times = [entry["time"] for entry in log if entry.get("operation_id") == "oauth_token"]
        limits = self.admin.limits()
        return {"tokens": limits["tokens"], "token_requests": len(token_times), "token_requests_peak_minute": peak_per_minute(token_times),
                "requests": sum(len(times) for times in by_project.values()),
                "peak_minute_by_project": {project: peak_per_minute(times) for project, times in by_project.items()},
                "rate_limited": limits["rate_limited"]}

    def one_restore(self) -> float:
        """D: one cluster restored by the runbook, start to end."""
        (source,) = self.seed(1)
        run = self.ws.run(playbook="atlasops.backup.dr_restore", credentials="service_account", env=self.env("one"), timeout=900,
                          extra_vars={"restore_project_id": PROJECT, "restore_cluster_name": source,
                                      "restore_target_cluster_name": source + "-dr"})
        if run.rc != 0:
            raise SystemExit(f"one restore failed: {run.describe_failure()}")
        return run.wall

    def runbook(self, count: int) -> dict:
        names = self.seed(count)
        hosts = {name: {"restore_cluster_name": name, "restore_target_cluster_name": name + "-dr"} for name in names}
        inventory = self.ws.workdir / f"clusters{count}.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"atlas_clusters": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "restore_project_id": PROJECT},
            "hosts": hosts}}}}))
        run = self.ws.run(playbook="atlasops.backup.dr_restore", inventory=str(inventory), credentials="service_account",
                          env=self.env(f"runbook{count}"), args=("--forks", str(self.forks)), timeout=3600,
                          extra_vars=dict({"restore_hosts": "atlas_clusters"},
                                          **({"restore_max_requests_per_minute": self.budget} if self.budget else {})))
        starts = [entry["end"] for entry in run.results if entry["task"].endswith("Start the restore (or re-use the matching job) and wait for it")]
        completed = sum(1 for entry in run.results if entry["task"].endswith("Record the result")
                        and (entry["result"].get("ansible_facts", {}).get("restore_result", {}).get("restore_job") or {}).get("status")
                        == "completed")
        return dict(self.accounting(), hosts=count, rc=run.rc, wall=run.wall, completed=completed,
                    last_start=(max(starts) - run.started) if starts else None, start_per_host=((max(starts) - run.started) / count)
                    if starts else None, phases=phases(run))

    def module_loop(self, count: int) -> dict:
        """The anchor without the fleet wait: per cluster its snapshot and restore_job (no wait), then restore_job_info (wait) per job."""
        names = self.seed(count)
        looks = [task("snapshot_info", f"snapshot {name}", register=f"snap_{index}", project_id=PROJECT, cluster_name=name)
                 for index, name in enumerate(names)]
        starts = [task("restore_job", f"start {name}", register=f"started_{index}", project_id=PROJECT, cluster_name=name,
                       snapshot_id=f"{{{{ snap_{index}.snapshot.id }}}}", target_cluster_name=name + "-dr")
                  for index, name in enumerate(names)]
        waits = [task("restore_job_info", f"wait {name}", project_id=PROJECT, cluster_name=name,
                      job_id=f"{{{{ started_{index}.restore_job.id }}}}", wait=True, wait_timeout=900) for index, name in enumerate(names)]
        run = self.ws.run(looks + starts + waits, credentials="service_account", env=self.env(f"loop{count}"), timeout=3600)
        return dict(self.accounting(), hosts=count, rc=run.rc, wall=run.wall)


def markdown(rows: list, one: float, loop: dict | None, forks: int, job_seconds: float, command: str, info: dict) -> str:
    poll = interval_after(job_seconds)  # the poll interval of a job at the age it ends
    lines = [f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())}; {machine_line(info)}.",
             f"The emulator enforces Atlas's limits: Cloud Backups {CLOUD_BACKUPS_BUCKET[0]} requests, refilled "
             f"{CLOUD_BACKUPS_BUCKET[1]} a minute, per project; 50 token requests a minute; 100 active tokens. "
             f"Restore jobs of {job_seconds:g} s, {forks} forks, a service account, all clusters in one project.", "",
             f"One restore alone (the runbook, one host): D = {one:.1f} s.", "",
             "| clusters | wall (s) | × D | last start (s) | start per host (s) | target: last start + D + poll + 10 s | completed | "
             "tokens issued | peak active tokens | token requests, busiest minute | requests, busiest minute per project | 429s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        target = (row["last_start"] or 0) + one + poll + 10
        tokens = row["tokens"]
        lines.append(f"| {row['hosts']} | {row['wall']:.1f} | {row['wall'] / one:.2f} | {row['last_start'] or 0:.1f} | "
                     f"{row['start_per_host'] or 0:.2f} | {target:.1f} ({'met' if row['wall'] <= target else 'missed'}) | "
                     f"{row['completed']}/{row['hosts']} | {tokens.get('issued')} | {tokens.get('peak_active')} | "
                     f"{row['token_requests_peak_minute']} | {max(row['peak_minute_by_project'].values() or [0])} | "
                     f"{sum((row['rate_limited'] or {}).values()) if isinstance(row['rate_limited'], dict) else row['rate_limited']} |")
    if loop:
        lines += ["", f"Anchor without the fleet wait ({loop['hosts']} clusters: `restore_job` without wait per cluster, then "
                      f"`restore_job_info` with wait per job, one after the other): {loop['wall']:.1f} s ({loop['wall'] / one:.2f} × D), "
                      f"{loop['tokens'].get('issued')} tokens issued, peak {loop['tokens'].get('peak_active')} active, "
                      f"{max(loop['peak_minute_by_project'].values() or [0])} requests in the busiest minute."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[30, 100])
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--job-seconds", type=float, default=30.0)
    parser.add_argument("--no-anchor", action="store_true", help="skip the module-loop anchor")
    parser.add_argument("--budget", type=int, help="restore_max_requests_per_minute for the runbook (default: the role's, 100)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    info = machine()
    command = shlex.join(["python", "tools/bench_fleet.py"] + list(sys.argv[1:] if argv is None else argv))
    spec = find_spec()
    with tempfile.TemporaryDirectory(prefix="atlasops-bench-fleet-") as workdir, \
            EmulatorProcess(spec=spec if spec else False, job_seconds=args.job_seconds) as emulator:
        bench = FleetBench(emulator, Workspace(Path(workdir), emulator.url), args.forks, args.job_seconds, args.budget)
        one = bench.one_restore()
        print(f"== one restore: {one:.1f} s", flush=True)
        rows = []
        for count in args.counts:
            row = bench.runbook(count)
            print(f"== {count} clusters: {dict(row, phases=None)}", flush=True)
            for name, first, last, results in row["phases"]:
                print(f"   {first:7.1f} {last:7.1f}  {results:4d}  {name}", flush=True)
            rows.append(row)
        loop = None if args.no_anchor else bench.module_loop(min(args.counts))
        if loop:
            print(f"== module loop: {loop}", flush=True)
        violations = emulator.admin.violations()
    text = markdown(rows, one, loop, args.forks, args.job_seconds, command, info)
    print("\n" + text)
    if violations:
        print(f"{len(violations)} contract violations", file=sys.stderr)
    if args.write_docs:
        write_section("bench-fleet", text, "Fleet DR (`make bench`, fleet part)")
        print(f"wrote {(REPO / 'docs' / 'performance.md').relative_to(REPO)}")
    return 1 if violations or any(row["rc"] != 0 for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
