# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make emulator: the bundled Atlas emulator in the foreground, to try runbooks without Atlas.

Starts it with the demo scenario (a project with prod-orders and dr-orders, and clusters of every backup family),
prints the base URL, the credentials as shell exports and how to seed more data, and stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "emulator"))

from atlas_emulator.contract import find_spec  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.control import (  # noqa: E402  pylint: disable=wrong-import-position
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY, DEMO_PROJECT_ID, EmulatorProcess,
)


def instructions(url: str) -> str:
    return f"""
Atlas emulator listening on {url} (demo scenario: project {DEMO_PROJECT_ID}, clusters prod-orders and dr-orders, ...)

Point the collection at it (an API key; a service account works too):

  export MONGODB_ATLAS_BASE_URL={url}
  export MONGODB_ATLAS_PUBLIC_API_KEY={DEFAULT_PUBLIC_KEY}
  export MONGODB_ATLAS_PRIVATE_API_KEY={DEFAULT_PRIVATE_KEY}
  # or: export MONGODB_ATLAS_CLIENT_ID={DEFAULT_CLIENT_ID} MONGODB_ATLAS_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}

Seed your own project, clusters and snapshots (admin API, no auth):

  curl -s -X POST {url}/_emulator/projects -d '{{"id": "65a1b2c3d4e5f6a7b8c9d0e1"}}'
  curl -s -X POST {url}/_emulator/clusters -d '{{"project_id": "65a1b2c3d4e5f6a7b8c9d0e1", "name": "shop", "type": "dedicated"}}'
  curl -s -X POST {url}/_emulator/clusters -d '{{"project_id": "65a1b2c3d4e5f6a7b8c9d0e1", "name": "shop-dr", "type": "dedicated"}}'
  curl -s -X POST {url}/_emulator/snapshots \\
    -d '{{"project_id": "65a1b2c3d4e5f6a7b8c9d0e1", "cluster_name": "shop", "count": 4, "every_hours": 6}}'

Then run a runbook against it (from the repository, with the venv `make` created):

  ANSIBLE_COLLECTIONS_PATH=.build/collections .venv/bin/ansible-playbook -i localhost, atlasops.backup.dr_restore \\
    -e restore_project_id=65a1b2c3d4e5f6a7b8c9d0e1 -e restore_cluster_name=shop -e restore_target_cluster_name=shop-dr

Ctrl-C stops the emulator (its data lives in memory only).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8710, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--job-seconds", type=float, default=20.0, help="how long an emulated restore takes")
    args = parser.parse_args()
    spec = find_spec()
    stop = []
    # Ctrl-C (SIGINT, set explicitly: a shell that starts this in the background ignores it) and SIGTERM both stop it.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.append(True))
    with EmulatorProcess(spec=spec if spec else False, scenario="demo", job_seconds=args.job_seconds, port=args.port) as emulator:
        print(instructions(emulator.url), flush=True)
        if not spec:
            print("(the official OpenAPI subset was not found: the emulator does not check exchanges against it)", flush=True)
        while not stop and emulator.process.poll() is None:
            time.sleep(0.3)
        print("\nstopping the Atlas emulator", flush=True)
        if emulator.process.poll() not in (None, 0):
            print(emulator.stderr(), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
