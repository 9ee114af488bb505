# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make demo: a disaster-recovery restore, end to end, against the bundled Atlas emulator.

Starts the emulator seeded with a project, a production cluster with snapshots and a DR target, runs
the collection's runbook playbook (atlasops.backup.dr_restore): first as is, which refuses because the DR
cluster already received a restore from prod-orders a day ago (it may hold live data by now); then with
restore_force=true, which restores the latest good snapshot into it and waits; then once more, to show that
a re-run re-uses the finished job and starts nothing new.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import CREDENTIAL_ENV, atlas_env  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import DEMO_PROJECT_ID, EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-seconds", type=float, default=8.0, help="how long the emulated restore takes")
    parser.add_argument("--snapshot-before", default="", help="restore the newest completed snapshot at or before this time")
    args = parser.parse_args()
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    spec = find_spec()
    print(f"== Atlas emulator ({'validating every exchange against ' + str(spec) if spec else 'OpenAPI subset not found: no contract checks'})")
    with EmulatorProcess(spec=spec if spec else False, scenario="demo", job_seconds=args.job_seconds) as emulator:
        print(f"   listening on {emulator.url}; project {DEMO_PROJECT_ID}: prod-orders (source), dr-orders (target)\n")
        # the emulator's credentials only, whatever Atlas credentials this shell holds
        env = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_ENV}
        env.update(ANSIBLE_NOCOLOR=os.environ.get("ANSIBLE_NOCOLOR", "0"), ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_PYTHON_INTERPRETER=sys.executable, **atlas_env(emulator.url))
        extra = ["-e", f"restore_project_id={DEMO_PROJECT_ID}", "-e", "restore_cluster_name=prod-orders",
                 "-e", "restore_target_cluster_name=dr-orders"]
        if args.snapshot_before:
            extra += ["-e", f"restore_snapshot_before={args.snapshot_before}"]
        command = [str(playbook_bin), "atlasops.backup.dr_restore", "-i", "localhost,"] + extra
        steps = (("Restore the latest good snapshot of prod-orders into dr-orders: refused, dr-orders was restored a day ago",
                  [], False),
                 ("Restore over it on purpose (restore_force=true), and wait", ["-e", "restore_force=true"], True),
                 ("Run the runbook again: the finished job is re-used, nothing new starts", [], True))
        for title, more, must_pass in steps:
            print(f"== {title}\n   $ {' '.join(command[1:] + more)}")
            started = time.monotonic()
            passed = subprocess.run(command + more, env=env, check=False).returncode == 0
            if passed != must_pass:
                print("demo failed: see the playbook output above", file=sys.stderr)
                return 1
            print(f"   ({time.monotonic() - started:.1f} s{'' if passed else ', failed as it should'})\n")
        writes = [entry for entry in emulator.admin.requests() if entry.get("counted") and entry["method"] != "GET"]
        violations = emulator.admin.violations()
        print(f"== Atlas saw {len(writes)} write request(s) in all three runs together, and {len(violations)} contract violation(s)")
        return 0 if len(writes) == 1 and not violations else 1


if __name__ == "__main__":
    sys.exit(main())
