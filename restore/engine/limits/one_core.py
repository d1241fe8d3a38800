"""A restore's threads on one CPU core of those the process may use.

Why: a restore's threads share one GIL, so they never run Python on two cores at once; but left
to the scheduler, a thread woken by its answer runs on whichever core is free and takes the GIL
over from a thread on another core. Every such hand-over moves the interpreter's working set
between the cores' caches. Measured (`bench/overhead.py`, a destination answering at once, 2,112
items, 2 cores): one worker used 1.78 ms of CPU per item, two workers 2.31 ms, 8 workers with
their fan-out 2.36 ms; with the restore's threads kept on one core, 1.70, 1.60 and 1.56-1.65 ms,
and the 8 workers finished 552-578 items/s instead of 380.

So while a restore runs (`one_core()`, entered by the session runner and by a distributed
session's chunk), the thread running it and every thread it starts (they inherit the mask) keep
to the core that thread was on. What the GIL lets run beside Python (SQLite, the kernel's side
of a socket) then runs on that core too; the destination, the database server and the other
processes of the machine keep the other cores.

A core can get busy with other work after the restore settled on it: every few seconds
(`maybe_move`, called as each item starts) the restore moves to the least busy core when
the others' load on its own core exceeds that one's by `MARGIN` core. Two restore processes that
started on one core part this way (each checks at its own random moment, so they do not swap
cores back and forth). `LOOKERVAULT_ONE_CORE=false` turns it off; where the process may use a
single core, or the platform has no CPU affinity, nothing changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)

CHECK_S = 2.0  # the least time between two looks at the cores' load (plus up to as much again)
MARGIN = 0.25  # a move must leave this much of a core's other load behind


class _Pin:
    """The process' pinned core, shared by the restores running in it (they share one GIL)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.core: int | None = None
        self.allowed: set[int] = set()  # the cores the process may use (its mask before the pin)
        self.held: set[int] = set()  # every core the restores were kept to since they started
        self.next_check = 0.0
        self.cores: dict[int, tuple[int, int]] = {}  # core → (busy, total) ticks at the last look
        self.own = 0.0  # this process' CPU seconds at the last look
        self.at = 0.0


_pin = _Pin()


def enabled() -> bool:
    if not hasattr(os, "sched_setaffinity"):
        return False
    from django.conf import settings

    return bool(getattr(settings, "LOOKERVAULT_ONE_CORE", True))


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """While in this block, this thread and the threads it starts run on one core (the one this
    thread runs on, or the one the restores already running in this process share); its mask is
    given back at the end. Nested or concurrent blocks share the core."""
    if not enabled():
        yield
        return
    try:
        before = os.sched_getaffinity(0)
    except OSError:
        yield
        return
    with _pin.lock:
        core = _pin.core if _pin.core in before else _current_core(before)
        if len(before) < 2 or core is None or not _set(0, core):
            core = None
        else:
            if _pin.users == 0:
                _pin.core, _pin.allowed, _pin.held = core, set(before), {core}
                _look(time.monotonic())
            _pin.users += 1
    try:
        yield
    finally:
        if core is not None:
            with _pin.lock:
                _pin.users -= 1
                if _pin.users == 0:
                    _pin.core = None
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, before)


def maybe_move() -> None:
    """Every few seconds: move the restores' threads to the least busy core when other work keeps
    their own core busier by more than `MARGIN` core. Cheap when it is not time yet."""
    now = time.monotonic()
    if _pin.core is None or now < _pin.next_check or not _pin.lock.acquire(blocking=False):
        return
    try:
        if _pin.core is None or now < _pin.next_check:
            return
        core, before, own_before, at = _pin.core, dict(_pin.cores), _pin.own, _pin.at
        _look(now)
        busy = {c: _share(before.get(c), ticks) for c, ticks in _pin.cores.items()}
        own = (_pin.own - own_before) / max(now - at, 1e-3)
        target = better_core(core, busy, own)
        if target is not None and _move(target):
            log.info(
                "restore threads moved from core %s (%.2f of it busy with other work) to core %s"
                " (%.2f busy)",
                core,
                busy[core] - own,
                target,
                busy[target],
            )
            _pin.core = target
            _pin.held.add(target)
    finally:
        _pin.lock.release()


def better_core(core: int, busy: dict[int, float], own: float) -> int | None:
    """The core to move to, or None to stay: the least busy other core, when what keeps `core`
    busy besides this process (`busy[core] - own`, in cores) exceeds that core's load by at least
    `MARGIN`. The process' own load moves with it, so it never counts."""
    others = [c for c in busy if c != core]
    if core not in busy or not others:
        return None
    target = min(others, key=lambda c: busy[c])
    return target if busy[target] + MARGIN <= busy[core] - own else None


# -- building blocks -------------------------------------------------------------------------------
def _set(tid: int, core: int) -> bool:
    try:
        os.sched_setaffinity(tid, {core})
    except OSError:
        return False
    return True


def _move(target: int) -> bool:
    """Every thread of this process kept to one of the cores the restores held (theirs: a thread
    started while an earlier move ran may still have the core before) to `target`."""
    moved = False
    for name in _tasks():
        tid = int(name)
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            mask = os.sched_getaffinity(tid)
            if len(mask) == 1 and mask <= _pin.held and mask != {target}:
                moved = _set(tid, target) or moved
    return moved


def _tasks() -> list[str]:
    try:
        return os.listdir("/proc/self/task")
    except OSError:
        return []


def _current_core(allowed: set[int]) -> int | None:
    """The core this thread runs on now (field 39 of its stat), if the process may use it."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        core = int(fields[36])
    except (OSError, IndexError, ValueError):
        return min(allowed) if allowed else None
    return core if core in allowed else min(allowed)


def _look(now: float) -> None:
    """Read every allowed core's busy and total ticks, and this process' CPU; next look later."""
    _pin.cores = _core_ticks()
    times = os.times()
    _pin.own = times.user + times.system
    _pin.at = now
    _pin.next_check = now + CHECK_S * (1.0 + random.random())


def _core_ticks() -> dict[int, tuple[int, int]]:
    """(busy, total) ticks of each core the process may use, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu") and line[3].isdigit()]
    except OSError:
        return {}
    ticks = {}
    for parts in lines:
        core = int(parts[0][3:])
        if core in _pin.allowed:
            values = [int(v) for v in parts[1:9]]  # user nice system idle iowait irq softirq steal
            total = sum(values)
            ticks[core] = (total - values[3] - values[4], total)
    return ticks


def _share(before: tuple[int, int] | None, now: tuple[int, int]) -> float:
    """The busy share of one core between two looks (0.0 when nothing is known)."""
    if before is None:
        return 0.0
    total = now[1] - before[1]
    return (now[0] - before[0]) / total if total > 0 else 0.0
