# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Figures of a fleet run against the emulator with Atlas's limits on: N hosts start their restores (forks at a time),
one restore_job_wait waits for them all. Prints wall time, start phase, tokens, requests per minute per project, 429s.

    python tests/functional/fleet_figures.py [N ...] [--forks 5] [--job-seconds 30] [--projects 1] [--budget 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import PROJECT, Playbooks  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position

from test_fleet import SNAPSHOT_AT, fleet_playbook, write_inventory  # noqa: E402  pylint: disable=wrong-import-position


def peak_per_minute(times: list) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def measure(emulator, workdir: Path, count: int, forks: int, job_seconds: float, projects: int, budget: int | None) -> dict:
    emulator.reset()
    workdir = workdir / f"fleet{count}-{budget or 'default'}"
    workdir.mkdir()
    hosts = {}
    project_ids = [PROJECT] + [f"{index + 1:02x}" + PROJECT[2:] for index in range(projects - 1)]
    for index in range(count):
        project = project_ids[index % projects]
        source = f"src{index}"
        emulator.add_cluster(project, source, job_seconds=job_seconds)
        emulator.add_cluster(project, source + "-dr")
        (snapshot,) = emulator.add_snapshots(project, source, snapshots=[{"created_at": SNAPSHOT_AT, "status": "completed"}])
        hosts[f"cluster{index}"] = {"source_project": project, "source": source, "target": source + "-dr", "snapshot": snapshot["id"]}
    playbooks = Playbooks(emulator.url, workdir)
    token_dir = workdir / "tokens"
    token_dir.mkdir(mode=0o700, exist_ok=True)
    inventory = write_inventory(workdir / f"clusters{count}.yml", hosts)
    run = playbooks.run(playbook=fleet_playbook(workdir / f"fleet{count}.yml", budget=budget), credentials="service_account",
                        env={"ATLASOPS_BACKUP_TOKEN_CACHE": str(token_dir)}, args=("-i", str(inventory), "--forks", str(forks)),
                        timeout=3600)
    if run.rc != 0:
        raise SystemExit(run.describe_failure())
    waited = run.ok("wait")
    log = emulator.requests()
    api = [entry for entry in log if entry.get("counted")]
    token_calls = [entry for entry in log if entry.get("operation_id") == "oauth_token"]
    by_project: dict = {}
    for entry in api:
        by_project.setdefault(entry["path"].split("/groups/")[1].split("/")[0], []).append(entry["time"])
    limits = emulator.limits()
    start_phase = run.wall - waited["waited_seconds"]
    return {
        "hosts": count, "forks": forks, "max_requests_per_minute": budget or 100, "job_seconds": job_seconds, "wall_seconds": round(run.wall, 1),
        "waited_seconds": waited["waited_seconds"], "start_phase_seconds_per_host": round(start_phase / count, 3),
        "completed": waited["summary"]["completed"], "tokens": limits["tokens"], "token_requests": len(token_calls),
        "token_requests_peak_per_minute": peak_per_minute([entry["time"] for entry in token_calls]),
        "api_requests": len(api), "peak_requests_per_minute_by_project": {p: peak_per_minute(t) for p, t in by_project.items()},
        "rate_limited_by_project": limits["rate_limited"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[30])
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--job-seconds", type=float, default=30.0)
    parser.add_argument("--projects", type=int, default=1)
    parser.add_argument("--budget", type=int, default=None, help="max_requests_per_minute (default: the module's, 100)")
    options = parser.parse_args()
    spec = find_spec()
    with EmulatorProcess(spec=spec if spec else False, job_seconds=options.job_seconds) as process, \
            tempfile.TemporaryDirectory(prefix="fleet-figures-") as workdir:
        for count in options.counts:
            print(json.dumps(measure(process.admin, Path(workdir), count, options.forks, options.job_seconds, options.projects,
                                     options.budget)),
                  flush=True)


if __name__ == "__main__":
    main()
