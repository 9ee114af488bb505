# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helpers of tools/bench.py and tools/soak.py (no emulator, no playbook, no timing)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import bench  # noqa: E402  pylint: disable=wrong-import-position
import soak  # noqa: E402  pylint: disable=wrong-import-position
from atlas_emulator.faults import FaultEngine  # noqa: E402  pylint: disable=wrong-import-position
from harness import SECRETS  # noqa: E402  pylint: disable=wrong-import-position

JOBS = "/api/atlas/v2/groups/5f1a2b3c4d5e6f7a8b9c0d1e/clusters/src/backup/restoreJobs"


@pytest.mark.parametrize("duration, polls, seen_at", [(1, 1, 2.0), (5, 3, 6.0), (10, 5, 10.0), (20, 10, 20.0), (30, 15, 32.21), (40, 18, 42.87)])
def test_the_schedule_prediction_follows_the_waiter(duration, polls, seen_at):
    predicted_polls, predicted_seen, latency = bench.predicted_wait(duration)
    assert (predicted_polls, predicted_seen) == (polls, pytest.approx(seen_at, abs=0.01))
    assert latency == pytest.approx(seen_at - duration, abs=0.01)


def test_intervals_stop_growing_at_the_ceiling():
    offsets = bench.poll_offsets(1000)
    gaps = [later - earlier for earlier, later in zip(offsets, offsets[1:])]
    assert max(gaps) == pytest.approx(60.0) and gaps[-1] == pytest.approx(60.0)
    assert len(offsets) < 60


def entry(method, path, status, counted, operation_id=None, fault=None):
    return dict(method=method, path=path, status=status, counted=counted, operation_id=operation_id, fault=fault, time=0.0)


def test_tally_counts_challenges_and_token_calls_apart():
    log = [
        entry("GET", JOBS, 401, False),
        entry("GET", JOBS, 200, True),
        entry("POST", "/api/oauth/token", 200, False, operation_id="oauth_token"),
        entry("POST", JOBS, 200, True),
        entry("GET", JOBS + "/6b02a2788cc216cd2a002c81", 200, True),
        entry("GET", JOBS.replace("restoreJobs", "snapshots"), 200, True),
    ]
    tally = bench.Tally.of(log)
    assert (tally.counted, tally.challenges, tally.tokens) == (4, 1, 1)
    assert tally.breakdown() == "1 snapshot list, 1 job list, 1 create, 1 job get"


@pytest.mark.parametrize("result, story, verdict", [
    ({"msg": "Atlas answered x with HTTP 503", "error": {"status": 503}}, None, "retry budget exhausted"),
    ({"msg": "op to host: no answer within request_timeout (2 s) (ReadTimeout)", "error": {"status": None}}, None,
     "retry budget exhausted"),
    ({"msg": "Atlas refused the restore with HTTP 409: busy", "error": {"status": 409}}, None, "other"),
    ({"msg": "Atlas answered x with HTTP 401", "error": {"status": 401}}, [{"fault": None}, {"fault": "expire_token"}], "other"),
    ({"msg": "Atlas answered x with HTTP 401", "error": {"status": 401}}, [{"fault": "expire_token"}, {"fault": "expire_token"}],
     "retry budget exhausted"),
    ({"msg": "Task failed: Module failed: 'str' object has no attribute 'args'"}, None, "other"),
])
def test_soak_classifies_failures(result, story, verdict):
    assert soak.classify(result, story).startswith(verdict)


def test_soak_fault_rules_are_accepted_by_the_emulator():
    rules = [rule for dummy, rule in soak.fault_rules(20261122, 3.0, 2.0)]
    assert len(FaultEngine(seed=1).add(rules)) == len(rules)
    assert {rule["action"] for rule in rules} == {"status", "drop_before", "drop_after", "delay", "expire_token", "late", "truncate",
                                                  "lag_list", "redirect"}


def test_soak_finds_secrets_in_text():
    assert not soak.find_secrets(["nothing to see"])
    assert sum(soak.find_secrets([f"x {SECRETS[0]} y {SECRETS[1]}"]).values()) == 2


def test_write_section_replaces_only_its_own_block(tmp_path, monkeypatch):
    doc = tmp_path / "performance.md"
    doc.write_text("# P\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\nhand-written\n")
    monkeypatch.setattr(bench, "DOC", doc)
    bench.write_section("bench", "new figures", "Benchmarks")
    bench.write_section("soak", "soak figures", "Soak")
    text = doc.read_text()
    assert "new figures" in text and "old" not in text and "hand-written" in text
    assert text.index("<!-- soak:begin -->") > text.index("hand-written")
