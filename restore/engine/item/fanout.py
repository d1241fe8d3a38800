"""Bounded concurrency for one item's independent sub-resource requests (a dashboard's filters,
tile bodies and updates, layout components), so a 26-tile dashboard is not ~80 round trips in a row.

Why a helper and not a bare executor: `RestoreContext` keeps the item's change log, warnings,
deferrals and active dependencies in a `threading.local`. Each task gets its own lists (and a copy of
the caller's active dependencies, so a reference cycle still raises instead of deadlocking on a
dependency lock the caller holds); once every task has finished they are merged into the caller's
lists in task order, so a dry-run plan is the same whatever order the requests completed in. A
failing task's exception (`LookerApiError`, `MissingDependencyError`, ...) is raised unchanged in the
calling thread once no task is running any more: the caller retries the item as a whole and the
sync converges because it is idempotent.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from django.db import connections

from restore.engine.item.context import RestoreContext
from restore.engine.limits.cpu_load import cpu_load
from restore.engine.limits.db_budget import release_idle

T = TypeVar("T")


def budget(ctx: RestoreContext) -> int:
    return ctx.config.fanout_budget


def _slots_and_pool(ctx: RestoreContext) -> tuple[threading.BoundedSemaphore, ThreadPoolExecutor]:
    """One budget per context (session), shared by all its workers, and a pool of exactly that
    many threads: the fan-out never multiplies by workers, and a task submitted once it has a
    slot always finds a thread. A pool per batch (one per dashboard) cost 5-9% of a restore's CPU
    in thread start-up; one larger pool per process kept starting threads over a long run (a
    thread that has just finished a task is not idle yet when the next one comes), and the
    worker's memory grew with them."""
    with ctx._lock:  # not ctx.cached: two first callers must not create two budgets
        found = ctx._cache.get(("fanout",))
        if found is None:
            size = max(budget(ctx), 1)
            pool = ThreadPoolExecutor(size, thread_name_prefix="restore-sub")
            weakref.finalize(ctx, pool.shutdown, wait=False)  # its threads end with the session
            found = ctx._cache[("fanout",)] = (threading.BoundedSemaphore(size), pool)
        return found


class Batch(Generic[T]):
    """Tasks running in helper threads while the caller goes on (and may take results one by one).

    Tasks must be independent of each other. Their logs are merged into the caller's when the
    batch finishes, placed where the caller's change log stood when the batch started (so a plan
    reads: the batch's writes, then the caller's own). Inside a task (a nested fan-out) tasks run
    inline at once: a helper waiting for helpers could otherwise hold every slot of the budget.
    """

    def __init__(self, ctx: RestoreContext, tasks: Sequence[Callable[[], T]]) -> None:
        self.ctx = ctx
        self.failed = threading.Event()
        self._done = False
        self._results: list[T] = []
        self._futures: list[Future[Any]] = []
        if (
            len(tasks) <= 1
            or budget(ctx) <= 1
            or getattr(ctx._local, "in_fanout", False)
            or (ctx.config.fit_to_cpu and cpu_load.little_to_overlap(ctx.config.workers))
            # the answers come at once: the requests would wait on this process' own CPU
        ):
            self._results = [task() for task in tasks]
            self._done = True
            return
        if not hasattr(ctx._local, "changes"):
            ctx._local.changes = []
        self._mark = len(ctx.changes)
        self._active = set(ctx.active_dependencies())
        self._retries = getattr(ctx._local, "retries", None)  # the item's, shared by its tasks
        self._slots, pool = _slots_and_pool(ctx)
        release_idle()  # the caller waits for its tasks, which may need a pooled connection
        for task in tasks:
            self._slots.acquire()  # released by _run: at most the budget in flight
            try:
                self._futures.append(pool.submit(self._run, task))
            except BaseException:
                self._slots.release()
                raise

    def _run(self, task: Callable[[], T]) -> tuple[T | None, list[Any], list[str], list[str]]:
        local = self.ctx._local
        local.changes, local.warnings, local.deferred = [], [], []
        local.active = set(self._active)
        local.retries = self._retries
        local.in_fanout = True
        try:
            if self.failed.is_set():  # the item failed: it is retried as a whole
                return None, [], [], []
            try:
                return task(), local.changes, local.warnings, local.deferred
            except BaseException:
                self.failed.set()
                raise
        finally:
            self._slots.release()
            local.in_fanout = False
            connections.close_all()  # a dependency restore may have opened one in this thread

    def result(self, index: int) -> T:
        """Task `index`'s result, waiting for it; its exception, unchanged, if it failed."""
        if not self._futures:
            return self._results[index]
        release_idle()
        return self._futures[index].result()[0]

    def finish(self) -> list[T]:
        """Wait for every task, merge their logs; raise the first error in task order."""
        if self._done:
            return self._results
        self._done = True
        release_idle()
        concurrent.futures.wait(self._futures)
        ctx = self.ctx
        changes: list[Any] = []
        error: BaseException | None = None
        for future in self._futures:
            exc = future.exception()
            if exc is not None:
                error = error or exc
                continue
            result, task_changes, warnings, deferred = future.result()
            changes.extend(task_changes)
            for message in warnings:
                ctx.warn(message)
            for what in deferred:
                ctx.defer(what)
            self._results.append(result)
        ctx.changes[self._mark : self._mark] = changes
        if error is not None:
            raise error
        return self._results

    def __enter__(self) -> Batch[T]:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is None:
            self.finish()
            return
        self.failed.set()  # the caller failed: tasks not started yet are skipped
        with contextlib.suppress(BaseException):  # the caller's own error is the one raised
            self.finish()


def run_all(ctx: RestoreContext, tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent `tasks` concurrently (at most the context's budget); results in order."""
    with Batch(ctx, tasks) as batch:
        return batch.finish()
