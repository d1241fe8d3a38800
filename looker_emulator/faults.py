"""Injected faults and timing: latency, rate limit, random 5xx, resets, hangs, scripted rules.

Everything random draws from one `random.Random(seed)`, a fixed number of draws per request, so a run
with the same seed and the same request order sees the same faults.
"""

from __future__ import annotations

import fnmatch
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ACTIONS = ("status", "reset", "reset_after", "hang", "delay")


@dataclass(slots=True)
class Rule:
    """A scripted fault: the next `count` requests (or all during `seconds`) matching method + path.

    `path` is a glob (fnmatch) tested against the request path (`/api/4.0/dashboards/12`) and against the
    route template (`/api/4.0/dashboards/{dashboard_id}`). `action`: status (answer `status` without
    touching state), reset (drop the connection before processing), reset_after (process, then drop
    the connection: the write happened but the client never hears of it), hang (never answer), delay
    (add `delay_ms`, then process normally).
    """

    path: str = "*"
    method: str = "*"
    action: str = "status"
    status: int = 503
    count: int | None = 1
    seconds: float | None = None
    delay_ms: float = 0.0
    retry_after: int | None = None
    until: float | None = None  # monotonic deadline, set from `seconds`
    hits: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown rule action {self.action!r}; one of {ACTIONS}")
        self.method = self.method.upper()
        if self.seconds is not None and self.until is None:
            self.until = time.monotonic() + float(self.seconds)
            if self.count == 1:
                self.count = None

    def live(self, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        return self.count is None or self.count > 0

    def matches(self, method: str, path: str, template: str | None) -> bool:
        if self.method not in ("*", method):
            return False
        return fnmatch.fnmatchcase(path, self.path) or (
            template is not None and fnmatch.fnmatchcase(template, self.path)
        )

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("until")
        if self.until is not None:
            out["seconds_left"] = max(0.0, round(self.until - time.monotonic(), 3))
        return out


@dataclass(slots=True)
class Faults:
    """Current fault settings; change them with `update()` (the control API's POST /_emulator/faults)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit: float = 0.0  # requests per second; 0 = unlimited
    error_rate: float = 0.0  # fraction of requests answered with a random 5xx
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    reset_rate: float = 0.0  # fraction of requests whose connection is dropped unanswered
    reset_after_rate: float = 0.0  # fraction processed (writes happen), then dropped unanswered
    slow_rate: float = 0.0  # fraction of requests delayed by slow_ms
    slow_ms: float = 2000.0
    hang_rate: float = 0.0  # fraction of requests never answered (held for hang_s, then closed)
    hang_s: float = 3600.0
    shuffle_lists: bool = False  # answer every list of objects in random order (see `shuffled`)
    seed: int | None = None
    rules: list[Rule] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rules"}
        out["rules"] = [r.public() for r in self.rules if r.live(time.monotonic())]
        return out


SCALARS = {f.name for f in fields(Faults)} - {"rules", "seed"}


class FaultInjector:
    """Decides, per request, which fault (if any) applies. Runs on the event loop only."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.list_rng = random.Random(self.faults.seed)  # apart: the per-request draws stay fixed
        self._tokens = self.faults.rate_limit  # start with a full second's burst
        self._last = time.monotonic()

    def update(self, changes: dict[str, Any]) -> Faults:
        """Apply a control-API document: scalar settings, `rules` (replace), `add_rules` (append),
        `throttle_seconds` (answer 429 to everything for T seconds), `clear` (back to defaults)."""
        unknown = (
            set(changes) - SCALARS - {"rules", "add_rules", "clear", "seed", "throttle_seconds"}
        )
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        f = Faults(seed=self.faults.seed) if changes.get("clear") else self.faults
        for key in SCALARS & set(changes):
            value = changes[key]
            if key == "error_statuses":
                value = [int(v) for v in value]
            elif key == "shuffle_lists":
                value = bool(value)
            else:
                value = float(value)
                if value < 0:
                    raise ValueError(f"{key} must be >= 0")
            setattr(f, key, value)
        if "rules" in changes:
            f.rules = [Rule(**r) for r in changes["rules"]]
        for r in changes.get("add_rules") or ():
            f.rules.append(Rule(**r))
        if changes.get("throttle_seconds"):
            f.rules.append(
                Rule(
                    action="status",
                    status=429,
                    seconds=float(changes["throttle_seconds"]),
                    count=None,
                )
            )
        if "seed" in changes:
            f.seed = None if changes["seed"] is None else int(changes["seed"])
            self.rng = random.Random(f.seed)
            self.list_rng = random.Random(f.seed)
        self.faults = f
        if "rate_limit" in changes or changes.get("clear"):
            self.reset_bucket()
        return f

    def answer(self, result: Any) -> Any:
        """A response body as this injector lets it out (`shuffle_lists`)."""
        return shuffled(result, self.list_rng) if self.faults.shuffle_lists else result

    def rule_for(self, method: str, path: str, template: str | None) -> Rule | None:
        now = time.monotonic()
        live = []
        hit = None
        for rule in self.faults.rules:
            if not rule.live(now):
                continue
            live.append(rule)
            if hit is None and rule.matches(method, path, template):
                hit = rule
        if hit is not None:
            hit.hits += 1
            if hit.count is not None:
                hit.count -= 1
        self.faults.rules = [r for r in live if r.live(now)]
        return hit

    def rate_limited(self) -> int | None:
        """Token bucket of `rate_limit` per second (burst = one second's worth). Retry-After or None."""
        rps = self.faults.rate_limit
        if rps <= 0:
            return None
        now = time.monotonic()
        self._tokens = min(rps, self._tokens + (now - self._last) * rps)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / rps))

    def draw(self) -> tuple[str | None, float]:
        """One request's random fate: (fault kind or None, delay in seconds). Always 6 draws."""
        f = self.faults
        u_reset, u_hang, u_err, u_slow, u_jit, u_after = (self.rng.random() for _ in range(6))
        delay = (f.latency_ms + u_jit * f.jitter_ms) / 1000.0
        if u_slow < f.slow_rate:
            delay += f.slow_ms / 1000.0
        if u_reset < f.reset_rate:
            return "reset", delay
        if u_hang < f.hang_rate:
            return "hang", delay
        if u_err < f.error_rate:
            return "error", delay
        if u_after < f.reset_after_rate:
            return "reset_after", delay
        return None, delay

    def error_status(self) -> int:
        statuses = self.faults.error_statuses or [500]
        return statuses[self.rng.randrange(len(statuses))]

    def reset_bucket(self) -> None:
        self._tokens = self.faults.rate_limit
        self._last = time.monotonic()


def shuffled(value: Any, rng: random.Random) -> Any:
    """An answer with every list of objects in it (a dashboard's tiles, filters, layouts and their
    components, a board's sections and items, a list endpoint's rows) in random order, copied.

    Looker promises no order for them, and clients that pair rows by list position break on a
    real instance only now and then; this makes it happen on every request. Lists of scalars
    (a query's fields, a board's section_order) keep their order: it means something."""
    if isinstance(value, dict):
        return {k: shuffled(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        out = [shuffled(v, rng) for v in value]
        if any(isinstance(v, dict) for v in out):
            rng.shuffle(out)
        return out
    return value
