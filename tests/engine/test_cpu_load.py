"""While the process keeps its core busy, a restore runs fewer items at once and no fan-out."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from test_fanout import context, tasks

from restore.engine.item import fanout
from restore.engine.item.fanout import run_all
from restore.engine.limits.cpu_load import LEAST_ITEMS, STEP_S, WINDOW_S, ActiveItems, CpuLoad


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def load_of(busy: list[float], clock: Clock) -> CpuLoad:
    """A CpuLoad whose process uses `busy[0]` CPU seconds per wall second (changeable)."""
    used = [0.0]
    last = [clock.now]

    def cpu() -> float:
        used[0] += (clock.now - last[0]) * busy[0]
        last[0] = clock.now
        return used[0]

    return CpuLoad(cpu, clock)


def test_the_load_is_cpu_seconds_per_wall_second_over_a_whole_window():
    clock, busy = Clock(), [1.05]
    load = load_of(busy, clock)
    assert load.busy() == 0.0  # no window over yet
    clock.now += WINDOW_S / 2
    assert load.busy() == 0.0
    clock.now += WINDOW_S
    assert load.busy() == pytest.approx(1.05)
    assert load.saturated()
    busy[0] = 0.3
    clock.now += WINDOW_S
    assert load.busy() == pytest.approx(0.3)
    assert not load.saturated()


def test_items_at_once_step_down_while_busy_and_back_up_once_it_is_not():
    clock, busy = Clock(), [1.0]
    load = load_of(busy, clock)
    active = ActiveItems(8, load)
    seen = []
    for _ in range(12):
        clock.now += STEP_S
        with active.slot():
            pass
        seen.append(active.limit)
    assert seen[:6] == [7, 6, 5, 4, 3, 2]  # one step per STEP_S, never two at once
    assert seen[6:] == [LEAST_ITEMS] * 6
    busy[0] = 0.5
    for _ in range(8):
        clock.now += STEP_S
        with active.slot():
            pass
    assert active.limit == 8


def test_without_a_load_every_worker_runs():
    clock = Clock()
    active = ActiveItems(8, None)
    for _ in range(10):
        clock.now += 1
        with active.slot():
            pass
    assert active.limit == 8


def test_an_item_beyond_the_limit_waits_for_one_to_finish_and_then_runs():
    clock, busy = Clock(), [1.0]
    active = ActiveItems(8, load_of(busy, clock))
    for _ in range(6):
        clock.now += STEP_S
        with active.slot():
            pass
    assert active.limit == 2
    leave = [threading.Event(), threading.Event()]
    entered = threading.Semaphore(0)

    def item(i: int) -> None:
        with active.slot():
            entered.release()
            leave[i].wait()

    running = [threading.Thread(target=item, args=(i,)) for i in range(2)]
    for t in running:
        t.start()
    assert entered.acquire(timeout=30) and entered.acquire(timeout=30)
    third_ran = threading.Event()

    def third() -> None:
        with active.slot():
            third_ran.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    deadline = time.monotonic() + 30
    while not active._cond._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)  # until the third one is waiting (not a fixed delay)
    assert active._cond._waiters and not third_ran.is_set()  # type: ignore[attr-defined]
    leave[0].set()
    waiter.join(30)
    assert third_ran.is_set()
    leave[1].set()
    for t in running:
        t.join(30)
    assert active.running == 0


@pytest.mark.parametrize("fit", [True, False])
def test_a_busy_process_sends_an_items_sub_requests_one_after_another(monkeypatch, fit):
    monkeypatch.setattr(fanout.cpu_load, "saturated", lambda: True)
    ctx = context(dry_run=False, fit_to_cpu=fit)
    results = run_all(ctx, tasks(ctx, 8))
    assert [r["n"] for r in results] == list(range(8))
    assert [c.path for c in ctx.changes] == [f"/things/{i}" for i in range(8)]
    client: Any = ctx.client
    assert (client.most == 1) is fit  # off (`fit_to_cpu=False`): fanned out as configured
