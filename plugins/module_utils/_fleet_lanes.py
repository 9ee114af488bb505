# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schedule of a fleet wait: a lane per project and endpoint set, its request budget, and which poll goes next.

_fleet.py says what the wait does with each answer; this file says when each request may go (the rules
are in _fleet.py's docstring).

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque

from ansible_collections.atlasops.backup.plugins.module_utils._waiter import MIN_INTERVAL, interval_after

# A 429 pauses its budget as long as Retry-After asks, or without one 1, 2, 4 ... s, at most this long.
LIMITED_PAUSE_CEILING = 60.0
WINDOW = 60.0
# A request goes this long after the one it waits for has left the window, so that no rounding of the clock puts
# both in one window.
WINDOW_MARGIN = 1e-6
# Polls of jobs that are probably still running use at most this share of a budget, spread evenly.
ROUTINE_SHARE = 0.5
# Polls of a job that reaches the fleet's end age that count as likely to find it ended: the predicted one and the
# next (the end age is learned to within one poll interval); after them its polls are routine again.
LIKELY_POLLS = 2
# Atlas gives a job's creation time to the second: a predicted poll goes this long after the end age, so that a job
# made late in its second is not polled before it can have ended.
AGE_RESOLUTION = 1.0


class RequestBudget:
    """At most `limit` requests in any 60 s window of one project and endpoint set: a log of send times.

    A 429 pauses it (Retry-After, or 1, 2, 4 ... s without one) and halves its limit (down to an eighth of
    per_minute); each answer that is not a 429 gives a tenth of per_minute back. Routine polls (see
    FleetWait) also draw from a pacer of their own: routine_share of the limit a minute, spread evenly.
    """

    def __init__(self, per_minute: int, now: float, routine_share: float = ROUTINE_SHARE):
        self.per_minute = per_minute
        self.limit = float(per_minute)
        self.paused_until = now
        self.sent = 0
        self.limited = 0  # 429s seen
        self._strikes = 0  # 429s in a row
        self._log: deque = deque()  # send times of the requests of the last 60 s
        self._routine_share = routine_share
        self._routine_burst = 1.0
        self._routine_level = self._routine_burst
        self._routine_updated = now

    def allowed(self) -> int:
        """Requests a window may hold now."""
        return max(1, int(self.limit + 1e-9))

    def in_window(self, now: float) -> int:
        """Requests sent in the 60 s up to now."""
        log = self._log
        while log and log[0] <= now - WINDOW:
            log.popleft()
        return len(log)

    def next_expiry(self, now: float) -> float:
        """When the oldest request of the window leaves it (now + 60 s when the window is empty)."""
        self.in_window(now)
        return (self._log[0] if self._log else now) + WINDOW + WINDOW_MARGIN

    def ready_at(self, now: float) -> float:
        """When the next request may go."""
        count, allowed = self.in_window(now), self.allowed()
        at = now
        if count >= allowed:
            # the window must lose count - allowed + 1 requests, the oldest first
            at = self._log[count - allowed] + WINDOW + WINDOW_MARGIN
        return max(at, self.paused_until)

    def routine_at(self, now: float) -> float:
        """When the routine pacer lets the next routine poll go (the window aside)."""
        self._refill_routine(now)
        if self._routine_level >= 1.0:
            return now
        return now + (1.0 - self._routine_level) / self._routine_rate()

    def routine_interval(self) -> float:
        """Seconds between two routine polls at the pacer's rate."""
        return 1.0 / self._routine_rate()

    def take(self, now: float, routine: bool = False) -> None:
        self.in_window(now)
        self._log.append(now)
        self.sent += 1
        if routine:
            self._refill_routine(now)
            self._routine_level -= 1.0

    def rate_limited(self, now: float, retry_after: float | None) -> None:
        self.limited += 1
        self._strikes += 1
        # Atlas's Retry-After says when its bucket has room again; without one, back off harder each time
        pause = retry_after if retry_after is not None else min(LIMITED_PAUSE_CEILING, 2.0 ** (self._strikes - 1))
        self.paused_until = max(self.paused_until, now + pause)
        self.limit = max(self.per_minute / 8, self.limit / 2)
        self._refill_routine(now)
        self._routine_level = min(self._routine_level, 0.0)

    def answered(self) -> None:
        self._strikes = 0
        self.limit = min(float(self.per_minute), self.limit + self.per_minute / 10)

    def _routine_rate(self) -> float:
        return max(self.limit, 1.0) * self._routine_share / WINDOW

    def _refill_routine(self, now: float) -> None:
        if now > self._routine_updated:
            self._routine_level = min(self._routine_burst, self._routine_level + (now - self._routine_updated) * self._routine_rate())
            self._routine_updated = now


class Lane:
    """The polls of one project and endpoint set: one budget, the queues, and what the fleet taught about its ends.

    pending holds polls not yet due (by due time); ready the due ones, the oldest job first; starving the due
    ones by when they have waited too long. Entries of an older ticket than their watch's are void.
    """

    def __init__(self, key: tuple, per_minute: int, now: float, *, learns: bool):
        self.key = key
        self.budget = RequestBudget(per_minute, now)
        self.learns = learns  # restore-job lanes learn the fleet's end age; cluster reads are all likely to find it ready
        self.pending: list = []
        self.ready: list = []
        self.starving: list = []
        self.awaited = 0  # watches whose next poll is in this lane
        self.watches: list = []  # every watch that was ever in this lane
        self._known: set = set()  # their serials
        self.end_age = None  # the least age by which a job of this lane is known to have ended
        self.running_age = None  # the greatest age at which a job of this lane was seen still running
        self.predicted: list = []  # sorted (time, serial) of the predicted polls not yet made
        self.last_poll = math.inf  # when the wait's last polls go

    # --- queues ---

    def push(self, watch, due: float, order) -> None:
        if watch.lane is not self:
            if watch.lane is not None:
                watch.lane.awaited -= 1
            if watch.serial not in self._known:
                self._known.add(watch.serial)
                self.watches.append(watch)
            watch.lane = self
            self.awaited += 1
        watch.ticket += 1
        watch.due = due
        heapq.heappush(self.pending, (due, next(order), watch.ticket, watch))

    def leave(self, watch) -> None:
        """The watch has no next poll here."""
        if watch.lane is self:
            self.awaited -= 1
            watch.lane = None
        watch.ticket += 1
        self.unpredict(watch)

    def _promote(self, now: float, fair: float) -> None:
        pending = self.pending
        while pending and (pending[0][3].ticket != pending[0][2] or pending[0][0] <= now):
            dummy, order, ticket, watch = heapq.heappop(pending)
            if watch.ticket != ticket:
                continue
            born = watch.born if watch.born is not None else -math.inf
            heapq.heappush(self.ready, (born, order, ticket, watch))
            heapq.heappush(self.starving, (self._starve_at(watch, fair), order, ticket, watch))

    def _starve_at(self, watch, fair: float) -> float:
        """When the watch has waited too long: its schedule or its fair share of the routine budget, whichever is longer."""
        last = watch.last_poll if watch.last_poll is not None else watch.born
        if last is None:
            return -math.inf
        return last + max(interval_after(watch.polled_age or 0.0), fair)

    @staticmethod
    def _top(heap: list):
        while heap and heap[0][3].ticket != heap[0][2]:
            heapq.heappop(heap)
        return heap[0] if heap else None

    # --- what the fleet teaches ---

    def likely(self, watch, now: float) -> bool:
        """Whether a poll of the watch now is likely to find its job ended (or its target ready)."""
        if not self.learns or now >= self.last_poll:
            return True  # cluster reads; and the last polls of the wait, its last chance to see the jobs end
        if watch.born is None:
            # its first read, nothing known of it yet: at once while the window is at most half full, then routine
            return self.budget.in_window(now) < self.budget.allowed() * (1.0 - ROUTINE_SHARE)
        return self.end_age is not None and watch.likely_left > 0 and now + 1e-9 >= self.likely_from(watch)

    def likely_from(self, watch) -> float:
        """When the watch reaches the fleet's end age (its predicted end)."""
        return watch.born + self.end_age + AGE_RESOLUTION

    def ran(self, age: float) -> None:
        """A job of this lane was seen still running at this age."""
        if self.learns and (self.running_age is None or age > self.running_age):
            self.running_age = age

    def informative_from(self, watch) -> float:
        """When a routine poll of the watch can tell more than the lane's last poll of a running job did.

        Before the fleet's end is known, a job younger than one seen running, give or take its poll interval, is
        taken to be running too (restores of one fleet are alike): the oldest job is read on its schedule, the others
        when they pass it, or when they starve.
        """
        if not self.learns or self.running_age is None or watch.born is None:
            return -math.inf
        return watch.born + self.running_age + interval_after(self.running_age)

    def learn(self, age: float, now: float, order) -> None:
        """A job of this lane was seen completed at this age: the others are polled when they reach it."""
        if not self.learns or (self.end_age is not None and age >= self.end_age):
            return
        self.end_age = age
        for watch in self.watches:
            if watch.lane is self and watch.phase == "job" and watch.born is not None:
                self.predict(watch, now, order)

    def predict(self, watch, now: float, order) -> None:
        """Queue the watch's predicted poll, at the age the fleet's jobs end, if it was not yet polled at that age."""
        self.unpredict(watch)
        if self.end_age is None or watch.born is None or (watch.polled_age is not None and watch.polled_age >= self.end_age):
            return
        # never sooner after its last poll than its schedule's shortest interval
        at = max(now, self.likely_from(watch), (watch.last_poll if watch.last_poll is not None else -math.inf) + MIN_INTERVAL)
        watch.predicted, watch.likely_left = (at, watch.serial), LIKELY_POLLS
        bisect.insort(self.predicted, watch.predicted)
        if at < watch.due:
            self.push(watch, at, order)

    def unpredict(self, watch) -> None:
        if watch.predicted is not None:
            index = bisect.bisect_left(self.predicted, watch.predicted)
            if index < len(self.predicted) and self.predicted[index] == watch.predicted:
                del self.predicted[index]
            watch.predicted = None

    # --- choosing the next poll ---

    def gate(self, now: float, likely: bool, starving: bool) -> float:
        """When a poll of this kind may go."""
        budget = self.budget
        at = budget.ready_at(now)
        if likely:
            return at
        at = max(at, budget.routine_at(now))
        if not starving:
            # leave room in the window for the predicted polls of the coming minute
            reserved = bisect.bisect_right(self.predicted, (now + WINDOW, math.inf))
            if budget.in_window(now) + reserved >= budget.allowed():
                at = max(at, budget.next_expiry(now))
        return at

    def choice(self, now: float):
        """(time, watch, routine) of the next poll of this lane, (time, None, False) to look again then, or None."""
        fair = self.awaited * self.budget.routine_interval()
        self._promote(now, fair)
        best = None
        starving = self._top(self.starving)
        candidates = []
        if starving is not None and starving[0] <= now:
            candidates.append((starving[3], True))
        oldest = self._top(self.ready)
        if oldest is not None:
            candidates.append((oldest[3], False))
        wake = math.inf
        for watch, hungry in candidates:
            likely = self.likely(watch, now)
            if not likely and watch.likely_left > 0 and watch.born is not None and self.likely_from(watch) > now:
                wake = min(wake, self.likely_from(watch))  # it becomes likely then: look again
            informative_at = -math.inf if likely or hungry else self.informative_from(watch)
            if informative_at > now:
                # the oldest due job tells nothing new yet (nor do the younger ones behind it): look again then
                wake = min(wake, informative_at)
                continue
            at = self.gate(now, likely, hungry)
            if best is None or at < best[0]:
                best = (at, watch, not likely)
        top = self._top(self.pending)
        if top is not None:
            wake = min(wake, top[0])
        if starving is not None and starving[0] > now:
            wake = min(wake, starving[0])
        if best is None or wake < best[0]:
            return (wake, None, False) if wake < math.inf else best
        return best

    def taken(self, watch) -> None:
        """The watch's poll goes now: void its queue entries (it is queued again after the poll)."""
        watch.ticket += 1
        watch.due = math.inf
