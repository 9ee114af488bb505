# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing snapshots: the options of a look-up, checked before any request, and the filter over a list.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

from ansible_collections.atlasops.backup.plugins.module_utils._time import parse_atlas_time, parse_point_in_time
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError, check_hex24


def check_sharded(sharded: bool, cluster_type: str) -> None:
    if sharded and cluster_type != "dedicated":
        raise InvalidInputError(f"sharded applies to dedicated clusters only, not to cluster_type {cluster_type}")


def parse_before(name: str, value) -> float | None:
    """A snapshot time limit as epoch seconds (None when not given)."""
    if value is None:
        return None
    # it only filters what Atlas lists: a fraction of a second is fine there
    return parse_point_in_time(name, value, allow_future=True, whole_seconds=False)


def list_query(cluster_type: str, completed_only: bool) -> dict | None:
    """The query of the snapshot list: the legacy list leaves incomplete snapshots out unless asked for them."""
    if cluster_type != "legacy":
        return None
    return {"completed": "true" if completed_only else "all"}


def check_snapshot_options(params: dict) -> float | None:
    """Refuse what the cluster type does not have; return `before` as epoch seconds (or None)."""
    cluster_type = params["cluster_type"]
    check_hex24("snapshot_id", params["snapshot_id"])
    check_sharded(params["sharded"], cluster_type)
    if params["snapshot_type"] and cluster_type in ("flex", "legacy"):
        raise InvalidInputError(f"{cluster_type} snapshots have no type: leave snapshot_type out")
    if params["snapshot_type"] == "fallback" and cluster_type != "dedicated":
        raise InvalidInputError("only dedicated clusters have fallback snapshots")
    return parse_before("before", params["before"])


def select(snapshots, *, completed_only: bool, snapshot_type: str | None, before: float | None) -> list:
    """The snapshot views that pass the filters, newest first."""
    chosen = []
    for view in snapshots:
        taken = parse_atlas_time(view.get("taken_at"))
        if completed_only and view["status"] != "completed":
            continue
        if snapshot_type and view.get("snapshot_type") != snapshot_type:
            continue
        if before is not None and (taken is None or taken > before):
            continue
        if taken is None:
            # Atlas gives no time to a snapshot it is still taking: the newest of all; any other without one: the oldest.
            taken = float("inf") if view["status"] in ("pending", "in_progress") else float("-inf")
        chosen.append((taken, view))
    chosen.sort(key=lambda pair: pair[0], reverse=True)
    return [view for dummy, view in chosen]
