# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes every task result as one JSON line to $RECORD_RESULTS_FILE, for the functional tests."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Record task results as JSON lines (test helper)
description:
  - Appends one JSON object per task result to the file named by E(RECORD_RESULTS_FILE).
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, outcome: str, result) -> None:
        path = os.environ.get("RECORD_RESULTS_FILE")
        if not path:
            return
        line = {"task": result._task.get_name(), "outcome": outcome, "result": _plain(result._result)}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)


def _plain(value):
    """Plain JSON types (ansible-core 2.19+ wraps values in tagged types)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)
