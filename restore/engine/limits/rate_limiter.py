"""One adaptive rate limiter shared by every worker of a session (and across processes).

The limiter is the session's `RequestGate`: `acquire()` before each request, `record(status,
retry_after)` after. Two modes:

- **Finding the capacity** (the default: no rate configured). No limit until the destination
  pushes back: the session already caps its requests in flight (workers + fan-out), and a capped
  client paces itself by the destination's answers (a slower answer delays the next request), so
  a rate at the start would only make every restore wait for it (a start at 10/s, doubling every
  50 ms, kept each worker waiting about half a second). On a 429 every worker pauses for the
  server's Retry-After and the rate is cut to half of what the destination was taking; on latency
  climbing (this process' median of a second well above the lowest median of the last half
  minute, while this process is not itself the bottleneck: a saturated client delays its own
  answers) it is cut to 70%. After a cut the rate grows back by half every second while the
  destination answers without 429s and without many 5xx, and stops limiting once past one and a
  half times the rate the trouble began at (or once the workers no longer wait for it). Why it
  settled where it is is in `reason`.
- **A ceiling** (`--rate-limit-per-second` / `--rate-limit-per-minute`): it starts there, never
  goes above it, still backs off on 429 and climbs back to the ceiling after sustained success.

The algorithm is a pure function of a small state dict (`take`, `observe`), so the in-process store
(a lock), the database store (a row updated in a transaction) and the Redis store (WATCH/MULTI) all
behave the same and are tested once. Latency is measured per process (a sample per request would
cost a shared-store round trip); the cut it decides goes into the shared state.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from restore.engine.core.config import RestoreConfig

State = dict[str, Any]

# Every change of the rate and why (`_say`): a restore's log tells how the limiter started.
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LimiterParams:
    """Knobs of the adaptive behaviour. `base_rate` None means no configured ceiling: find it."""

    base_rate: float | None
    min_rate: float = 0.5
    decrease: float = 0.5
    latency_decrease: float = 0.7
    increase: float = 1.5
    recovery_interval: float = 1.0
    default_pause: float = 1.0
    max_pause: float = 120.0
    burst_seconds: float = 1.0
    observe_window: float = 5.0
    # What the destination took, measured over at least this long: at the start its answers come
    # in a burst (a token bucket lets a second's worth through at once), and a 429 after a tenth
    # of a second must not read 50 answers as 500/s.
    observe_min_span: float = 0.5
    # Latency climbing: this second's median above both factor × and floor + the baseline (the
    # lowest median of the last `latency_memory` seconds). The floor keeps scheduling noise of a
    # busy client (a few ms against a 0 ms destination) from counting as the destination's.
    latency_window: float = 1.0
    latency_memory: int = 30
    latency_min_samples: int = 10
    latency_factor: float = 2.0
    latency_floor: float = 0.1
    latency_cut_gap: float = 3.0
    # This process busier than this (CPU seconds per second, one GIL): its own threads are what
    # delays the answers, not the destination, so latency says nothing about the destination.
    # Measured: a restore saturating its core saw 36 → 180 ms against a 0 ms emulator.
    busy_client: float = 0.7
    # More 5xx than this share of an interval's answers: no increase in that interval.
    error_share: float = 0.1

    def capacity(self, rate: float) -> float:
        return max(1.0, rate * self.burst_seconds)

    @property
    def adaptive(self) -> bool:
        return self.base_rate is None


def base_rate_from(config: RestoreConfig) -> float | None:
    """The stricter of requests/second and requests/minute, as a per-second rate."""
    rates = []
    if config.rate_limit_per_second:
        rates.append(float(config.rate_limit_per_second))
    if config.rate_limit_per_minute:
        rates.append(float(config.rate_limit_per_minute) / 60.0)
    return min(rates) if rates else None


def initial_state(params: LimiterParams, now: float) -> State:
    rate = params.base_rate
    return {
        "rate": rate,
        "tokens": 0.0 if rate is None else params.capacity(rate),
        "at": now,
        "blocked_until": 0.0,
        "last_cut": -1e18,
        "last_raise": now,
        "ceiling": 0.0,
        "throttles": 0,
        "requests": 0,
        "last_retry_after": None,
        "last_429_at": None,
        "obs_start": now,
        "obs_count": 0,
        "obs_rate": 0.0,
        # this interval (since last_raise): answers, 5xx among them, takes that had to wait
        "int_count": 0,
        "int_errors": 0,
        "int_waits": 0,
        "peak_rate": 0.0,
        "latency_cuts": 0,
        "reason": (
            f"ceiling {rate:g}/s as configured"
            if rate is not None
            else "no limit until the destination pushes back (a 429 or climbing latency):"
            " the requests in flight are capped"
        ),
    }


def take(state: State, params: LimiterParams, now: float) -> float:
    """Try to take one token: 0.0 when granted, else how many seconds to wait before trying again."""
    if now < state["blocked_until"]:
        return state["blocked_until"] - now
    rate = state["rate"]
    if rate is None:
        return 0.0
    elapsed = max(0.0, now - state["at"])
    state["tokens"] = min(params.capacity(rate), state["tokens"] + elapsed * rate)
    state["at"] = now
    if state["tokens"] >= 1.0 - 1e-9:  # float dust must not make a waiter spin
        state["tokens"] = max(0.0, state["tokens"] - 1.0)
        return 0.0
    state["int_waits"] = state.get("int_waits", 0) + 1  # the rate binds: the workers want more
    return (1.0 - state["tokens"]) / rate


def observe(
    state: State,
    params: LimiterParams,
    now: float,
    status: int | None,
    retry_after: float | None,
    *,
    also_ok: int = 0,
) -> bool:
    """Account for one finished request (and `also_ok` earlier successes not reported yet).
    Returns True when the state changed beyond counters."""
    state["requests"] += 1 + also_ok
    _count_throughput(state, params, now, 1 + also_ok)
    state["int_count"] = state.get("int_count", 0) + 1 + also_ok
    if status is not None and status >= 500:
        state["int_errors"] = state.get("int_errors", 0) + 1
    if status == 429:
        return _throttle(state, params, now, retry_after)
    return _maybe_recover(state, params, now)


def _count_throughput(state: State, params: LimiterParams, now: float, n: int = 1) -> None:
    state["obs_count"] += n
    span = now - state["obs_start"]
    if span >= params.observe_window:
        state["obs_rate"] = state["obs_count"] / span
        state["peak_rate"] = max(state.get("peak_rate", 0.0), state["obs_rate"])
        state["obs_start"] = now
        state["obs_count"] = 0


def _observed_rate(state: State, params: LimiterParams, now: float) -> float:
    span = max(now - state["obs_start"], params.observe_min_span)
    return max(state["obs_count"] / span, state["obs_rate"])


def _cut(state: State, params: LimiterParams, now: float, factor: float) -> float:
    """Cut the rate in force (or, unlimited, what the destination was taking) by `factor`."""
    current = state["rate"]
    if current is None:
        current = max(params.min_rate, _observed_rate(state, params, now))
        state["ceiling"] = max(state["ceiling"], current)
    elif params.adaptive:
        state["ceiling"] = current
    cap = params.base_rate if params.base_rate is not None else float("inf")
    state["rate"] = min(cap, max(params.min_rate, current * factor))
    state["last_cut"] = now
    state["last_raise"] = max(now, state["blocked_until"])
    _new_interval(state)
    return current


def _throttle(state: State, params: LimiterParams, now: float, retry_after: float | None) -> bool:
    pause = min(params.max_pause, retry_after if retry_after is not None else params.default_pause)
    state["throttles"] += 1
    state["last_retry_after"] = retry_after
    state["last_429_at"] = now
    state["blocked_until"] = max(state["blocked_until"], now + pause)
    state["tokens"] = 0.0
    state["at"] = max(state["at"], state["blocked_until"])
    state["last_raise"] = state["blocked_until"]
    # Workers that were already in flight when the storm began all report it: cut once per pause.
    if now - state["last_cut"] < max(params.recovery_interval, pause):
        return True
    after = retry_after if retry_after is not None else "—"
    _cut_saying(
        state,
        params,
        now,
        params.decrease,
        lambda was: f"429 at {was:.1f} requests/s (Retry-After {after} s): paused, cut",
    )
    return True


def latency_cut(
    state: State, params: LimiterParams, now: float, baseline: float, current: float
) -> bool:
    """The destination's latency climbed (seen by one process): cut the shared rate to 70%."""
    if now - state.get("last_latency_cut", -1e18) < params.latency_cut_gap:
        return False
    state["last_latency_cut"] = now
    state["latency_cuts"] = state.get("latency_cuts", 0) + 1
    climbed = f"latency climbed from {baseline * 1000:.0f} to {current * 1000:.0f} ms"
    _cut_saying(
        state,
        params,
        now,
        params.latency_decrease,
        lambda was: f"{climbed} at {was:.1f} requests/s: cut",
    )
    return True


