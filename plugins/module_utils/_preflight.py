# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight checks of a restore: Atlas's documented restore rules, judged before the create request.

The checks are pure functions over the facts (cluster descriptions, the backup schedule, the snapshot), each
returning one row {check, ok, detail, values}: ok is True (the rule holds, or does not apply), False (the rule is
broken: the restore would fail) or None (the facts could not be read, or the check was skipped). read_facts is
the one function here that sends requests: a few GETs, none of them a write.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._time import iso_utc, parse_atlas_time
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError

# Every check, in the order the rows are returned (preflight_skip takes these names).
CHECKS = (
    "target_exists", "target_not_paused", "target_not_deleting", "mongodb_version", "feature_compatibility_version",
    "sharded_target", "shard_count", "config_server_type", "database_edition", "encryption_at_rest",
    "source_backup_enabled", "continuous_backup", "pit_window", "snapshot_age",
)
SHARDED_TYPES = ("SHARDED", "GEOSHARDED")
SKIPPED = "skipped: named in preflight_skip"
_LINE = re.compile(r"^\s*v?(\d+)\.(\d+)")


def check_options(skip, max_snapshot_age) -> tuple:
    """preflight_skip and max_snapshot_age, checked before any request."""
    names = [str(name).strip() for name in (skip or [])]
    unknown = sorted({name for name in names if name not in CHECKS})
    if unknown:
        raise InvalidInputError(f"preflight_skip names no check {', '.join(unknown)}: the checks are {', '.join(CHECKS)}")
    if max_snapshot_age is not None and max_snapshot_age < 0:
        raise InvalidInputError("max_snapshot_age must not be negative (0 means no limit)")
    return tuple(names)


@dataclass
class Facts:
    """What the checks judge: each description as read (snake_case keys), or None with the reason it could not be read."""

    delivery_type: str
    source_name: str
    target_name: str | None = None
    source: dict | None = None
    source_error: str | None = None
    target: dict | None = None
    target_error: str | None = None
    target_missing: bool = False
    target_type: str = "dedicated"
    source_type: str = "dedicated"
    snapshot_id: str | None = None
    snapshot: dict | None = None
    snapshot_error: str | None = None
    snapshot_missing: bool = False  # Atlas answered 404
    schedule: dict | None = None
    schedule_error: str | None = None
    point_in_time: float | None = None  # epoch seconds
    max_snapshot_age: int = 0
    now: float = field(default_factory=time.time)


def row(check: str, ok, detail: str, **values) -> dict:
    return {"check": check, "ok": ok, "detail": detail, "values": values}


def release_line(version) -> tuple | None:
    """(major, minor) of 8.0.4, 8.0 or v7.0.14-rc1; None when it is no version."""
    match = _LINE.match(str(version)) if version is not None else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def shown_line(line) -> str | None:
    return f"{line[0]}.{line[1]}" if line else None


def is_sharded_cluster(cluster: dict | None) -> bool | None:
    if cluster is None:
        return None
    return cluster.get("cluster_type") in SHARDED_TYPES


# --- the facts, per side ------------------------------------------------------------------------

def _cluster_line(cluster: dict) -> tuple | None:
    return release_line(cluster.get("mongo_db_major_version")) or release_line(cluster.get("mongo_db_version"))


def snapshot_line(facts: Facts) -> tuple:
    """(line, where it comes from): the snapshot's own mongod version when it has one, else the source cluster's."""
    if facts.snapshot:
        line = release_line(facts.snapshot.get("mongod_version") or facts.snapshot.get("mongo_db_version"))
        if line:
            return line, f"snapshot {facts.snapshot_id}"
    if facts.source:
        line = _cluster_line(facts.source)
        if line:
            return line, f"source cluster {facts.source_name}"
    return None, None


