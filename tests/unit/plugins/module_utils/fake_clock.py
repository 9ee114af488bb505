# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A clock that moves only when something sleeps: waits and settle windows proven to the second, without real pauses."""

from __future__ import annotations


class FakeClock:
    """Call it for the time; sleep(seconds) moves it on (never backwards)."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.slept: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"asked to sleep {seconds} s"
        self.slept.append(seconds)
        self.now += seconds
