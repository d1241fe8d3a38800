"""`fanout.run_all`: helper threads record into the calling item, errors come back unchanged."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from restore.engine.core.config import RestoreConfig
from restore.engine.core.errors import LookerApiError, MissingDependencyError
from restore.engine.item.context import RestoreContext
from restore.engine.item.fanout import Batch, run_all


class CountingClient:
    """Records writes and the most requests seen at once (a dry run must send none)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def post(self, path: str, body: Any) -> Any:
        with self._lock:
            self.sent.append(("POST", path))
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.02)
        with self._lock:
            self.now -= 1
        return {**body, "id": path.rsplit("/", 1)[-1]}

    patch = put = post


def context(*, dry_run: bool, **config: Any) -> RestoreContext:
    # These tests count requests in flight: not fewer because the test process is busy.
    config.setdefault("fit_to_cpu", False)
    ctx = RestoreContext(CountingClient(), None, RestoreConfig(dry_run=dry_run, **config), False)  # type: ignore[arg-type]
    ctx.begin_item()
    return ctx


def tasks(ctx: RestoreContext, n: int) -> list:
    def one(i: int) -> Any:
        ctx.warn(f"warning {i % 2}")
        if i == 3:
            ctx.defer("group_ids group 7")
        return ctx.write("POST", f"/things/{i}", {"n": i})

    return [lambda i=i: one(i) for i in range(n)]


@pytest.mark.parametrize("dry_run", [True, False])
def test_changes_warnings_and_deferrals_land_in_the_item_in_task_order(dry_run):
    ctx = context(dry_run=dry_run)
    results = run_all(ctx, tasks(ctx, 20))
    assert [r["n"] for r in results] == list(range(20))
    assert [c.path for c in ctx.changes] == [f"/things/{i}" for i in range(20)]
    assert ctx.warnings == ["warning 0", "warning 1"]
    assert ctx.deferred == ["group_ids group 7"]
    client = ctx.client
    if dry_run:
        assert client.sent == []
    else:
        assert len(client.sent) == 20
        assert 1 < client.most <= ctx.config.fanout_budget


@pytest.mark.parametrize(
    "error",
    [LookerApiError("Looker API 503", status=503), MissingDependencyError("look_id refers to 9")],
)
def test_a_helper_error_is_raised_unchanged_after_every_helper_stopped(error):
    ctx = context(dry_run=False)
    running = []

    def fail() -> None:
        raise error

    def slow() -> None:
        running.append(1)
        time.sleep(0.05)
        running.pop()

    with pytest.raises(type(error)) as raised:
        run_all(ctx, [slow, fail, slow, slow])
    assert raised.value is error
    assert running == []  # nothing still writing while the item is retried


def test_nested_fanout_runs_inline():
    ctx = context(dry_run=True)
    names: list[str] = []

    def inner() -> None:
        names.append(threading.current_thread().name)

    def outer() -> None:
        me = threading.current_thread().name
        run_all(ctx, [inner, inner])
        assert names[-2:] == [me, me]

    run_all(ctx, [outer, outer])


def test_batch_hands_results_to_the_caller_as_they_come_and_keeps_the_callers_error():
    ctx = context(dry_run=False)
    with Batch(ctx, tasks(ctx, 6)) as batch:
        assert batch.result(4)["n"] == 4
        ctx.write("POST", "/mine/1", {"n": -1})
    # the batch's writes first, in task order, then the caller's own
    assert [c.path for c in ctx.changes] == [f"/things/{i}" for i in range(6)] + ["/mine/1"]

    running: list[int] = []

    def slow(i: int) -> None:
        running.append(i)
        time.sleep(0.05)
        running.remove(i)

    with pytest.raises(KeyError), Batch(ctx, [lambda i=i: slow(i) for i in range(40)]) as batch:
        batch.result(0)
        raise KeyError("the caller's own POST failed")
    assert running == []  # the caller's error is raised once no task is writing any more


def test_once_a_task_failed_the_tasks_not_started_yet_are_skipped():
    ctx = context(dry_run=False, workers=1, fanout=2)  # two at once
    started: list[int] = []
    go = threading.Event()

    def task(i: int) -> None:
        started.append(i)
        if i == 0:
            raise LookerApiError("Looker API 500", status=500)
        if i == 1:
            go.wait(30)  # holds the other slot: every later task waits for task 0's

    with pytest.raises(LookerApiError), Batch(ctx, [lambda i=i: task(i) for i in range(10)]):
        go.set()  # every task was handed over (the later ones after task 0 failed)
    assert set(started) <= {0, 1}  # task 1 may have seen the failure first and skipped too


def test_the_budget_is_shared_by_the_session_and_the_pool_has_room_for_it():
    ctx = context(dry_run=False, workers=2, fanout=3)
    other = threading.Thread(target=run_all, args=(ctx, tasks(ctx, 12)))
    other.start()  # a second worker's item fanning out at the same time
    run_all(ctx, tasks(ctx, 12))
    other.join()
    assert ctx.client.most == 6  # 2 workers × 3, not 6 per item


def test_the_sessions_threads_never_outnumber_its_budget():
    ctx = context(dry_run=False, workers=2, fanout=2)
    for _ in range(30):  # a long session: many dashboards, one after another
        run_all(ctx, tasks(ctx, 5))
    _, pool = ctx._cache[("fanout",)]
    assert 1 < len(pool._threads) <= 4


def test_fanout_one_means_one_request_after_another():
    ctx = context(dry_run=False, workers=8, fanout=1)
    run_all(ctx, tasks(ctx, 6))
    assert ctx.client.most == 1