def snapshot_sharded(facts: Facts) -> bool | None:
    """Whether what is restored is a sharded cluster's: the snapshot says so when it can, else the source cluster."""
    if facts.snapshot:
        if facts.snapshot.get("type") == "shardedCluster" or facts.snapshot.get("members"):
            return True
        if facts.snapshot.get("type") == "replicaSet":
            return False
    return is_sharded_cluster(facts.source)


def snapshot_shards(facts: Facts) -> tuple:
    """(shard count, where it comes from): the snapshot's shard members (config servers left out), else the source's shards."""
    members = (facts.snapshot or {}).get("members")
    if isinstance(members, list) and members:
        shards = [member for member in members if "config" not in str((member or {}).get("replica_set_name", "")).lower()]
        return len(shards), f"snapshot {facts.snapshot_id}"
    specs = (facts.source or {}).get("replication_specs")
    if isinstance(specs, list) and specs:
        return len(specs), f"source cluster {facts.source_name}"
    return None, None


def _target_shards(target: dict):
    specs = target.get("replication_specs")
    return len(specs) if isinstance(specs, list) and specs else None


def _backup_enabled(cluster: dict):
    if "backup_enabled" in cluster:
        return cluster.get("backup_enabled")
    settings = cluster.get("backup_settings")
    return settings.get("enabled") if isinstance(settings, dict) else None


# --- the checks ---------------------------------------------------------------------------------

def _no_target(facts: Facts, check: str) -> dict | None:
    """The row of a check of the target when there is none to judge (a download, an unreadable or missing target)."""
    if facts.delivery_type == "download":
        return row(check, True, "not applicable: a download restores into no cluster")
    if facts.target_missing and check != "target_exists":
        return row(check, None, f"not judged: target cluster {facts.target_name} does not exist")
    if facts.target is None:
        return row(check, None, f"could not read target cluster {facts.target_name}: {facts.target_error}")
    return None


def _unread_source(facts: Facts, check: str) -> dict:
    return row(check, None, f"could not read source cluster {facts.source_name}: {facts.source_error}")


def check_target_exists(facts: Facts) -> dict:
    if facts.delivery_type == "download":
        return row("target_exists", True, "not applicable: a download restores into no cluster")
    if facts.target_missing:
        return row("target_exists", False, f"target cluster {facts.target_name} does not exist", target=facts.target_name)
    if facts.target is None:
        return row("target_exists", None, f"could not read target cluster {facts.target_name}: {facts.target_error}")
    return row("target_exists", True, f"target cluster {facts.target_name} exists ({facts.target_type})", target=facts.target_name)


def check_target_not_paused(facts: Facts) -> dict:
    early = _no_target(facts, "target_not_paused")
    if early:
        return early
    paused = facts.target.get("paused")
    if paused is None:
        return row("target_not_paused", True, f"Atlas reports no pause for target cluster {facts.target_name} ({facts.target_type})")
    if paused:
        return row("target_not_paused", False, f"target cluster {facts.target_name} is paused: resume it first", paused=True)
    return row("target_not_paused", True, f"target cluster {facts.target_name} is not paused", paused=False)


def check_target_not_deleting(facts: Facts) -> dict:
    early = _no_target(facts, "target_not_deleting")
    if early:
        return early
    state = facts.target.get("state_name")
    if state == "DELETING":
        return row("target_not_deleting", False, f"target cluster {facts.target_name} is being deleted (state DELETING)", state=state)
    return row("target_not_deleting", True, f"target cluster {facts.target_name} is {state or 'in an unreported state'}", state=state)


