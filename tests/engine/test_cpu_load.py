"""While the process keeps its core busy and the destination answers at once, a restore runs fewer
items at once and no fan-out; answers that take long enough to overlap keep every worker."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from test_fanout import context, tasks

from looker_emulator.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, running_emulator
from restore.engine.item import fanout
from restore.engine.item.fanout import run_all
from restore.engine.limits.cpu_load import (
    LEAST_ANSWERS,
    LEAST_ITEMS,
    STEP_S,
    WINDOW_S,
    ActiveItems,
    CpuLoad,
)
from restore.engine.looker import client as looker_client


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Load:
    """A CpuLoad over a fake clock: the process uses `busy` CPU seconds per wall second and, each
    window, `answers` requests are answered in `answer_s` each."""

    def __init__(self, busy: float, answers: int = 500, answer_s: float = 0.00025) -> None:
        self.clock, self.busy, self.answers, self.answer_s = Clock(), busy, answers, answer_s
        self._used, self._last = 0.0, self.clock.now
        self.load = CpuLoad(self._cpu, self.clock)

    def _cpu(self) -> float:
        self._used += (self.clock.now - self._last) * self.busy
        self._last = self.clock.now
        return self._used

    def window(self, seconds: float = WINDOW_S) -> None:
        """One more window passes, with its answers."""
        for _ in range(self.answers):
            self.load.note_answer(self.answer_s)
        self.clock.now += seconds


def step(load: Load, active: ActiveItems, n: int = 1) -> list[int]:
    """`n` steps, an item finishing in each; the item limit after each."""
    seen = []
    for _ in range(n):
        load.window(max(STEP_S, WINDOW_S))
        with active.slot():
            pass
        seen.append(active.limit)
    return seen


def test_the_load_is_cpu_seconds_per_wall_second_over_a_whole_window():
    load = Load(busy=1.05)
    assert load.load.busy() == 0.0  # no window over yet
    load.clock.now += WINDOW_S / 2
    assert load.load.busy() == 0.0
    load.window()
    assert load.load.busy() == pytest.approx(1.05)
    load.busy = 0.3
    load.window()
    assert load.load.busy() == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("answer_s", "needed"),
    [
        (0.00025, 3),  # answered at once: 1.5 x (0.25 + 0.5) / 0.5 ms = 2.25 -> 3
        (0.005, 17),  # 5 ms: 1.5 x (5 + 0.5) / 0.5 = 16.5 -> 17
        (0.05, 152),
    ],
)
def test_what_is_needed_comes_from_quick_answers_against_cpu_per_request(answer_s, needed):
    # 500 answers in a quarter second at one core: 0.5 ms of CPU per request.
    load = Load(busy=1.0, answers=500, answer_s=answer_s)
    load.window()
    assert load.load.needed() == needed
    assert load.load.little_to_overlap(8) is (needed <= 8)


def test_the_quick_answers_decide_not_the_slowest():
    load = Load(busy=1.0, answers=0)
    for i in range(500):  # one in five answered in 0.25 ms, the rest queued behind the GIL
        load.load.note_answer(0.00025 if i % 5 == 0 else 0.004)
    load.clock.now += WINDOW_S
    assert load.load.needed() == 3


def test_too_few_answers_tell_nothing():
    load = Load(busy=1.0, answers=LEAST_ANSWERS - 1)
    load.window()
    assert load.load.needed() is None
    assert not load.load.little_to_overlap(8)


def test_busy_with_answers_at_once_halves_the_items_down_to_what_is_needed():
    load = Load(busy=1.0)  # needed: 3
    active = ActiveItems(8, load.load)
    assert step(load, active, 4) == [4, 3, 3, 3]  # halved once per STEP_S, never below needed
    load.answer_s = 0.0  # needed: 2, the least
    assert step(load, active, 2) == [LEAST_ITEMS, LEAST_ITEMS]
    load.answer_s = 0.005  # the answers slow down: every worker at once
    assert step(load, active, 1) == [8]


def test_busy_with_answers_worth_overlapping_keeps_every_worker():
    load = Load(busy=1.0, answer_s=0.005)  # 5 ms answers keep a process as busy
    active = ActiveItems(8, load.load)
    assert step(load, active, 6) == [8] * 6


def test_with_cpu_to_spare_the_items_climb_back_one_per_step():
    load = Load(busy=1.0)
    active = ActiveItems(8, load.load)
    step(load, active, 3)
    assert active.limit == 3
    load.busy = 0.8  # between: stays where it is
    assert step(load, active, 2) == [3, 3]
    load.busy = 0.5
    assert step(load, active, 6) == [4, 5, 6, 7, 8, 8]


def test_without_a_load_every_worker_runs():
    clock = Clock()
    active = ActiveItems(8, None)
    for _ in range(10):
        clock.now += 1
        with active.slot():
            pass
    assert active.limit == 8


def test_an_item_beyond_the_limit_waits_for_one_to_finish_and_then_runs():
    load = Load(busy=1.0, answer_s=0.0)  # needed: the least
    active = ActiveItems(8, load.load)
    step(load, active, 3)
    assert active.limit == LEAST_ITEMS == 2
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
def test_with_little_to_overlap_an_items_sub_requests_go_one_after_another(monkeypatch, fit):
    monkeypatch.setattr(fanout.cpu_load, "little_to_overlap", lambda workers: True)
    ctx = context(dry_run=False, fit_to_cpu=fit)
    results = run_all(ctx, tasks(ctx, 8))
    assert [r["n"] for r in results] == list(range(8))
    assert [c.path for c in ctx.changes] == [f"/things/{i}" for i in range(8)]
    client: Any = ctx.client
    assert (client.most == 1) is fit  # off (`fit_to_cpu=False`): fanned out as configured


def test_the_transport_times_every_answer_it_reads(monkeypatch):
    load = CpuLoad()
    monkeypatch.setattr(looker_client, "cpu_load", load)
    with running_emulator(items=5) as emu:
        settings = looker_client.LookerSettings(emu.url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        client = looker_client.LookerClient(settings)
        client.login()
        timed = len(load._answers)
        for _ in range(LEAST_ANSWERS):
            client.get("/folders", {"fields": "id"})
        assert client.get_or_none("/looks/999999") is None  # an error answer is an answer too
    answers = list(load._answers)[timed:]
    assert len(answers) == LEAST_ANSWERS + 1
    assert all(0 < a < 60 for a in answers)
