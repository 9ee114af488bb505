"""Seed data sets: ``empty`` and ``demo``."""

from __future__ import annotations

import time

from .state import StateError

DEMO_PROJECT_ID = "5f1a2b3c4d5e6f7a8b9c0d1e"
DEMO_JOB_SECONDS = 4.0
SCENARIOS = ("empty", "demo")


def load(app, name, job_seconds=None):
    """Replace the data of ``app`` by the named scenario (configuration and credentials are kept)."""
    if name not in SCENARIOS:
        raise StateError("unknown scenario %r (known: %s)" % (name, ", ".join(SCENARIOS)))
    app.state.reset()
    if name == "demo":
        app.config["job_seconds"] = float(job_seconds) if job_seconds is not None else DEMO_JOB_SECONDS
        seed_demo(app.state)
    elif job_seconds is not None:
        app.config["job_seconds"] = float(job_seconds)


def seed_demo(state, now=None):
    now = time.time() if now is None else now
    pid = DEMO_PROJECT_ID
    state.add_project(pid)
    for name, kind in (("prod-orders", "dedicated"), ("dr-orders", "dedicated"), ("flex-catalog", "flex"),
                       ("flex-catalog-dr", "flex"), ("sls-events", "serverless"), ("sls-events-dr", "serverless"),
                       ("legacy-billing", "legacy"), ("legacy-billing-dr", "legacy")):
        state.add_cluster(pid, name, kind)

    # prod-orders: 10 completed scheduled snapshots every 6 h up to now, one failed, one in progress (the newest)
    newest_done = now - 1800.0
    specs = [{"created_at": newest_done - i * 6 * 3600.0, "status": "completed", "snapshot_type": "scheduled"}
             for i in range(10)]
    specs.append({"created_at": newest_done - 3 * 3600.0, "status": "failed", "snapshot_type": "on_demand",
                  "description": "on-demand snapshot before the schema migration"})
    specs.append({"created_at": now - 300.0, "status": "in_progress", "snapshot_type": "scheduled"})
    dummy, prod_snaps = state.add_snapshots(pid, "prod-orders", specs)
    completed = sorted((s for s in prod_snaps if s.status == "completed"), key=lambda s: s.created)

    for name in ("flex-catalog", "sls-events", "legacy-billing"):
        state.add_snapshots(pid, name, count=3, every_hours=24, newest=now - 3600.0)

    # a few historical restore jobs on prod-orders
    state.seed_jobs(pid, "prod-orders", count=1, delivery_type="automated", snapshot_id=completed[-5].id,
                    target_cluster_name="dr-orders", target_project_id=pid, state="completed", created_at=now - 26 * 3600.0,
                    job_seconds=1800.0)
    state.seed_jobs(pid, "prod-orders", count=1, delivery_type="automated", snapshot_id=completed[-3].id,
                    target_cluster_name="dr-orders", target_project_id=pid, state="failed", created_at=now - 14 * 3600.0,
                    job_seconds=1800.0)
    state.seed_jobs(pid, "prod-orders", count=1, delivery_type="download", snapshot_id=completed[-2].id,
                    state="completed", created_at=now - 8 * 3600.0, job_seconds=900.0)
    return pid