def check_mongodb_version(facts: Facts) -> dict:
    early = _no_target(facts, "mongodb_version")
    if early:
        return early
    line, origin = snapshot_line(facts)
    target_line = _cluster_line(facts.target)
    if line is None:
        return _unread_source(facts, "mongodb_version") if facts.source is None else \
            row("mongodb_version", None, "not judged: neither the snapshot nor the source cluster reports a MongoDB version")
    if target_line is None:
        return row("mongodb_version", None, f"not judged: target cluster {facts.target_name} reports no MongoDB version",
                   snapshot=shown_line(line))
    values = dict(snapshot=shown_line(line), target=shown_line(target_line))
    same_or_newer = target_line[0] == line[0] and target_line[1] >= line[1]
    if same_or_newer or target_line[0] == line[0] + 1:
        return row("mongodb_version", True, f"MongoDB {shown_line(line)} ({origin}) restores into {shown_line(target_line)} "
                   f"(target cluster {facts.target_name})", **values)
    return row("mongodb_version", False, f"MongoDB {shown_line(line)} ({origin}) cannot be restored into MongoDB "
               f"{shown_line(target_line)} (target cluster {facts.target_name}): the target must run the same release line or "
               "the next one, never an older one", **values)


def check_feature_compatibility_version(facts: Facts) -> dict:
    check = "feature_compatibility_version"
    early = _no_target(facts, check)
    if early:
        return early
    fcv = facts.target.get("feature_compatibility_version")
    fcv_line = release_line(fcv)
    # An FCV below the binary's line is a pin too, even where Atlas leaves out the expiration date.
    pinned = bool(facts.target.get("feature_compatibility_version_expiration_date")) or \
        (fcv_line is not None and fcv_line != _cluster_line(facts.target))
    if not pinned:
        return row(check, True, f"target cluster {facts.target_name} has no pinned feature compatibility version",
                   target=fcv, pinned=False)
    line, origin = snapshot_line(facts)
    if line is None:
        return _unread_source(facts, check) if facts.source is None else \
            row(check, None, "not judged: neither the snapshot nor the source cluster reports a MongoDB version", target=fcv)
    values = dict(snapshot=shown_line(line), target=fcv, pinned=True)
    if fcv_line == line:
        return row(check, True, f"the pinned FCV {fcv} of target cluster {facts.target_name} matches MongoDB {shown_line(line)} "
                   f"({origin})", **values)
    return row(check, False, f"target cluster {facts.target_name} has its feature compatibility version pinned at {fcv}, which "
               f"does not match MongoDB {shown_line(line)} ({origin})", **values)


def check_sharded_target(facts: Facts) -> dict:
    early = _no_target(facts, "sharded_target")
    if early:
        return early
    sharded = snapshot_sharded(facts)
    target_sharded = is_sharded_cluster(facts.target)
    values = dict(snapshot="sharded" if sharded else "replica set", target=facts.target.get("cluster_type"))
    if sharded is None:
        return _unread_source(facts, "sharded_target")
    if sharded and not target_sharded:
        return row("sharded_target", False, f"a sharded cluster's snapshot cannot be restored into a replica set (target cluster "
                   f"{facts.target_name} is {facts.target.get('cluster_type') or 'a replica set'})", **values)
    return row("sharded_target", True, f"{values['snapshot']} into {values['target'] or 'an unreported topology'}", **values)


def check_shard_count(facts: Facts) -> dict:
    early = _no_target(facts, "shard_count")
    if early:
        return early
    sharded = snapshot_sharded(facts)
    if sharded is None:
        return _unread_source(facts, "shard_count")
    if not sharded or not is_sharded_cluster(facts.target):
        return row("shard_count", True, "not applicable: not a sharded snapshot into a sharded cluster")
    count, origin = snapshot_shards(facts)
    target_count = _target_shards(facts.target)
    if count is None or target_count is None:
        return row("shard_count", None, "not judged: the shard count of the snapshot or of the target is not reported",
                   snapshot=count, target=target_count)
    values = dict(snapshot=count, target=target_count)
    if count == target_count:
        return row("shard_count", True, f"{count} shards ({origin}) into {target_count} shards", **values)
    return row("shard_count", False, f"the snapshot has {count} shards ({origin}) but target cluster {facts.target_name} has "
               f"{target_count}: a sharded snapshot restores only into the same number of shards", **values)


