"""Fault injection rules: status answers, dropped connections, delays and expired tokens."""

from __future__ import annotations

import random
import threading

ACTIONS = ("status", "drop_before", "drop_after", "delay", "late", "expire_token", "lag_list", "truncate", "redirect")
TOKEN_OPERATION = "oauth_token"
_FIELDS = ("operation_id", "method", "path_contains", "action", "status", "retry_after", "error_code", "detail",
           "delay_seconds", "delay_before_processing", "skip", "times", "probability", "seed", "lag_seconds", "location",
           "chunked")


class FaultError(ValueError):
    pass


class FaultRule:
    __slots__ = _FIELDS + ("id", "matched", "applied", "rng")

    def __init__(self, rule_id, spec, shared_rng):
        unknown = sorted(set(spec) - set(_FIELDS))
        if unknown:
            raise FaultError("unknown fault rule fields: %s" % ", ".join(unknown))
        self.id = rule_id
        self.operation_id = spec.get("operation_id")
        self.method = spec["method"].upper() if spec.get("method") else None
        self.path_contains = spec.get("path_contains")
        self.action = spec.get("action") or ("status" if spec.get("status") else None)
        if self.action not in ACTIONS:
            raise FaultError("action must be one of %s" % ", ".join(ACTIONS))
        self.status = None
        if self.action == "status":
            self.status = int(spec.get("status") or 500)
            if not 400 <= self.status <= 599:
                raise FaultError("status must be 400..599")
        elif self.action == "redirect":
            self.status = int(spec.get("status") or 302)
            if not 300 <= self.status <= 399:
                raise FaultError("a redirect status must be 300..399")
        self.lag_seconds = float(spec.get("lag_seconds") or 0.0)
        if self.action == "lag_list" and self.lag_seconds <= 0:
            raise FaultError("a lag_list rule needs lag_seconds > 0")
        self.location = spec.get("location")
        self.chunked = bool(spec.get("chunked"))
        self.retry_after = spec.get("retry_after")
        self.error_code = spec.get("error_code") or (
            "RATE_LIMITED" if self.status == 429 else "UNEXPECTED_ERROR")
        self.detail = spec.get("detail")
        self.delay_seconds = float(spec.get("delay_seconds") or 0.0)
        if self.action in ("delay", "late") and self.delay_seconds <= 0:
            raise FaultError("a delay rule needs delay_seconds > 0")
        self.delay_before_processing = bool(spec.get("delay_before_processing"))
        self.skip = int(spec.get("skip") or 0)
        self.times = int(spec.get("times") if spec.get("times") is not None else 1)
        self.probability = spec.get("probability")
        if self.probability is not None:
            self.probability = float(self.probability)
            if not 0.0 <= self.probability <= 1.0:
                raise FaultError("probability must be 0..1")
        self.seed = spec.get("seed")
        self.rng = random.Random(self.seed) if self.seed is not None else shared_rng
        self.matched = 0
        self.applied = 0

    def exhausted(self) -> bool:
        return self.times != -1 and self.applied >= self.times

    def matches(self, operation_id, method, path) -> bool:
        if self.operation_id is not None and self.operation_id != operation_id:
            return False
        if operation_id == TOKEN_OPERATION and self.operation_id is None and not self.path_contains:
            # rules without an operation or path filter target the Admin API, not the token endpoint
            return False
        if self.method is not None and self.method != method.upper():
            return False
        if self.path_contains and self.path_contains not in path:
            return False
        return True

    def as_dict(self) -> dict:
        out = {name: getattr(self, name) for name in _FIELDS}
        out.update({"id": self.id, "matched": self.matched, "applied": self.applied, "exhausted": self.exhausted()})
        return out


class FaultEngine:
    def __init__(self, seed=None):
        self._lock = threading.Lock()
        self._rules = []
        self._next = 1
        self._tallies = {}
        self._status_tallies = {}
        self._seed = seed
        self._rng = random.Random(seed)

    def clear(self, seed=None):
        with self._lock:
            self._rules = []
            self._tallies = {}
            self._status_tallies = {}
            self._seed = seed
            self._rng = random.Random(seed)

    def set_seed(self, seed):
        with self._lock:
            self._seed = seed
            self._rng = random.Random(seed)

    def add(self, specs) -> list:
        with self._lock:
            rules = []
            for spec in specs:
                if not isinstance(spec, dict):
                    raise FaultError("a fault rule must be an object")
                rules.append(FaultRule("f%d" % (self._next + len(rules)), spec, self._rng))
            self._next += len(rules)
            self._rules.extend(rules)
            return [rule.id for rule in rules]

    def pick(self, operation_id, method, path):
        """The rule to apply to this request, or None.

        Every rule counts every request its filter matches (so ``skip: 3`` means "from the 4th matching request
        on", whatever earlier rules did to the first three); the first rule, in the order added, that is past its
        ``skip``, not exhausted and wins its ``probability`` draw is applied.
        """
        chosen = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(operation_id, method, path):
                    continue
                rule.matched += 1
                if chosen is not None or rule.exhausted() or rule.matched <= rule.skip:
                    continue
                if rule.probability is not None and rule.rng.random() >= rule.probability:
                    continue
                chosen = rule
            if chosen is not None:
                chosen.applied += 1
                self._tallies[chosen.action] = self._tallies.get(chosen.action, 0) + 1
                if chosen.action == "status":
                    key = str(chosen.status)
                    self._status_tallies[key] = self._status_tallies.get(key, 0) + 1
        return chosen

    def snapshot(self) -> dict:
        with self._lock:
            return {"rules": [rule.as_dict() for rule in self._rules], "tallies": dict(self._tallies),
                    "status_tallies": dict(self._status_tallies), "seed": self._seed}
