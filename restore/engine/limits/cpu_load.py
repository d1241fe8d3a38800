"""How busy this process is, how long the destination takes to answer, and what a restore runs at
once because of both.

Why: a restore's threads share one GIL. Once the process keeps its core busy, more threads at work
cannot make it faster: every extra runnable thread adds hand-overs of the GIL and of SQLite's
write lock, which cost CPU of their own. Measured (`bench/overhead.py`, a destination answering
at once, 2,112 items): 8 workers with their fan-out used 3.0-3.4 ms of CPU per item, 2 workers
without fan-out 2.5 ms, and finished sooner. But a busy process is not enough to tell: answers
that take 5 ms keep it just as busy (0.9-1.0 CPU seconds per second) while every worker and the
fan-out are needed to overlap the waits (cut at 0.9 busy alone, such a restore ran 145 items/s
instead of 171-180). Keeping the threads on one core (`one_core`) later took most of the
hand-overs' cost away (8 workers: 2.30 → 1.58 ms per item); the fitting still saves some on top
(1.57-1.59 ms per item against 1.64-1.77 with it off, alternating).

What tells the two apart is how long answers take against how much CPU a request costs here.
While the process spends `c` seconds of CPU per request and the quick answers take `rtt`, a request
is in flight `rtt + c`, and `(rtt + c) / c` requests at once keep the core busy; `OVERLAP` times
that is what is `needed` (a destination answering at once: 3-4; answers of 5 ms: 9-28). So:

- a dashboard's sub-requests run one after another in its worker instead of fanning out while the
  workers alone are at least what is needed (`item.fanout`): the fan-out has nothing to overlap;
- while the process is busy (`BUSY`) and more items run at once than needed, the limit halves,
  down to what is needed and never below `LEAST_ITEMS`, once per `STEP_S`; it goes back up to what
  is needed at once, and one further per step while the process has CPU to spare (`RELAXED`).

Only how many run at once changes: what is sent, and in which order per item, is the same.
Against a real Looker, whose answers take tens of milliseconds, what is needed exceeds the workers
and nothing here changes anything.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from restore.engine.limits.db_budget import release_idle

BUSY = 0.9  # CPU seconds per wall second (all threads) at or above which the process is busy
RELAXED = 0.75  # below this, it has CPU to spare: one more item at once per step
OVERLAP = 1.5  # requests in flight per request the core can serve while one waits
QUICK = 0.1  # the answer time taken as "quick": this fraction of the window's answers is quicker
LEAST_ANSWERS = 20  # fewer answers in a window tell nothing of what is needed
WINDOW_S = 0.25  # the load is measured over at least this long
STEP_S = 0.25  # the item limit moves at most this often
LEAST_ITEMS = 2


class CpuLoad:
    """The process' CPU seconds per wall second over the last completed window (all threads), and
    the requests at once that keep it busy, from the answers timed in that window.

    Read by every worker for every batch of sub-requests: a reading is two clock calls, and the
    window moves on in whichever thread finds it over. The transport times every answer
    (`note_answer`: one append to a bounded deque, no lock)."""

    def __init__(
        self,
        cpu: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cpu, self.clock = cpu, clock
        self._lock = threading.Lock()
        self._at, self._used = clock(), cpu()
        self._busy = 0.0
        self._needed: int | None = None
        self._answers: collections.deque[float] = collections.deque(maxlen=8192)

    def note_answer(self, seconds: float) -> None:
        """How long one request took from being sent to its answer read whole."""
        self._answers.append(seconds)

    def busy(self) -> float:
        now = self.clock()
        if now - self._at >= WINDOW_S and self._lock.acquire(blocking=False):
            try:
                used = self._cpu()
                answers = sorted(self._answers)
                self._answers.clear()
                self._busy = (used - self._used) / (now - self._at)
                self._needed = _needed(used - self._used, answers)
                self._at, self._used = now, used
            finally:
                self._lock.release()
        return self._busy

    def needed(self) -> int | None:
        """Requests at once that keep the process busy (None: too few answers to tell)."""
        self.busy()
        return self._needed

    def little_to_overlap(self, workers: int) -> bool:
        """The workers alone are as many requests at once as needed: a fan-out adds threads that
        wait on this process' CPU, not on the destination."""
        needed = self.needed()
        return needed is not None and needed <= workers


def _needed(cpu_s: float, answers: list[float]) -> int | None:
    """`OVERLAP × (quick answer + CPU per request) / CPU per request`, from a window's CPU and its
    answer times, sorted; None when the window had too few answers."""
    if len(answers) < LEAST_ANSWERS or cpu_s <= 0:
        return None
    per_request = cpu_s / len(answers)
    quick = answers[int(len(answers) * QUICK)]
    return math.ceil(OVERLAP * (quick + per_request) / per_request)


cpu_load = CpuLoad()


class ActiveItems:
    """At most `limit` items of a level restored at once: `most` (the workers) while the process
    has CPU to spare or the destination's answers take long enough to need them all, fewer (not
    below `least`) while it is busy and answers come at once; always `most` without a `load`.
    Waiting holds nothing (no database connection, no lock), so a smaller limit can delay an item
    but never stop one."""

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
        busy, needed = self._load.busy(), self._load.needed()
        enough = self.most if needed is None else min(max(needed, self.least), self.most)
        if busy >= BUSY and self.limit > enough:
            self.limit = max(enough, self.limit // 2)
        elif self.limit < enough:
            self.limit = enough
            self._cond.notify_all()
        elif busy < RELAXED and self.limit < self.most:
            self.limit += 1
            self._cond.notify()
        else:
            return
        self._moved_at = now