def check_config_server_type(facts: Facts) -> dict:
    check = "config_server_type"
    early = _no_target(facts, check)
    if early:
        return early
    sharded = snapshot_sharded(facts)
    if sharded is None:
        return _unread_source(facts, check)
    if not sharded or not is_sharded_cluster(facts.target):
        return row(check, True, "not applicable: not a sharded snapshot into a sharded cluster")
    kind = (facts.snapshot or {}).get("config_server_type")
    origin = f"snapshot {facts.snapshot_id}"
    if not kind:
        kind, origin = (facts.source or {}).get("config_server_type"), f"source cluster {facts.source_name}"
    target_kind = facts.target.get("config_server_type")
    values = dict(snapshot=kind, target=target_kind)
    if not kind or not target_kind:
        return row(check, True, "Atlas reports no config-server type for the snapshot or the target", **values)
    if kind == target_kind:
        return row(check, True, f"{kind} config server ({origin}) into {target_kind}", **values)
    return row(check, False, f"the snapshot has a {kind} config server ({origin}) but target cluster {facts.target_name} has a "
               f"{target_kind} one: a sharded snapshot restores only into the same config-server type", **values)


def _same_fact(facts: Facts, check: str, key: str, what: str, rule: str) -> dict:
    early = _no_target(facts, check)
    if early:
        return early
    if facts.source is None:
        return _unread_source(facts, check)
    mine, theirs = facts.source.get(key), facts.target.get(key)
    values = dict(source=mine, target=theirs)
    if mine is None or theirs is None:
        return row(check, True, f"Atlas reports no {what} for source cluster {facts.source_name} or target cluster "
                   f"{facts.target_name}", **values)
    if mine == theirs:
        return row(check, True, f"the same {what} ({mine})", **values)
    return row(check, False, f"source cluster {facts.source_name} has {what} {mine} but target cluster {facts.target_name} "
               f"has {theirs}: {rule}", **values)


def check_database_edition(facts: Facts) -> dict:
    return _same_fact(facts, "database_edition", "database_edition", "database edition",
                      "Atlas restores only between clusters of the same database edition")


def check_encryption_at_rest(facts: Facts) -> dict:
    return _same_fact(facts, "encryption_at_rest", "encryption_at_rest_provider", "encryption-at-rest provider",
                      "source and target must use the same encryption-at-rest provider")


def check_source_backup_enabled(facts: Facts) -> dict:
    if facts.source is None:
        return _unread_source(facts, "source_backup_enabled")
    enabled = _backup_enabled(facts.source)
    if enabled is None:
        return row("source_backup_enabled", True, f"Atlas reports no backup setting for source cluster {facts.source_name}")
    if not enabled:
        return row("source_backup_enabled", False, f"backup is not enabled on source cluster {facts.source_name}", source=False)
    return row("source_backup_enabled", True, f"backup is enabled on source cluster {facts.source_name}", source=True)


def _not_point_in_time(facts: Facts, check: str) -> dict | None:
    if facts.delivery_type != "point_in_time":
        return row(check, True, "not applicable: not a point-in-time restore")
    if facts.source_type == "legacy":
        return row(check, True, "not applicable: legacy backup (its 24-hour window is checked before any request)")
    return None


def check_continuous_backup(facts: Facts) -> dict:
    early = _not_point_in_time(facts, "continuous_backup")
    if early:
        return early
    if facts.source is None:
        return _unread_source(facts, "continuous_backup")
    enabled = facts.source.get("pit_enabled")
    if not enabled:
        return row("continuous_backup", False, f"continuous cloud backup (pitEnabled) is not enabled on source cluster "
                   f"{facts.source_name}: a point-in-time restore needs it", source=bool(enabled))
    return row("continuous_backup", True, f"continuous cloud backup is enabled on source cluster {facts.source_name}", source=True)