def _cut_saying(
    state: State, params: LimiterParams, now: float, factor: float, why: Callable[[float], str]
) -> None:
    """Cut the rate by `factor` and say why: `why(rate before the cut)` + " to <new rate>/s"."""
    was = _cut(state, params, now, factor)
    _say(state, f"{why(was)} to {state['rate']:.1f}/s")


def _say(state: State, reason: str) -> None:
    """Why the rate is what it is; the last few changes kept for the session page."""
    state["reason"] = reason
    log.info("rate limiter: %s", reason)
    events = state.setdefault("events", [])
    events.append(reason)
    del events[:-5]


def _new_interval(state: State) -> None:
    state["int_count"] = state["int_errors"] = state["int_waits"] = 0


def _maybe_recover(state: State, params: LimiterParams, now: float) -> bool:
    """After a cut (or below a ceiling): grow back by half every second of sustained success."""
    rate = state["rate"]
    if rate is None or (params.base_rate is not None and rate >= params.base_rate):
        return False
    if now < state["blocked_until"] or now - state["last_raise"] < params.recovery_interval:
        return False
    count, errors, waits = state["int_count"], state["int_errors"], state["int_waits"]
    span = now - state["last_raise"]
    state["last_raise"] = now
    _new_interval(state)
    if params.adaptive and count and errors > params.error_share * count:
        _say(state, f"holding at {rate:.1f}/s: {errors} of {count} answers were 5xx")
        return True
    if params.base_rate is not None:
        state["rate"] = min(rate * params.increase, params.base_rate)
        if state["rate"] >= params.base_rate:
            _say(state, f"back at the ceiling of {params.base_rate:g}/s")
        return True
    used = count / span if span > 0 else 0.0
    if not waits and used >= rate / 4:
        # Nobody waited for a token while the workers used a good part of the rate: their own
        # pace, not the limiter, bounds them now.
        return _free(state, f"no limit needed: no request waited at {rate:.1f}/s ({used:.0f}/s)")
    rate *= params.increase
    if rate >= state["ceiling"] * params.increase:
        return _free(
            state,
            f"no limit in force: recovered past 1.5 × the {state['ceiling']:.1f}/s where the"
            f" destination last pushed back",
        )
    state["rate"] = rate
    return True


