"""Command line: ``python -m atlas_emulator [--host H] [--port P] [--spec PATH | --no-spec] ...``."""

from __future__ import annotations

import argparse
import copy
import json
import signal
import sys
import threading

from . import scenarios
from .contract import find_spec, load_contract, spec_file
from .server import RELAXED_LIMITS, EmulatorApp, make_server


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="atlas_emulator", description="MongoDB Atlas Admin API v2 emulator (restore jobs, snapshots)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--spec", help="the OpenAPI subset (a file, or a directory holding atlas-restore-subset.yaml)")
    group.add_argument("--no-spec", action="store_true", help="run without contract validation")
    parser.add_argument("--scenario", choices=scenarios.SCENARIOS, default="empty", help="seed data")
    parser.add_argument("--job-seconds", type=float, default=None, help="restore job duration (default 3, demo 4)")
    parser.add_argument("--token-ttl", type=float, default=None, help="OAuth access token lifetime in seconds (default 3600)")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for probabilistic fault rules")
    parser.add_argument("--config", type=json.loads, default=None, help="start-up config as JSON (README, Configuration)")
    parser.add_argument("--relaxed-limits", action="store_true", help="rate and token limits far above any test's needs")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request line to stderr")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        sys.stderr.write("atlas_emulator: refusing to bind %s; only 127.0.0.1 is allowed\n" % args.host)
        return 2
    contract = None
    if not args.no_spec:
        if args.spec:
            spec_path = spec_file(args.spec)
            if spec_path is None:
                sys.stderr.write("atlas_emulator: spec not found: %s\n" % args.spec)
                return 2
        else:
            spec_path = find_spec()
        if spec_path is None:
            sys.stderr.write("atlas_emulator: official OpenAPI subset not found (set ATLAS_OPENAPI_SPEC or place "
                             "../shared/atlas-openapi beside the repo): running WITHOUT contract validation\n")
        else:
            try:
                contract = load_contract(spec_path)
            except ImportError as exc:
                sys.stderr.write("atlas_emulator: contract validation disabled, missing package: %s\n" % exc)
            else:
                sys.stderr.write("atlas_emulator: contract validation against %s (%d operations)\n"
                                 % (spec_path, len(contract.operations)))
    else:
        sys.stderr.write("atlas_emulator: --no-spec: running WITHOUT contract validation\n")

    defaults = {}
    if args.job_seconds is not None:
        defaults["job_seconds"] = args.job_seconds
    if args.token_ttl is not None:
        defaults["token_ttl"] = args.token_ttl
    if args.fault_seed is not None:
        defaults["fault_seed"] = args.fault_seed
    app = EmulatorApp(contract=contract, defaults=defaults, verbose=args.verbose)
    try:
        app.configure(dict(RELAXED_LIMITS) if args.relaxed_limits else {})
        app.configure(dict(args.config or {}))
    except ValueError as exc:
        sys.stderr.write("atlas_emulator: bad --config: %s\n" % exc)
        return 2
    app.defaults = copy.deepcopy(app.config)  # what POST /_emulator/reset returns to
    if args.scenario != "empty":
        scenarios.load(app, args.scenario, job_seconds=args.job_seconds)
        app.defaults["job_seconds"] = app.config["job_seconds"]

    server = make_server(app, "127.0.0.1", args.port)
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="atlas-emulator", daemon=True)
    thread.start()
    port = server.server_address[1]
    print("ATLAS_EMULATOR_URL=http://127.0.0.1:%d" % port, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