def check_pit_window(facts: Facts) -> dict:
    early = _not_point_in_time(facts, "pit_window")
    if early:
        return early
    moment = facts.point_in_time
    if moment is None:
        return row("pit_window", None, "not judged: no point in time")
    if moment > facts.now:
        return row("pit_window", False, f"the point in time {iso_utc(moment)} is in the future (now {iso_utc(facts.now)})",
                   point_in_time=iso_utc(moment), now=iso_utc(facts.now))
    if facts.schedule is None:
        return row("pit_window", None, f"could not read the backup schedule of source cluster {facts.source_name}: "
                   f"{facts.schedule_error}", point_in_time=iso_utc(moment))
    days = facts.schedule.get("restore_window_days")
    if not isinstance(days, (int, float)) or isinstance(days, bool):
        return row("pit_window", None, "not judged: the backup schedule reports no restoreWindowDays", point_in_time=iso_utc(moment))
    start = facts.now - days * 86400
    values = dict(point_in_time=iso_utc(moment), window_start=iso_utc(start), restore_window_days=days)
    if moment < start:
        return row("pit_window", False, f"the point in time {iso_utc(moment)} is older than the restore window of source cluster "
                   f"{facts.source_name} ({days:g} days: from {iso_utc(start)})", **values)
    return row("pit_window", True, f"the point in time {iso_utc(moment)} lies inside the {days:g}-day restore window", **values)


def check_snapshot_age(facts: Facts) -> dict:
    if facts.delivery_type == "point_in_time" or not facts.snapshot_id:
        return row("snapshot_age", True, "not applicable: not a snapshot restore")
    limit = facts.max_snapshot_age or 0
    if not limit:
        return row("snapshot_age", True, "no limit (max_snapshot_age: 0)", max_snapshot_age=0)
    if facts.snapshot is None:
        return row("snapshot_age", None, f"could not read snapshot {facts.snapshot_id}: {facts.snapshot_error}", max_snapshot_age=limit)
    taken = parse_atlas_time(facts.snapshot.get("taken_at"))
    if taken is None:
        return row("snapshot_age", None, f"not judged: snapshot {facts.snapshot_id} reports no time it was taken",
                   max_snapshot_age=limit)
    age = max(0, int(facts.now - taken))
    values = dict(age_seconds=age, max_snapshot_age=limit, taken_at=iso_utc(taken))
    if age > limit:
        return row("snapshot_age", False, f"snapshot {facts.snapshot_id} was taken at {iso_utc(taken)}, {age} s ago, more than "
                   f"max_snapshot_age ({limit} s): are the backups still running?", **values)
    return row("snapshot_age", True, f"snapshot {facts.snapshot_id} is {age} s old (max_snapshot_age: {limit} s)", **values)


_JUDGES = {
    "target_exists": check_target_exists, "target_not_paused": check_target_not_paused,
    "target_not_deleting": check_target_not_deleting, "mongodb_version": check_mongodb_version,
    "feature_compatibility_version": check_feature_compatibility_version, "sharded_target": check_sharded_target,
    "shard_count": check_shard_count, "config_server_type": check_config_server_type, "database_edition": check_database_edition,
    "encryption_at_rest": check_encryption_at_rest, "source_backup_enabled": check_source_backup_enabled,
    "continuous_backup": check_continuous_backup, "pit_window": check_pit_window, "snapshot_age": check_snapshot_age,
}


def judge(facts: Facts, skip=()) -> list:
    """One row per check, in CHECKS order (a skipped check: ok None, saying so)."""
    return [row(name, None, SKIPPED) if name in skip else _JUDGES[name](facts) for name in CHECKS]


def verdict(rows: list) -> str:
    """failed (some rule is broken), incomplete (none broken, some not judged) or passed."""
    if any(entry["ok"] is False for entry in rows):
        return "failed"
    if any(entry["ok"] is None and entry["detail"] != SKIPPED for entry in rows):
        return "incomplete"
    return "passed"


def failures(rows: list) -> list:
    return [entry for entry in rows if entry["ok"] is False]


