"""A session split into chunk tasks that any qcluster worker (on any machine) picks up.

The coordinator task holds the session's lease and walks the levels like the local runner, but
instead of running a level's items it enqueues them as chunk tasks and waits until every item of
the level has a final result row: that is the ordering barrier. What must be global is global: the
rate limiter lives in Redis or the database (`shared_limiter`), the checkpoints are the result rows,
the counters are computed from them. Folders refer to each other, so a folder level is one chunk
(parents first, in order). A chunk whose worker died is re-enqueued when the level stops moving for
a lease period; completed items are skipped, pending intents adopted, so nothing is done twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from restore.engine.backup.order import SELF_REFERENCES
from restore.engine.core.content_types import ContentType
from restore.engine.item.context import RestoreContext
from restore.engine.limits import one_core
from restore.engine.limits.db_budget import release_idle
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter, shared_limiter
from restore.engine.run import malloc_trim
from restore.engine.run.kind import KindFor, SessionKind
from restore.engine.run.runner import (
    FINAL_ACTIONS,
    ItemRunner,
    Progress,
    SessionRunner,
    _key,
    lease_seconds,
    run_level_items,
)
from restore.engine.run.session import counts_by_type, retried_counts
from restore.models import RestoreItemResult, RestoreSession

log = logging.getLogger(__name__)


def default_chunk_size() -> int:
    """Items per chunk task (LOOKERVAULT_CHUNK_SIZE, default 100)."""
    return settings.LOOKERVAULT_CHUNK_SIZE


def limiter_key(session_id: int) -> str:
    return f"session-{session_id}"


class DistributedSessionRunner(SessionRunner):
    """The coordinator: levels, barriers, progress; the items run in chunk tasks."""

    def __init__(self, session_id: int, *, chunk_size: int | None = None, **kw: Any):
        super().__init__(session_id, **kw)
        self.chunk_size = chunk_size or default_chunk_size()

    def run(self) -> dict[str, Any]:
        session = RestoreSession.objects.get(pk=self.session_id)
        self.limiter = self.limiter or shared_limiter(limiter_key(self.session_id), session.options)
        return super().run()

    def _run_level(self, ct: ContentType, items: Iterable[Any], done: set[str], workers: int):
        keys = [_key(item) for item in items]
        todo = [k for k in keys if k not in done]
        if not todo:
            return
        if ct in SELF_REFERENCES:
            chunks: list[list[str] | None] = [None]  # the whole level, parents first
        else:
            chunks = [todo[i : i + self.chunk_size] for i in range(0, len(todo), self.chunk_size)]
        for ids in chunks:
            self._enqueue(ct, ids)
        self._wait_for_level(ct, set(keys), chunks)

    def _enqueue(self, ct: ContentType, ids: list[str] | None) -> None:
        from django_q.tasks import async_task

        async_task(
            "restore.tasks.run_chunk_task",
            self.session_id,
            int(ct),
            ids,
            self.worker_id,
            group=f"session-{self.session_id}",
            task_name=f"session-{self.session_id}-{ct.slug}-{time.time_ns()}",
        )

    def _wait_for_level(
        self, ct: ContentType, keys: set[str], chunks: list[list[str] | None]
    ) -> None:
        finals = RestoreItemResult.objects.filter(
            session_id=self.session_id, content_type=int(ct), action__in=FINAL_ACTIONS
        )
        last_count, last_move = -1, time.monotonic()
        while not self.stop.is_set():
            # A count while items are still running; the IDs (a whole level's, every half
            # second, cost the coordinator's process more CPU than a chunk) only to conclude.
            count = finals.count()
            if count >= len(keys) and not keys - set(finals.values_list("source_id", flat=True)):
                return
            if count != last_count:
                last_count, last_move = count, time.monotonic()
            elif time.monotonic() - last_move > lease_seconds():
                log.warning("session %s: %s level stalled, re-enqueueing", self.session_id, ct)
                missing = keys - set(finals.values_list("source_id", flat=True))
                for ids in chunks:
                    if ids is None or missing & set(ids):
                        self._enqueue(ct, ids)
                last_move = time.monotonic()
            release_idle()  # no pooled connection held while waiting for the chunks
            self.stop.wait(0.5)

    def _beat(self) -> None:
        # Items finish in other processes: the counters come from the result rows.
        self.progress.sync(counts_by_type(self.session))
        self.progress.sync_retries(retried_counts(self.session_id))
        super()._beat()

    def _finish(self, error: str) -> dict[str, Any]:
        if hasattr(self, "progress"):  # the last chunks' retries, after the last beat
            self.progress.sync_retries(retried_counts(self.session_id))
        return super()._finish(error)


def run_chunk(
    session_id: int, content_type: int, ids: list[str] | None, owner: str, *, kind_for: KindFor
) -> int:
    """Run one chunk of a level (or the whole level when `ids` is None). Returns items run."""
    session = RestoreSession.objects.select_related("backup", "destination").get(pk=session_id)
    if not _owner_alive(session_id, owner):
        return 0
    ct = ContentType(content_type)
    config = session.options
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(session_id, owner, stop), daemon=True)
    watcher.start()
    try:
        kept = _session_context(session, owner, kind_for)
        ctx, kind = kept.ctx, kept.kind
        if ids is None:
            items: Iterable[Any] = kind.level_items(ctx, ct)
        else:
            items = (i for i in (kind.item(ct, sid) for sid in ids) if i is not None)
        finals = session.results.filter(content_type=int(ct), action__in=FINAL_ACTIONS)
        if ids is not None:  # this chunk's, not the level's (20,000 rows per chunk at 50k)
            finals = finals.filter(source_id__in=ids)
        done = set(finals.values_list("source_id", flat=True))
        runner = ItemRunner(
            session,
            ctx,
            process=kind.process,
            limiter=kept.limiter,
            progress=Progress({}, {}),
            should_stop=stop.is_set,
        )
        with one_core.one_core():  # the level's threads start in it
            run_level_items(runner, ct, items, done, config.workers, stop)
        n = runner.progress.done_this_run
        log.info("restore chunk of session %s: %s %s items done", session_id, n, ct.slug)
        malloc_trim.trim()  # the end of a chunk is this process' checkpoint; at most every 10 s
        return n
    finally:
        stop.set()
        watcher.join(5)
        close_old_connections()


@dataclass
class _Kept:
    session_id: int
    owner: str
    stack: contextlib.ExitStack
    kind: SessionKind
    ctx: RestoreContext
    limiter: AdaptiveRateLimiter


_kept: _Kept | None = None  # a worker process runs one task at a time


def _session_context(session: RestoreSession, owner: str, kind_for: KindFor) -> _Kept:
    """This process' context for the session, kept from one chunk to the next: each chunk of 100
    items would otherwise log in again, open the backup, start its fan-out threads and HTTP
    connections again, and meet every reference with a cold ID-map cache. A new coordinator
    (`owner`) or another session gets a fresh one; the last is released with the process."""
    global _kept
    if _kept is not None and (_kept.session_id, _kept.owner) == (session.pk, owner):
        return _kept
    release_session_context()
    stack = contextlib.ExitStack()
    try:
        kind = kind_for(session)
        kind.open(stack)
        limiter = shared_limiter(limiter_key(session.pk), session.options)
        ctx = kind.open_context(None, limiter)
    except BaseException:
        stack.close()
        raise
    _kept = _Kept(session.pk, owner, stack, kind, ctx, limiter)
    return _kept


def release_session_context() -> None:
    global _kept
    if _kept is not None:
        kept, _kept = _kept, None
        kept.stack.close()


def _owner_alive(session_id: int, owner: str) -> bool:
    return RestoreSession.objects.filter(
        pk=session_id,
        worker_id=owner,
        status=RestoreSession.Status.RUNNING,
        cancel_requested=False,
    ).exists()


def _watch(session_id: int, owner: str, stop: threading.Event) -> None:
    """Stop the chunk after its current items when the session is cancelled or changes hands."""
    try:
        while not stop.wait(1.0):
            if not _owner_alive(session_id, owner):
                stop.set()
            release_idle()
    finally:
        close_old_connections()