def _free(state: State, reason: str) -> bool:
    state["rate"] = None
    _say(state, reason)
    return True


def public_state(state: State, params: LimiterParams, now: float) -> dict[str, Any]:
    """What progress pages show: configured vs current rate, why, pause left, 429 count."""
    blocked_for = max(0.0, state["blocked_until"] - now)
    rate = state["rate"]
    throttled = blocked_for > 0 or (
        rate is not None and (params.base_rate is None or rate < params.base_rate - 1e-9)
    )
    observed = _observed_rate(state, params, now)
    return {
        "mode": "ceiling" if params.base_rate is not None else "finding capacity",
        "configured_rate": params.base_rate,
        "current_rate": None if rate is None else round(rate, 3),
        # Where it settled: the rate in force, or unlimited, what the destination is taking.
        "settled_rate": round(rate if rate is not None else observed, 1),
        "peak_rate": round(max(state.get("peak_rate", 0.0), observed), 1),
        "reason": state.get("reason", ""),
        "recent_reasons": list(state.get("events", []))[:-1][-4:],
        "throttled": throttled,
        "paused_for": round(blocked_for, 3),
        "throttle_events": state["throttles"],
        "latency_cuts": state.get("latency_cuts", 0),
        "last_retry_after": state["last_retry_after"],
        "seconds_since_429": None
        if state["last_429_at"] is None
        else round(now - state["last_429_at"], 3),
        "requests": state["requests"],
    }


