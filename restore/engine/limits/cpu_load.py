"""How much of a core this process keeps busy, and what a restore runs at once because of it.

Why: a restore's threads share one GIL. Once the process keeps its core busy, more threads at work
cannot make it faster: every extra runnable thread adds hand-overs of the GIL and of SQLite's
write lock, which cost CPU of their own. Measured (`bench/overhead.py`, a destination answering
at once, 2,112 items): 8 workers with their fan-out used 3.9-4.6 ms of CPU per item, 3 workers
without fan-out 2.9 ms, and finished sooner. Against a real Looker, whose answers take tens of
milliseconds, the process is far from busy and nothing here changes anything: all workers run and
tiles fan out as configured.

So, while the process is busy (`SATURATED`): a dashboard's sub-requests run one after another in
its worker instead of fanning out (`item.fanout`), and fewer items start at once
(`ActiveItems`), one fewer every `STEP_S` down to `LEAST_ITEMS`, one more each `STEP_S` once the
load is below `RELAXED`. Only how many run at once changes: what is sent, and in which order per
item, is the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from restore.engine.limits.db_budget import release_idle

# CPU seconds per wall second (all threads) at or above which the process counts as busy. One
# core's worth, not less: a process whose threads hold the GIL most of the time still spends some
# of it outside (SQLite, socket calls), so 8 workers against an instant destination measure
# 1.03-1.06, and 0.9 is where answers taking 5 ms still needed every worker (cut at 0.9, such a
# restore ran 145 items/s instead of 171-180).
SATURATED = 1.0
RELAXED = 0.9
WINDOW_S = 0.25  # the load is measured over at least this long
STEP_S = 0.25  # the item limit moves by one at most this often
LEAST_ITEMS = 2


class CpuLoad:
    """The process' CPU seconds per wall second over the last completed window (all threads).

    Read by every worker for every batch of sub-requests: a reading is two clock calls, and the
    window moves on in whichever thread finds it over."""

    def __init__(
        self,
        cpu: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cpu, self.clock = cpu, clock
        self._lock = threading.Lock()
        self._at, self._used = clock(), cpu()
        self._busy = 0.0

    def busy(self) -> float:
        now = self.clock()
        if now - self._at >= WINDOW_S and self._lock.acquire(blocking=False):
            try:
                used = self._cpu()
                self._busy = (used - self._used) / (now - self._at)
                self._at, self._used = now, used
            finally:
                self._lock.release()
        return self._busy

    def saturated(self) -> bool:
        return self.busy() >= SATURATED


cpu_load = CpuLoad()


class ActiveItems:
    """At most `limit` items of a level restored at once: `most` (the workers) while the process
    has CPU to spare, down to `least` while it is busy; always `most` without a `load`. Waiting
    holds nothing (no database connection, no lock), so a smaller limit can delay an item but
    never stop one."""

    def __init__(self, most: int, load: CpuLoad | None, *, least: int = LEAST_ITEMS) -> None:
        self.most = max(most, 1)
        self.least = min(least, self.most)
        self.limit = self.most
        self.running = 0
        self._load = load
        self._cond = threading.Condition()
        self._moved_at = load.clock() if load is not None else 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            self._adjust()
            if self.running >= self.limit:
                release_idle()  # the items running may need its pooled connection
                while self.running >= self.limit:
                    self._cond.wait()
            self.running += 1
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                self._adjust()
                self._cond.notify()

    def _adjust(self) -> None:
        if self._load is None:
            return
        now = self._load.clock()
        if now - self._moved_at < STEP_S:
            return
        busy = self._load.busy()
        if busy >= SATURATED and self.limit > self.least:
            self.limit -= 1
        elif busy < RELAXED and self.limit < self.most:
            self.limit += 1
            self._cond.notify()
        else:
            return
        self._moved_at = now
