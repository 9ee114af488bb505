# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile and malformed values for every option of every module: a clear error, and not one request.

The modules run in-process (fast: the whole table takes about a second) with the real client pointed at
the emulator, whose request log must stay empty.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.common import warnings as ansible_warnings

from harness import PROJECT, SECRETS
from atlas_emulator.control import DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY

from ansible_collections.atlasops.backup.plugins.modules import restore_job, restore_job_info, snapshot_info
from ansible_collections.atlasops.backup.tests.unit.plugins.modules.module_runner import run_module

HUGE = "a" * 100_000
TRAVERSAL = ["../../admin", "a/b", "%2e%2e", "a?b=c", "a#b", "a b", "a\nb", ".."]
CLUSTER_NAMES = TRAVERSAL + ["", "-starts-with-hyphen", HUGE, "ü" * 10, "名前", "x" * 65, "😀"]
HEX_IDS = TRAVERSAL + ["", "5F1A2B3C4D5E6F7A8B9C0D1E", "5f1a2b3c4d5e6f7a8b9c0d1", "5f1a2b3c4d5e6f7a8b9c0d1e0", HUGE, "٥" * 24, "g" * 24]
TIMES = ["", "yesterday", "2026-11-20", "2026-11-20T08:00:00", "2026-13-45T00:00:00Z", "1763626500000", "9" * 40, "-5", "1e9",
         "2999-01-01T00:00:00Z", "1999-01-01T00:00:00Z", True, [], {"a": 1}, 1.5, HUGE]

CONNECTION = [
    ("base_url", ["", "ftp://cloud.mongodb.com", "cloud.mongodb.com", "https://", "https://x?y=1", "https://x#y", HUGE]),
    ("validate_certs", ["maybe", [], {"a": 1}]),
    ("request_timeout", [-1, 0, "soon", [], -0.5]),
    ("max_retries", [-1, "many", 1.5, []]),
    ("cluster_type", ["shared", "", "DEDICATED", []]),
    ("project_id", HEX_IDS + [None, 12]),
    ("group_id", ["../x"]),
    ("cluster_name", CLUSTER_NAMES + [None]),
]
MODULE_OPTIONS = {
    snapshot_info: [
        ("sharded", ["sometimes", []]),
        ("snapshot_id", HEX_IDS),
        ("before", [value for value in TIMES if value != "2999-01-01T00:00:00Z"]),
        ("snapshot_type", ["weekly", "", "onDemand"]),
        ("completed_only", ["perhaps"]),
    ],
    restore_job_info: [
        ("job_id", HEX_IDS),
        ("restore_job_id", ["../x"]),
        ("status", [["done"], "finished", [[]], [HUGE]]),
        ("delivery_type", ["pointInTime", "", "RESTORE"]),
        ("snapshot_id", HEX_IDS),
        ("target_cluster_name", CLUSTER_NAMES),
        ("wait", ["soon"]),
        ("wait_timeout", [-1, "long", 1.5]),
    ],
    restore_job: [
        ("state", ["gone", ""]),
        ("job_id", HEX_IDS),
        ("delivery_type", ["pointInTime", "", "restore"]),
        ("snapshot_id", HEX_IDS),
        ("point_in_time", TIMES),
        ("oplog_ts", [-1, 0, "x", 4102444800, 1.5]),
        ("oplog_inc", [0, -1, "x"]),
        ("target_cluster_name", CLUSTER_NAMES),
        ("target_project_id", HEX_IDS),
        ("force", ["x"]),
        ("wait", ["x"]),
        ("wait_timeout", [-1, "x"]),
    ],
}
# What each module gets besides the bad value, so that only the bad value can be the reason it fails.
VALID = {
    snapshot_info: dict(project_id=PROJECT, cluster_name="prod-db"),
    restore_job_info: dict(project_id=PROJECT, cluster_name="prod-db"),
    restore_job: dict(project_id=PROJECT, cluster_name="prod-db", snapshot_id="6741a2b3c4d5e6f7a8b9c0aa", target_cluster_name="dr-db"),
}
CANONICAL = {"group_id": "project_id", "restore_job_id": "job_id"}
# Options that only matter together with others: the value is tested in the company it needs.
COMPANY = {
    (restore_job, "point_in_time"): dict(delivery_type="point_in_time", snapshot_id=None),
    (restore_job, "oplog_ts"): dict(delivery_type="point_in_time", snapshot_id=None, oplog_inc=1),
    (restore_job, "oplog_inc"): dict(delivery_type="point_in_time", snapshot_id=None, oplog_ts=1763626500),
    (restore_job_info, "wait_timeout"): dict(job_id="6741a2b3c4d5e6f7a8b9c0d1", wait=True),
}


def cases():
    for module, options in MODULE_OPTIONS.items():
        for option, values in CONNECTION + options:
            for value in values:
                yield module, option, value


@pytest.fixture
def atlas_env(monkeypatch, emulator_process):
    monkeypatch.setenv("MONGODB_ATLAS_BASE_URL", emulator_process.url)
    monkeypatch.setenv("MONGODB_ATLAS_PUBLIC_API_KEY", DEFAULT_PUBLIC_KEY)
    monkeypatch.setenv("MONGODB_ATLAS_PRIVATE_API_KEY", DEFAULT_PRIVATE_KEY)


def test_every_hostile_value_is_refused_before_any_request(emulator, atlas_env, capsys):
    failures = []
    count = 0
    for module, option, value in cases():
        count += 1
        args = dict(VALID[module])
        args.update(COMPANY.get((module, option), {}))
        args = {key: item for key, item in args.items() if item is not None}
        if option == "group_id":
            args.pop("project_id")
        args[option] = value
        ansible_warnings._global_warnings.clear()  # module warnings are process-global
        result = run_module(module.main, args, capsys)
        shown = repr(value)[:60]
        if not result.get("failed"):
            failures.append(f"{module.__name__.rsplit('.', 1)[-1]} {option}={shown}: accepted")
        elif CANONICAL.get(option, option) not in result.get("msg", ""):
            failures.append(f"{module.__name__} {option}={shown}: the message does not name the option: {result.get('msg')!r:.200}")
        if any(secret in json.dumps(result) for secret in SECRETS):
            failures.append(f"{module.__name__} {option}: a secret in the result")
    assert failures == [], "\n".join(failure[:300] for failure in failures)
    assert count > 250
    assert emulator.requests() == [], "a hostile value reached Atlas"
