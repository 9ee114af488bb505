# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target of a restore: when Atlas's description of a cluster says the application can use it again.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations


def target_is_ready(cluster: dict) -> bool:
    """Whether a cluster description (ClusterBackup.cluster(), snake_case keys) is IDLE, not paused, nothing in progress."""
    return cluster.get("state_name") == "IDLE" and not cluster.get("paused")


def target_state(cluster: dict) -> str:
    """How the cluster stands, for messages: its state, and paused when it is."""
    state = str(cluster.get("state_name") or "unknown")
    return f"{state}, paused" if cluster.get("paused") else state
