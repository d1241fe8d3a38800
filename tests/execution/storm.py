"""Measure a restore's request throughput through a 429 storm (the test and the bench use it).

Samples the emulator's own counters (2xx and 429 answers) while a session runs, throws a storm
(every request answered 429 with a Retry-After saying when it ends), and reports the pre-storm
rate, the rate during the storm, and how long after the storm the rate is back within 10%.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class StormReport:
    pre_rate: float
    storm_rate: float
    storm_429s: int
    recovered_after: float | None  # seconds after the storm ended, None if never
    post_rate: float
    samples: list[tuple[float, int, int]] = field(repr=False, default_factory=list)


def _counts(emu) -> tuple[int, int]:
    by_status = emu.stats()["by_status"]
    ok = sum(n for s, n in by_status.items() if str(s).startswith("2"))
    return ok, int(by_status.get("429", 0))


def rate_between(samples, t0: float, t1: float) -> float:
    inside = [s for s in samples if t0 <= s[0] <= t1]
    if len(inside) < 2:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / max(1e-6, inside[-1][0] - inside[0][0])


def measure_storm(
    emu,
    *,
    warmup: float,
    storm: float,
    after: float,
    window: float = 2.0,
    interval: float = 0.25,
    stop: threading.Event | None = None,
) -> StormReport:
    """Call while a session is running against `emu`."""
    samples: list[tuple[float, int, int]] = []
    start = time.monotonic()

    def sample_until(t_end: float) -> None:
        while time.monotonic() - start < t_end and not (stop and stop.is_set()):
            ok, throttled = _counts(emu)
            samples.append((time.monotonic() - start, ok, throttled))
            time.sleep(interval)

    sample_until(warmup)
    storm_start = time.monotonic() - start
    emu.set_faults(throttle_seconds=storm)
    sample_until(storm_start + storm)
    storm_end = time.monotonic() - start
    sample_until(storm_end + after)
    pre = rate_between(samples, warmup * 0.4, storm_start)
    during = rate_between(samples, storm_start + 0.5, storm_end)
    n429 = samples[-1][2] - next(s[2] for s in samples if s[0] >= storm_start)
    recovered = None
    for t, _, _ in samples:
        if t < storm_end:
            continue
        if t + window > samples[-1][0]:
            break
        if rate_between(samples, t, t + window) >= 0.9 * pre:
            recovered = t - storm_end
            break
    post = rate_between(samples, samples[-1][0] - window * 2, samples[-1][0])
    return StormReport(pre, during, n429, recovered, post, samples)
