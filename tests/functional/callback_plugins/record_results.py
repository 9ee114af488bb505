# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes every task result as one JSON line to $RECORD_RESULTS_FILE, for the functional tests and tools/bench.py."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Record task results as JSON lines (test helper)
description:
  - Appends one JSON object per task result to the file named by E(RECORD_RESULTS_FILE), with the task's name, host,
    action, outcome, result, and the epoch times at which the task started on the host and its result arrived.
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._started = {}

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.time()

    def _record(self, outcome: str, result) -> None:
        end = time.time()
        path = os.environ.get("RECORD_RESULTS_FILE")
        if not path:
            return
        host = result._host.get_name()
        line = {"task": result._task.get_name(), "action": result._task.action, "host": host, "outcome": outcome,
                "start": self._started.get((host, result._task._uuid)), "end": end, "result": _plain(result._result)}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)


def _plain(value):
    """Plain JSON types (ansible-core 2.19+ wraps values in tagged types)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)