class Store(Protocol):
    """Holds the state and applies a function to it atomically."""

    kind: str

    def apply(self, fn: Callable[[State, float], Any]) -> tuple[Any, State]: ...


class LocalStore:
    """State in this process, guarded by a lock: all threads of one runner share it."""

    kind = "local"

    def __init__(self, params: LimiterParams, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._state = initial_state(params, clock())

    def apply(self, fn: Callable[[State, float], Any]) -> tuple[Any, State]:
        with self._lock:
            result = fn(self._state, self._clock())
            return result, dict(self._state)

    def run(self, fn: Callable[[State, float], Any]) -> Any:
        """`apply` without the copy of the state: for the per-request calls, whose snapshot
        nothing reads (a local limiter reads its state under the lock, and `state()` applies)."""
        with self._lock:
            return fn(self._state, self._clock())


class DatabaseStore:
    """State in one `RateLimitState` row, changed inside a transaction that locks the row.

    SQLite serialises the transaction (IMMEDIATE mode); PostgreSQL locks the row with FOR UPDATE.
    Wall-clock time, since processes do not share a monotonic clock.
    """

    kind = "database"

    def __init__(self, key: str, params: LimiterParams) -> None:
        from restore.models import RateLimitState

        self.key = key
        self.params = params
        RateLimitState.objects.get_or_create(
            key=key, defaults={"state": initial_state(params, time.time())}
        )

    def apply(self, fn: Callable[[State, float], Any]) -> tuple[Any, State]:
        from django.db import transaction

        from restore.models import RateLimitState

        with transaction.atomic():
            row = RateLimitState.objects.select_for_update().get(key=self.key)
            state = row.state
            result = fn(state, time.time())
            RateLimitState.objects.filter(pk=row.pk).update(state=state)
        return result, state


class RedisStore:
    """State in one Redis key, changed with optimistic WATCH/MULTI transactions."""

    kind = "redis"

    def __init__(self, key: str, params: LimiterParams, url: str, ttl: int = 7 * 86400) -> None:
        import redis

        self.key = f"lookervault:ratelimit:{key}"
        self.ttl = ttl
        self.client = redis.Redis.from_url(url)
        self.client.set(self.key, json.dumps(initial_state(params, time.time())), nx=True, ex=ttl)

    def apply(self, fn: Callable[[State, float], Any]) -> tuple[Any, State]:
        import redis

        for _ in range(1000):
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(self.key)
                    state = json.loads(pipe.get(self.key))
                    result = fn(state, time.time())
                    pipe.multi()
                    pipe.set(self.key, json.dumps(state), ex=self.ttl)
                    pipe.execute()
                    return result, state
                except redis.WatchError:
                    continue
        raise RuntimeError("rate limiter state under too much contention")


class CpuWanted:
    """CPU seconds this process used, plus the seconds its threads waited for a CPU while
    runnable (Linux `<task_dir>/*/schedstat`). On a machine shared with other busy processes, a
    client starved of CPU delays its own answers as surely as one that uses a whole core;
    `process_time` alone misses that. Elsewhere, `process_time`.

    Never goes backwards: the task directory lists live threads only, so each thread's last
    reading is remembered and kept once the thread has ended (or its ID is reused)."""

    def __init__(self, task_dir: str = "/proc/self/task") -> None:
        self._dir = task_dir
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}  # nanoseconds per live thread at the last reading
        self._ended = 0  # nanoseconds of threads gone since

    def __call__(self) -> float:
        try:
            now = self._read_threads()
        except OSError:
            return time.process_time()
        with self._lock:
            for tid, before in self._last.items():
                if now.get(tid, -1) < before:  # ended, or a new thread under a reused ID
                    self._ended += before
            self._last = now
            return (self._ended + sum(now.values())) / 1e9

    def _read_threads(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for tid in os.listdir(self._dir):
            try:
                with open(f"{self._dir}/{tid}/schedstat", "rb") as f:
                    on_cpu, waiting = f.read().split()[:2]
            except (OSError, ValueError):
                continue  # a thread that ended in between
            found[tid] = int(on_cpu) + int(waiting)
        return found


cpu_wanted_seconds = CpuWanted()


class CpuBusy:
    """The CPU this process wanted per wall second since the last call: used, or waited for
    while runnable (threads share one GIL, so near 1 it is the bottleneck itself)."""

    def __init__(self, cpu: Callable[[], float] = cpu_wanted_seconds) -> None:
        self._lock = threading.Lock()
        self._read = cpu
        self._at = time.monotonic()
        self._cpu = cpu()

    def __call__(self) -> float:
        with self._lock:
            now, cpu = time.monotonic(), self._read()
            span = now - self._at
            busy = (cpu - self._cpu) / span if span > 0 else 0.0
            self._at, self._cpu = now, cpu
            return busy


# With a shared store and no rate in force, the longest a process goes without reading the state
# (and reporting its successes): how late it can notice another process' 429 pause.
SHARED_REFRESH_S = 0.25


class AdaptiveRateLimiter:
    """The session's RequestGate. Thread-safe; with a shared store, process-safe too."""

    def __init__(
        self,
        params: LimiterParams,
        store: Store | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[], float] | None = None,
    ) -> None:
        self.params = params
        self._busy = busy or CpuBusy()
        self.store = store or LocalStore(params, clock)
        self._sleep = sleep
        self._clock = clock
        self._snapshot: State = initial_state(params, 0.0)
        self._snapshot_at = -1e18  # never read yet
        self._pending_lock = threading.Lock()
        self._pending_ok = 0  # successes not reported to a shared store yet
        # Latency, this process' own: when each thread's request was let go, the samples of the
        # current window, the medians of the last windows (their lowest is the baseline).
        self._local = threading.local()
        self._lat_lock = threading.Lock()
        self._lat_samples: list[float] = []
        self._lat_start = clock()
        self._lat_medians: deque[float] = deque(maxlen=params.latency_memory)
        self._lat_seen: tuple[float | None, float | None] = (None, None)

    @classmethod
    def from_config(cls, config: RestoreConfig, **kwargs: Any) -> AdaptiveRateLimiter:
        return cls(LimiterParams(base_rate=base_rate_from(config)), **kwargs)

    def acquire(self) -> None:
        """Block until this worker may send one request."""
        if not self._free_to_go():
            while True:
                wait = self._per_request(lambda s, now: take(s, self.params, now))
                if wait <= 0:
                    break
                self._sleep(min(wait, 0.25))
        if self.params.adaptive:
            self._local.sent = self._clock()

    def record(self, status: int | None, retry_after: float | None = None) -> None:
        """Report how a request ended (status None for connection errors and timeouts)."""
        if self.params.adaptive:
            sent = getattr(self._local, "sent", None)
            self._local.sent = None
            if sent is not None and status is not None and status < 429:
                self._sample(self._clock() - sent)
        if status != 429 and self._unlimited_shared():
            with self._pending_lock:
                self._pending_ok += 1
            if self._clock() - self._snapshot_at >= SHARED_REFRESH_S:
                self._apply(lambda s, now: None)  # reports them
            return
        if status != 429 and not self._may_change(status):
            return
        self._per_request(lambda s, now: observe(s, self.params, now, status, retry_after))

    def _sample(self, latency: float) -> None:
        """One answered request's latency; at the end of each window, cut the shared rate when
        the window's median climbed well above the baseline."""
        params = self.params
        now = self._clock()
        with self._lat_lock:
            self._lat_samples.append(latency)
            if now - self._lat_start < params.latency_window:
                return
            samples, self._lat_samples, self._lat_start = self._lat_samples, [], now
            if len(samples) < params.latency_min_samples:
                return
            current = statistics.median(samples)
            if self._busy() >= params.busy_client:
                return  # our own CPU is the bottleneck: the samples measure us, not Looker
            history = self._lat_medians
            baseline = min(history) if len(history) >= 3 else None
            history.append(current)
            self._lat_seen = (baseline, current)
        if baseline is None or current <= max(
            baseline * params.latency_factor, baseline + params.latency_floor
        ):
            return
        if self._apply(lambda s, t: latency_cut(s, params, t, baseline, current)):
            with self._lat_lock:
                self._lat_medians.clear()  # learn the baseline again at the lower rate

    def _per_request(self, fn: Callable[[State, float], Any]) -> Any:
        """`_apply` for a request's take and report: in-process, no snapshot copied."""
        if isinstance(self.store, LocalStore):
            return self.store.run(fn)
        return self._apply(fn)

    def _apply(self, fn: Callable[[State, float], Any]) -> Any:
        """`fn` on the store's state, after reporting the successes not reported yet."""
        pending = 0
        if self._pending_ok:  # only ever non-zero with a shared store: no lock per local request
            with self._pending_lock:
                pending, self._pending_ok = self._pending_ok, 0

        def with_pending(state: State, now: float) -> Any:
            if pending:
                observe(state, self.params, now, 200, None, also_ok=pending - 1)
            return fn(state, now)

        self._snapshot_at = self._clock()
        result, self._snapshot = self.store.apply(with_pending)
        return result

    def _unlimited_shared(self) -> bool:
        return self.store.kind != "local" and self._snapshot.get("rate") is None

    def _free_to_go(self) -> bool:
        """Shared store, no rate in force, no pause: no round trip per request (two database
        transactions per request serialised every process of a distributed session). The state
        is read again at least every SHARED_REFRESH_S, when successes are reported in one batch,
        so another process' 429 pauses this one within that time."""
        if not self._unlimited_shared():
            return False
        if self._clock() - self._snapshot_at >= SHARED_REFRESH_S:
            return False
        return time.time() >= self._snapshot.get("blocked_until", 0.0)

    def _may_change(self, status: int | None) -> bool:
        # A shared store costs a round trip: skip successes while we know we are at full rate.
        if self.store.kind == "local":
            return True
        rate = self._snapshot.get("rate")
        return rate != self.params.base_rate

    def state(self) -> dict[str, Any]:
        """The limiter as progress pages show it."""
        self._apply(lambda s, now: None)
        snapshot = self._snapshot
        now = time.time() if self.store.kind != "local" else self._clock()
        out = public_state(snapshot, self.params, now)
        out["scope"] = self.store.kind
        if self.params.adaptive:
            baseline, current = self._lat_seen
            out["latency_ms"] = None if current is None else round(current * 1000, 1)
            out["baseline_latency_ms"] = None if baseline is None else round(baseline * 1000, 1)
        return out


def shared_limiter(key: str, config: RestoreConfig) -> AdaptiveRateLimiter:
    """A limiter shared across processes: in Redis when REDIS_URL is set, else in the database."""
    from django.conf import settings

    params = LimiterParams(base_rate=base_rate_from(config))
    url = getattr(settings, "REDIS_URL", "")
    # Session IDs start at 1 in every database: two databases sharing a Redis must not share
    # (or inherit, for a week) each other's limiter state.
    database = settings.DATABASES["default"].get("NAME", "")
    store: Store = (
        RedisStore(f"{database}:{key}", params, url) if url else DatabaseStore(key, params)
    )
    return AdaptiveRateLimiter(params, store)
