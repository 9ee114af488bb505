# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A snapshot chosen by policy (the newest completed one, or the newest at or before a time), and what a re-run does.

When the snapshot is chosen by policy, a newer one may exist by the time a runbook is re-run. So before it
chooses, a run looks for an earlier restore of this source into this target (same delivery type, same target
project): one still running whose snapshot meets the selection is attached to; one completed within the re-use
window is re-used; any other is refused (the target may hold live data by now), and only force restores again.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.atlasops.backup.plugins.module_utils._snapshots import select
from ansible_collections.atlasops.backup.plugins.module_utils._time import iso_utc, parse_atlas_time
from ansible_collections.atlasops.backup.plugins.module_utils._views import TERMINAL_JOB_STATUSES, UNSUCCESSFUL_JOB_STATUSES

# What a run does: start a restore of the chosen snapshot, attach to or re-use the earlier one, or refuse.
NEW, ATTACH, REUSE = "new", "attach", "reuse"
REFUSE_RUNNING, REFUSE_OLD, NO_SNAPSHOT = "refuse_running", "refuse_old", "no_snapshot"
REFUSALS = (REFUSE_RUNNING, REFUSE_OLD, NO_SNAPSHOT)


@dataclass(frozen=True)
class SnapshotPolicy:
    """The selection: the newest completed snapshot, at or before `before` (epoch seconds) when given."""

    before: float | None
    reuse_window: int  # seconds a completed earlier restore is re-used

    def describe(self) -> str:
        return f"at or before {iso_utc(self.before)}" if self.before is not None else "the newest completed one"


@dataclass
class Selection:
    action: str
    snapshot: dict | None = None  # the snapshot restored (the chosen one, or the earlier restore's)
    job: dict | None = None  # the earlier restore
    age_seconds: int | None = None  # how long ago the earlier restore completed
    satisfies: bool | None = None  # whether the earlier restore's snapshot meets the selection

    @property
    def snapshot_id(self) -> str | None:
        if self.action in (ATTACH, REUSE):
            return self.job.get("snapshot_id")
        return self.snapshot["id"] if self.snapshot else None

    def as_result(self) -> dict:
        return {"action": self.action, "job": self.job, "age_seconds": self.age_seconds, "satisfies": self.satisfies,
                "snapshot_id": self.snapshot_id}


def earlier_restore(jobs: list, request) -> dict | None:
    """The newest job of this source, delivery type and target that did not fail, was not cancelled and has not expired."""
    for job in jobs:
        if job.get("delivery_type") != request.delivery_type or job.get("status") in UNSUCCESSFUL_JOB_STATUSES:
            continue
        if request.delivery_type == "download":
            return job
        target_project = job.get("target_project_id")
        if job.get("target_cluster_name") == request.target_cluster_name and target_project in (None, request.target_project):
            return job
    return None


def decide(request, policy: SnapshotPolicy, jobs: list, snapshots, *, now: float) -> Selection:
    """What this run does. jobs: the source's jobs, newest first; snapshots: the source's snapshot views."""
    allowed = select(snapshots, completed_only=True, snapshot_type=None, before=policy.before)
    job = earlier_restore(jobs, request)
    if job is None:
        return Selection(NEW, snapshot=allowed[0]) if allowed else Selection(NO_SNAPSHOT)
    own = next((view for view in allowed if view.get("id") == job.get("snapshot_id")), None)
    # "the newest completed" is met by any snapshot; a time by one taken at or before it
    satisfies = policy.before is None or own is not None
    if job.get("status") not in TERMINAL_JOB_STATUSES:
        return Selection(ATTACH if satisfies else REFUSE_RUNNING, snapshot=own, job=job, satisfies=satisfies)
    ended = parse_atlas_time(job.get("finished_at") or job.get("created_at"))  # the views normalize each family's end
    age = int(now - ended) if ended is not None else None
    reusable = satisfies and age is not None and age <= policy.reuse_window
    return Selection(REUSE if reusable else REFUSE_OLD, snapshot=own, job=job, age_seconds=age, satisfies=satisfies)


def refusal_message(selection: Selection, request, policy: SnapshotPolicy) -> str:
    """Why nothing was sent, in the module's own option names."""
    source = f"cluster {request.cluster_name} in project {request.project_id}"
    if selection.action == NO_SNAPSHOT:
        when = f" {policy.describe()}" if policy.before is not None else ""
        return f"no completed snapshot of {source} exists{when}: nothing was sent to Atlas"
    job = selection.job
    state = f"completed {job.get('finished_at') or 'at an unknown time'}" if job.get("status") == "completed" else job.get("status")
    target = "as a download" if request.delivery_type == "download" else f"into {request.target_cluster_name}"
    why = (f"it completed {selection.age_seconds} s ago, longer ago than reuse_window={policy.reuse_window} s"
           if selection.satisfies else f"its snapshot was not taken {policy.describe()}")
    return (f"restore job {job['id']} (started {job.get('created_at')}, {state}) already restored snapshot {job.get('snapshot_id')} "
            f"of {source} {target}, and {why}. The target may hold live data by now, so this run does not restore over it: "
            "nothing was sent to Atlas. Set force: true to start a new restore anyway"
            + (f" (once job {job['id']} has finished: Atlas refuses a second restore into a target being restored)"
               if selection.action == REFUSE_RUNNING else ""))