def refusal(rows: list) -> str:
    """Why the restore is refused, naming each broken rule and its values."""
    broken = "; ".join(f"{entry['check']}: {entry['detail']}" for entry in failures(rows))
    names = ", ".join(entry["check"] for entry in failures(rows))
    return (f"pre-flight checks refused the restore before anything was sent: {broken}. Fix what the check names, or (when you know "
            f"better than these rules) turn a check off with preflight_skip: [{names}]")


def unjudged_warnings(rows: list) -> list:
    """One warning per reason that left checks without a verdict (a 403, a deleted source, a transient error ...)."""
    by_reason: dict = {}
    for entry in rows:
        if entry["ok"] is None and entry["detail"] != SKIPPED:
            by_reason.setdefault(entry["detail"], []).append(entry["check"])
    return [f"pre-flight check{'s' if len(names) > 1 else ''} {', '.join(names)} not judged ({reason}); the restore is not "
            "refused for it" for reason, names in by_reason.items()]


# --- reading the facts (the only requests of this file) -----------------------------------------

def _read(call):
    """(value, None) or (None, why it could not be read); a 401 is raised (nothing else would work either)."""
    try:
        return call(), None
    except AtlasError as error:
        if error.status == 401:
            raise
        return None, str(error)


def read_facts(backup, request, *, skip=(), max_snapshot_age: int = 0, deadline: float | None = None, now: float | None = None,
               snapshot: dict | None = None):
    """The facts of a restore (GETs only): the source and target clusters, the snapshot, and for a point in time the schedule.

    snapshot: the request's snapshot when the caller has already read it (it is not read again).

    Returns (facts, target_backup): target_backup is the target's ClusterBackup in the family that serves it (None for a
    download, or when the target could not be read).
    """
    facts = Facts(delivery_type=request.delivery_type, source_name=request.cluster_name, target_name=request.target_cluster_name,
                  source_type=backup.cluster_type, snapshot_id=request.snapshot_id, max_snapshot_age=max_snapshot_age or 0,
                  now=time.time() if now is None else now)
    if request.point_in_time is not None:
        facts.point_in_time = request.point_in_time
    elif request.oplog_ts is not None:
        facts.point_in_time = request.oplog_ts
    target_backup = None
    if not backup.has("get_cluster"):
        # Serverless instances: this collection reads no description of them (Atlas deprecated them).
        facts.source_error = facts.target_error = f"Atlas describes no {backup.cluster_type} cluster through the cluster API"
    else:
        described, facts.source_error = _read(lambda: backup.described(deadline=deadline))
        if described:
            facts.source = described[1]
        if request.delivery_type != "download":
            target_backup = _read_target(backup, request, facts, deadline)
    if snapshot is not None:
        facts.snapshot = snapshot
    elif request.snapshot_id:
        sharded = bool(is_sharded_cluster(facts.source)) and backup.has("get_sharded_snapshot")
        try:
            facts.snapshot = backup.snapshot(request.snapshot_id, sharded=sharded, deadline=deadline)
        except AtlasError as error:
            if error.status == 401:
                raise
            facts.snapshot_missing, facts.snapshot_error = error.status == 404, str(error)
    if request.delivery_type == "point_in_time" and "pit_window" not in skip and backup.has("get_backup_schedule"):
        facts.schedule, facts.schedule_error = _read(lambda: backup.backup_schedule(deadline=deadline))
    return facts, target_backup


def _read_target(backup, request, facts: Facts, deadline):
    """Read the target into facts (a 404 means it does not exist); its ClusterBackup, or None when it could not be read."""
    sibling = backup.sibling(request.target_project, request.target_cluster_name)
    try:
        target_backup, facts.target = sibling.described(deadline=deadline)
    except AtlasError as error:
        if error.status == 401:
            raise
        facts.target_missing = error.status == 404
        facts.target_error = str(error)
        return None
    facts.target_type = target_backup.cluster_type
    return target_backup
