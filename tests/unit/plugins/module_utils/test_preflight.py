# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pre-flight checks: every rule passing and failing on its own, judged on the snapshot's facts first, unreadable
facts never refusing, and the reads they cost (a fake ClusterBackup counts them)."""

from __future__ import annotations

import pytest

from ansible_collections.atlasops.backup.plugins.module_utils._errors import AtlasError
from ansible_collections.atlasops.backup.plugins.module_utils._preflight import (
    CHECKS, SKIPPED, Facts, check_options, failures, judge, read_facts, refusal, release_line, unjudged_warnings, verdict,
)
from ansible_collections.atlasops.backup.plugins.module_utils._restore_request import RestoreRequest
from ansible_collections.atlasops.backup.plugins.module_utils._validation import InvalidInputError
from ansible_collections.atlasops.backup.plugins.module_utils._views import snake_keys, snapshot_view

NOW = 1_800_000_000.0
PROJECT, SNAPSHOT = "5f1a2b3c4d5e6f7a8b9c0d1e", "6741a2b3c4d5e6f7a8b9c0aa"


def cluster(**changes) -> dict:
    raw = {"name": "c", "clusterType": "REPLICASET", "mongoDBMajorVersion": "7.0", "mongoDBVersion": "7.0.14",
           "featureCompatibilityVersion": "7.0", "stateName": "IDLE", "paused": False, "backupEnabled": True, "pitEnabled": True,
           "encryptionAtRestProvider": "NONE", "replicationSpecs": [{"id": "a"}]}
    raw.update(changes)
    return snake_keys({key: value for key, value in raw.items() if value is not None})


def sharded(shards=2, config="EMBEDDED", **changes) -> dict:
    return cluster(clusterType="SHARDED", replicationSpecs=[{"id": str(i)} for i in range(shards)], configServerType=config, **changes)


def snapshot(**changes) -> dict:
    raw = {"id": SNAPSHOT, "status": "completed", "createdAt": "2027-01-15T07:00:00Z", "mongodVersion": "7.0.14", "type": "replicaSet"}
    raw.update(changes)
    return snapshot_view({key: value for key, value in raw.items() if value is not None}, "dedicated")


def facts(**changes) -> Facts:
    values = dict(delivery_type="automated", source_name="prod", target_name="dr", source=cluster(), target=cluster(),
                  snapshot_id=SNAPSHOT, snapshot=snapshot(), now=NOW)
    values.update(changes)
    return Facts(**values)


def by_check(rows) -> dict:
    return {entry["check"]: entry for entry in rows}


def only_failures(rows) -> list:
    return [entry["check"] for entry in failures(rows)]


def test_a_sound_restore_passes_every_check_with_one_row_each():
    rows = judge(facts())
    assert [entry["check"] for entry in rows] == list(CHECKS)
    assert all(entry["ok"] is True for entry in rows), rows
    assert verdict(rows) == "passed"


@pytest.mark.parametrize("target, check", [
    (cluster(paused=True), "target_not_paused"),
    (cluster(stateName="DELETING"), "target_not_deleting"),
    (cluster(mongoDBMajorVersion="6.0", mongoDBVersion="6.0.20", featureCompatibilityVersion="6.0"), "mongodb_version"),
    (cluster(mongoDBMajorVersion="8.0", mongoDBVersion="8.0.4", featureCompatibilityVersion="8.0",
             featureCompatibilityVersionExpirationDate="2027-02-01T00:00:00Z"), "feature_compatibility_version"),
    (cluster(databaseEdition="INFINITE"), None),  # the source reports no edition: not compared
    (cluster(encryptionAtRestProvider="AWS"), "encryption_at_rest"),
])
def test_each_target_rule_fails_on_its_own(target, check):
    rows = judge(facts(target=target))
    assert only_failures(rows) == ([check] if check else [])


def test_a_broken_rule_names_both_values():
    rows = judge(facts(snapshot=snapshot(mongodVersion="8.0.4"), target=cluster()))
    row = by_check(rows)["mongodb_version"]
    assert row["ok"] is False and row["values"] == {"snapshot": "8.0", "target": "7.0"}
    assert "8.0" in row["detail"] and "7.0" in row["detail"] and SNAPSHOT in row["detail"]
    message = refusal(rows)
    assert "mongodb_version" in message and "before anything was sent" in message and "preflight_skip" in message


@pytest.mark.parametrize("snapshot_version, target_major, ok", [
    ("7.0.14", "7.0", True), ("7.0.14", "8.0", True), ("8.0.4", "7.0", False), ("6.0.9", "8.0", False),
    ("7.0.14", "7.3", True), ("7.3.1", "7.0", False), ("7.3.1", "8.0", True),
])
def test_the_target_runs_the_snapshots_release_line_or_the_next(snapshot_version, target_major, ok):
    rows = judge(facts(snapshot=snapshot(mongodVersion=snapshot_version),
                       target=cluster(mongoDBMajorVersion=target_major, mongoDBVersion=target_major + ".1",
                                      featureCompatibilityVersion=target_major)))
    assert by_check(rows)["mongodb_version"]["ok"] is ok


def test_the_snapshots_own_version_beats_the_source_cluster():
    # The source was upgraded to 8.0 after the snapshot (7.0) was taken: 7.0 into 7.0 is sound.
    rows = judge(facts(source=cluster(mongoDBMajorVersion="8.0", mongoDBVersion="8.0.4"), snapshot=snapshot(mongodVersion="7.0.14")))
    assert by_check(rows)["mongodb_version"]["ok"] is True
    # A snapshot that reports no version (still queued) is judged on the source.
    rows = judge(facts(source=cluster(mongoDBMajorVersion="8.0", mongoDBVersion="8.0.4"), snapshot=snapshot(mongodVersion=None)))
    assert by_check(rows)["mongodb_version"]["ok"] is False
    assert "source cluster prod" in by_check(rows)["mongodb_version"]["detail"]


def test_a_pinned_fcv_must_match_the_snapshots_line():
    pinned_80 = cluster(mongoDBMajorVersion="8.0", mongoDBVersion="8.0.4", featureCompatibilityVersion="8.0",
                        featureCompatibilityVersionExpirationDate="2027-02-01T00:00:00Z")
    assert by_check(judge(facts(target=pinned_80)))["feature_compatibility_version"]["ok"] is False
    assert by_check(judge(facts(snapshot=snapshot(mongodVersion="8.0.4"), target=pinned_80)))[
        "feature_compatibility_version"]["ok"] is True
    # An FCV below the binary's line is a pin, even without the expiration date.
    held_at_70 = cluster(mongoDBMajorVersion="8.0", mongoDBVersion="8.0.4", featureCompatibilityVersion="7.0")
    row = by_check(judge(facts(snapshot=snapshot(mongodVersion="8.0.4"), target=held_at_70)))["feature_compatibility_version"]
    assert row["ok"] is False and row["values"]["target"] == "7.0" and row["values"]["snapshot"] == "8.0"
    assert by_check(judge(facts(target=held_at_70)))["feature_compatibility_version"]["ok"] is True


def test_a_sharded_snapshot_never_goes_into_a_replica_set():
    rows = judge(facts(source=sharded(), snapshot=snapshot(type="shardedCluster"), target=cluster()))
    assert only_failures(rows) == ["sharded_target"]
    assert by_check(rows)["sharded_target"]["values"] == {"snapshot": "sharded", "target": "REPLICASET"}


def test_shard_count_and_config_server_type_come_from_the_snapshots_members_first():
    members = [{"id": "1", "replicaSetName": "atlas-x-shard-0"}, {"id": "2", "replicaSetName": "atlas-x-shard-1"},
               {"id": "3", "replicaSetName": "atlas-x-shard-2"}, {"id": "4", "replicaSetName": "atlas-x-config-0"}]
    sharded_snapshot = snapshot(type="shardedCluster", members=members, configServerType="DEDICATED")
    # The source now has 2 shards, but the snapshot holds 3 (config server not counted) and a dedicated config server.
    rows = judge(facts(source=sharded(2, "EMBEDDED"), snapshot=sharded_snapshot, target=sharded(3, "DEDICATED")))
    assert all(entry["ok"] is True for entry in rows), failures(rows)
    rows = judge(facts(source=sharded(2, "EMBEDDED"), snapshot=sharded_snapshot, target=sharded(2, "DEDICATED")))
    assert only_failures(rows) == ["shard_count"] and by_check(rows)["shard_count"]["values"] == {"snapshot": 3, "target": 2}
    rows = judge(facts(source=sharded(3, "DEDICATED"), snapshot=sharded_snapshot, target=sharded(3, "EMBEDDED")))
    assert only_failures(rows) == ["config_server_type"]
    # Without members the source cluster decides.
    rows = judge(facts(source=sharded(2, "EMBEDDED"), snapshot=snapshot(type=None), target=sharded(3, "EMBEDDED")))
    assert only_failures(rows) == ["shard_count"]


def test_edition_is_compared_only_where_atlas_reports_it():
    assert only_failures(judge(facts(source=cluster(databaseEdition="CORE"), target=cluster(databaseEdition="INFINITE")))) == \
        ["database_edition"]
    row = by_check(judge(facts(source=cluster(databaseEdition="CORE"), target=cluster())))["database_edition"]
    assert row["ok"] is True and "reports no database edition" in row["detail"]


def test_backup_and_continuous_backup_and_the_restore_window():
    assert only_failures(judge(facts(source=cluster(backupEnabled=False)))) == ["source_backup_enabled"]
    schedule = {"restore_window_days": 2}
    pit = dict(delivery_type="point_in_time", snapshot_id=None, snapshot=None, schedule=schedule)
    assert only_failures(judge(facts(point_in_time=NOW - 86400, **pit))) == []
    assert only_failures(judge(facts(point_in_time=NOW - 86400, source=cluster(pitEnabled=False), **pit))) == ["continuous_backup"]
    rows = judge(facts(point_in_time=NOW - 3 * 86400, **pit))
    assert only_failures(rows) == ["pit_window"] and by_check(rows)["pit_window"]["values"]["restore_window_days"] == 2
    assert only_failures(judge(facts(point_in_time=NOW + 60, **pit))) == ["pit_window"]
    # A snapshot restore needs no continuous backup.
    assert only_failures(judge(facts(source=cluster(pitEnabled=False)))) == []


def test_max_snapshot_age_refuses_an_old_snapshot_naming_its_age():
    taken = "2027-01-15T07:00:00Z"  # NOW is 2027-01-15T08:00:00Z
    assert by_check(judge(facts(snapshot=snapshot(createdAt=taken))))["snapshot_age"]["ok"] is True
    row = by_check(judge(facts(snapshot=snapshot(createdAt=taken), max_snapshot_age=1800)))["snapshot_age"]
    assert row["ok"] is False and row["values"]["age_seconds"] == 3600 and "3600 s ago" in row["detail"]
    assert by_check(judge(facts(snapshot=snapshot(createdAt=taken), max_snapshot_age=7200)))["snapshot_age"]["ok"] is True


def test_unreadable_facts_are_null_with_a_warning_and_never_refuse():
    rows = judge(facts(source=None, source_error="HTTP 403", target=None, target_error="HTTP 403", snapshot=None,
                       snapshot_error="HTTP 403", max_snapshot_age=60))
    assert failures(rows) == [] and verdict(rows) == "incomplete"
    assert [entry["check"] for entry in rows if entry["ok"] is not None] == ["continuous_backup", "pit_window"]  # not applicable
    warnings = unjudged_warnings(rows)
    assert warnings and all("not refused" in message for message in warnings) and any("HTTP 403" in message for message in warnings)
    # A deleted source: the target's own facts are still judged.
    rows = judge(facts(source=None, source_error="HTTP 404 CLUSTER_NOT_FOUND", target=cluster(paused=True)))
    assert only_failures(rows) == ["target_not_paused"] and by_check(rows)["database_edition"]["ok"] is None


def test_a_missing_target_refuses_and_the_others_are_not_judged():
    rows = judge(facts(target=None, target_missing=True, target_error="HTTP 404"))
    assert only_failures(rows) == ["target_exists"]
    assert by_check(rows)["mongodb_version"]["ok"] is None


def test_flex_targets_are_judged_on_what_atlas_reports_for_them():
    flex_target = snake_keys({"name": "f", "clusterType": "REPLICASET", "mongoDBVersion": "8.0.4", "stateName": "IDLE",
                              "backupSettings": {"enabled": True}})
    rows = judge(facts(source=cluster(encryptionAtRestProvider="AWS", databaseEdition="CORE"), target=flex_target,
                       target_type="flex"))
    assert failures(rows) == [] and verdict(rows) == "passed"
    assert by_check(judge(facts(target=flex_target, snapshot=snapshot(mongodVersion="8.0.4"))))["mongodb_version"]["ok"] is True


def test_downloads_have_no_target_checks():
    rows = judge(facts(delivery_type="download", target=None, target_name=None))
    assert failures(rows) == [] and verdict(rows) == "passed"


def test_skipped_checks_are_rows_that_say_so_and_never_refuse():
    rows = judge(facts(target=cluster(paused=True)), skip=("target_not_paused",))
    assert failures(rows) == [] and by_check(rows)["target_not_paused"] == {
        "check": "target_not_paused", "ok": None, "detail": SKIPPED, "values": {}}
    assert unjudged_warnings(rows) == [] and verdict(rows) == "passed"


def test_options_are_checked_before_any_request():
    assert check_options(["target_not_paused", " shard_count"], 0) == ("target_not_paused", "shard_count")
    with pytest.raises(InvalidInputError, match="preflight_skip names no check bogus"):
        check_options(["bogus"], 0)
    with pytest.raises(InvalidInputError, match="max_snapshot_age"):
        check_options([], -1)


def test_release_lines():
    assert release_line("8.0.4") == (8, 0) and release_line("v7.0.14-rc1") == (7, 0) and release_line("7.0") == (7, 0)
    assert release_line("latest") is None and release_line(None) is None


class FakeBackup:
    """A ClusterBackup of several clusters (by name) that counts its reads and may refuse them."""

    def __init__(self, clusters, cluster_type="dedicated", errors=None, name="prod", project=PROJECT, log=None):
        self.clusters, self.cluster_type, self.errors = clusters, cluster_type, errors or {}
        self.cluster_name, self.project_id = name, project
        self.log = [] if log is None else log

    def has(self, operation):
        return not (self.cluster_type == "serverless" and operation in ("get_cluster", "get_backup_schedule", "get_sharded_snapshot")) \
            and not (self.cluster_type == "flex" and operation in ("get_backup_schedule", "get_sharded_snapshot"))

    def sibling(self, project_id, cluster_name, cluster_type=None):
        return FakeBackup(self.clusters, cluster_type or self.cluster_type, self.errors, cluster_name, project_id, self.log)

    def _answer(self, what):
        self.log.append(what)
        if what in self.errors:
            raise self.errors[what]

    def described(self, deadline=None):
        self._answer(("cluster", self.cluster_name))
        if self.cluster_name not in self.clusters:
            raise AtlasError("not found", status=404, error_code="CLUSTER_NOT_FOUND")
        return self, self.clusters[self.cluster_name]

    def snapshot(self, snapshot_id, sharded=False, deadline=None):
        self._answer(("sharded snapshot" if sharded else "snapshot", snapshot_id))
        return snapshot()

    def backup_schedule(self, deadline=None):
        self._answer(("schedule", self.cluster_name))
        return {"restore_window_days": 7}


def request(**changes):
    values = dict(cluster_type="dedicated", project_id=PROJECT, cluster_name="prod", delivery_type="automated", snapshot_id=SNAPSHOT,
                  target_cluster_name="dr")
    values.update(changes)
    return RestoreRequest(**values)


def test_reading_costs_a_few_gets_and_the_schedule_only_for_a_point_in_time():
    backup = FakeBackup({"prod": cluster(), "dr": cluster()})
    found, target_backup = read_facts(backup, request(), now=NOW)
    assert backup.log == [("cluster", "prod"), ("cluster", "dr"), ("snapshot", SNAPSHOT)]
    assert target_backup.cluster_name == "dr" and found.target["name"] == "c"
    backup = FakeBackup({"prod": cluster(), "dr": cluster()})
    read_facts(backup, request(delivery_type="point_in_time", snapshot_id=None, point_in_time=int(NOW) - 60), now=NOW)
    assert backup.log == [("cluster", "prod"), ("cluster", "dr"), ("schedule", "prod")]
    backup = FakeBackup({"prod": sharded(), "dr": sharded()})
    read_facts(backup, request(), now=NOW)
    assert backup.log[-1] == ("sharded snapshot", SNAPSHOT)


def test_a_forbidden_read_is_a_reason_and_a_401_is_raised():
    forbidden = AtlasError("HTTP 403 forbidden", status=403)
    backup = FakeBackup({"prod": cluster(), "dr": cluster()}, errors={("cluster", "dr"): forbidden})
    found, target_backup = read_facts(backup, request(), now=NOW)
    assert target_backup is None and not found.target_missing and "403" in found.target_error
    assert failures(judge(found)) == []
    backup = FakeBackup({"dr": cluster()})
    found, dummy = read_facts(backup, request(), now=NOW)
    assert found.source is None and "not found" in found.source_error
    backup = FakeBackup({"prod": cluster()}, errors={("cluster", "prod"): AtlasError("HTTP 401", status=401)})
    with pytest.raises(AtlasError):
        read_facts(backup, request(), now=NOW)


def test_a_missing_target_is_read_as_missing():
    found, dummy = read_facts(FakeBackup({"prod": cluster()}), request(), now=NOW)
    assert found.target_missing and only_failures(judge(found)) == ["target_exists"]


def test_serverless_reads_no_description_and_judges_nothing_it_cannot():
    backup = FakeBackup({"prod": cluster(), "dr": cluster()}, cluster_type="serverless")
    found, dummy = read_facts(backup, request(cluster_type="serverless"), now=NOW)
    assert backup.log == [("snapshot", SNAPSHOT)] and failures(judge(found)) == []
