"""The parallel runner: a session's items through a pool of workers, level by level.

- Claim: a conditional UPDATE whose row count says who won (pending, cancelled, failed, or running
  with a stale heartbeat); the winner holds a lease it refreshes every few seconds. A process killed
  with -9 stops refreshing, so `resume` can take over once the lease expires.
- Levels: types in RESTORE_ORDER; a level starts when the previous one is finished. Inside a level
  items stream from the backup (folders, which refer to each other, are ordered parents first) into
  a bounded window of `workers * 2` in flight; an item waits while an item it refers to is running.
- Per item: `restore_item` wrapped by the retry policy; the client's RequestGate is the session's
  adaptive rate limiter; a final failure goes to the DLQ and the session goes on.
- Checkpoints: every item's result row is its checkpoint (resume skips final rows and re-runs
  pending intents, which the engine adopts by natural key); every `checkpoint_interval` items and
  at each level end the counters and the per-type RestoreCheckpoint are written.
- Cancel: `cancel_requested` is read with the heartbeat; workers stop after their current item.
- Progress (`RestoreSession.progress`) is published with the heartbeat; the summary at the end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import msgspec
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from restore.engine.backup.order import SELF_REFERENCES
from restore.engine.backup.reader import BackupError
from restore.engine.core import documents, row_sql
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import LookerApiError, MissingDependencyError, RestoreError
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.item.restore import display_name, source_id_of
from restore.engine.limits import one_core
from restore.engine.limits.cpu_load import ActiveItems, cpu_load
from restore.engine.limits.db_budget import release_idle
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter
from restore.engine.limits.retries import RetryingClient, call_with_retries, retry_label
from restore.engine.looker.client import LookerClient
from restore.engine.run import dlq, malloc_trim
from restore.engine.run.kind import KindFor, Level, SessionKind
from restore.engine.run.session import (
    COUNTED,
    added_items,
    base_summary,
    counts_by_type,
    record_blocked,
    record_dependency_outcome,
    record_outcome,
    record_retries,
)
from restore.models import DeadLetterItem, RestoreCheckpoint, RestoreItemResult, RestoreSession

log = logging.getLogger(__name__)

FINAL_ACTIONS = ("created", "updated", "unchanged", "skipped", "failed", "blocked")
RECENT_ERRORS = 10
SERIES_POINTS = 120

ProcessItem = Callable[[RestoreContext, Any], ItemOutcome]


def lease_seconds() -> float:
    """How long a silent worker keeps its session (LOOKERVAULT_LEASE_SECONDS, default 60)."""
    return settings.LOOKERVAULT_LEASE_SECONDS


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SessionBusy(RestoreError):
    """Another live worker holds the session (or it is finished)."""


# -- the lease ------------------------------------------------------------------------------------
def claim_session(session_id: int, worker_id: str, kind: str | None = None) -> bool:
    """Take the session (of `kind`, when given) if nobody live holds it. The row count says who
    won."""
    now = timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    resumable = [
        RestoreSession.Status.PENDING,
        RestoreSession.Status.CANCELLED,
        RestoreSession.Status.FAILED,
    ]
    dead = Q(status=RestoreSession.Status.RUNNING) & (
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )
    sessions = RestoreSession.objects.filter(pk=session_id)
    if kind is not None:
        sessions = sessions.filter(kind=kind)
    n = sessions.filter(Q(status__in=resumable) | dead).update(
        status=RestoreSession.Status.RUNNING,
        worker_id=worker_id,
        heartbeat_at=now,
        cancel_requested=False,
        error_message="",
        finished_at=None,
    )
    if n == 1:
        RestoreSession.objects.filter(pk=session_id, started_at__isnull=True).update(started_at=now)
    return n == 1


def session_is_stale(session: RestoreSession) -> bool:
    if session.status != RestoreSession.Status.RUNNING:
        return False
    beat = session.heartbeat_at or session.started_at
    return beat is None or timezone.now() - beat > timedelta(seconds=lease_seconds())


# -- progress -------------------------------------------------------------------------------------
class Progress:
    """Counters of this run, thread-safe; `document()` is what the progress pages read."""

    def __init__(self, totals: dict[str, int], base: dict[str, dict[str, int]]) -> None:
        self.lock = threading.Lock()
        self.totals = totals
        self.by_type = {slug: dict(base.get(slug, {})) for slug in totals}
        for slug, counts in base.items():
            self.by_type.setdefault(slug, dict(counts))
        self.errors: deque[documents.RecentError] = deque(maxlen=RECENT_ERRORS)
        self.error_classes: Counter[str] = Counter()
        self.started = time.monotonic()
        self.done_this_run = 0
        self.samples: deque[tuple[float, int]] = deque(maxlen=64)
        self.series: deque[documents.RatePoint] = deque(maxlen=SERIES_POINTS)
        self.current_type = ""
        self.retried: Counter[str] = Counter()  # transient errors retried, by status or kind

    def count(self, slug: str, action: str) -> None:
        key = "failed" if action in ("failed", "blocked", "pending") else action
        with self.lock:
            bucket = self.by_type.setdefault(slug, {})
            bucket[key] = bucket.get(key, 0) + 1
            self.done_this_run += 1

    def error(self, slug: str, source_id: str, exc: BaseException) -> None:
        cls = dlq.error_class_of(exc)
        with self.lock:
            self.error_classes[cls] += 1
            self.errors.append(
                documents.RecentError(
                    type=slug,
                    id=str(source_id),
                    error_class=cls,
                    message=str(exc)[:300],
                    at=timezone.now().isoformat(),
                    status=exc.status if isinstance(exc, LookerApiError) else None,
                )
            )

    def retry(self, exc: BaseException) -> None:
        with self.lock:
            self.retried[retry_label(exc)] += 1

    def sync_retries(self, counts: dict[str, int]) -> None:
        """Take the retry tally from the result rows (items finishing in other processes)."""
        with self.lock:
            self.retried = Counter(counts)

    def sync(self, by_type: dict[str, dict[str, int]]) -> None:
        """Take counters from the result rows (items finishing in other processes)."""
        with self.lock:
            before = sum(sum(c.values()) for c in self.by_type.values())
            for slug, counts in by_type.items():
                self.by_type[slug] = dict(counts)
            after = sum(sum(c.values()) for c in self.by_type.values())
            self.done_this_run += max(0, after - before)

    def throughput(self) -> float:
        """Items per second over the last ~10 s (since the start when shorter)."""
        now = time.monotonic()
        with self.lock:
            self.samples.append((now, self.done_this_run))
            window = [s for s in self.samples if now - s[0] <= 10.0] or [self.samples[-1]]
            t0, n0 = window[0]
            if now - t0 < 1.0:
                t0, n0 = self.started, 0
            rate = (self.done_this_run - n0) / max(1e-6, now - t0)
        return rate

    def document(
        self, limiter: dict[str, Any] | None, active: ActiveItems | None = None
    ) -> documents.Progress:
        rate = self.throughput()
        with self.lock:
            by_type = {}
            for slug, counts in self.by_type.items():
                row = {k: int(counts.get(k, 0)) for k in COUNTED}
                done = sum(row.values())
                total = int(self.totals.get(slug, done))
                by_type[slug] = documents.TypeProgress(**row, done=done, total=total)
            done = sum(r.done for r in by_type.values())
            total = sum(r.total for r in by_type.values())
            elapsed = round(time.monotonic() - self.started, 1)
            self.series.append(documents.RatePoint(t=elapsed, rate=rate))
            return documents.Progress(
                total=total,
                done=done,
                **{k: sum(getattr(r, k) for r in by_type.values()) for k in COUNTED},
                by_type=by_type,
                current_type=self.current_type,
                throughput=round(rate, 3),
                eta_seconds=round((total - done) / rate, 1) if rate > 0 and total > done else None,
                elapsed_seconds=elapsed,
                rate_limiter=msgspec.convert(limiter or {}, documents.LimiterState),
                recent_errors=list(self.errors),
                error_classes=dict(self.error_classes),
                transient_retried=dict(self.retried),
                throughput_series=list(self.series),
                updated_at=timezone.now().isoformat(),
                items_at_once=active.limit if active is not None else 0,
                workers=active.most if active is not None else 0,
            )


# -- one item -------------------------------------------------------------------------------------
class ItemRunner:
    """Restores single items for a session: retries, result row, DLQ. Shared by every worker."""

    def __init__(
        self,
        session: RestoreSession,
        ctx: RestoreContext,
        *,
        process: ProcessItem,
        limiter: AdaptiveRateLimiter | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.process = process
        self.limiter = limiter
        self.progress = progress or Progress({}, {})
        self.should_stop = should_stop
        self.max_retries = ctx.config.max_retries
        # Kept from level to level: the load it learned holds for the next level's items.
        self.active = ActiveItems(ctx.config.workers, cpu_load if ctx.config.fit_to_cpu else None)

    def run(self, item: Any, *, again: bool = False) -> ItemOutcome | None:
        """Restore one item; never raises for the item's own failure (it goes to the DLQ)."""
        ct = ContentType(item.content_type)
        history: list[documents.Attempt] = []
        started = time.monotonic()
        one_core.maybe_move()
        try:
            sid = source_id_of(item)
        except BackupError as exc:
            sid = str(item.id)
            self._failed(ct, sid, item, exc, history)
            return None
        retried = self.ctx.begin_retries()
        try:
            outcome = call_with_retries(
                lambda: self.process(self.ctx, Again(item) if again else item),
                max_retries=self.max_retries,
                history=history,
                should_stop=self.should_stop,
                on_retry=self.ctx.note_retry,
            )
        except MissingDependencyError as exc:
            record_blocked(self.session, item, str(exc))
            self._dead_letter(ct, sid, item, exc, history)
            self.progress.count(ct.slug, "blocked")
            return None
        except Exception as exc:  # any failure of the item is the item's: DLQ, with the trace  # noqa: BLE001
            self._failed(ct, sid, item, exc, history)
            return None
        record_outcome(
            self.session,
            outcome,
            duration_ms=int((time.monotonic() - started) * 1000),
            deferred=None if again else outcome.deferred,  # the second pass's to do
        )
        if retried:
            record_retries(self.session, ct, outcome.source_id, retried)
        self.progress.count(ct.slug, outcome.action)
        return outcome

    def _failed(self, ct: ContentType, sid: str, item: Any, exc: BaseException, history) -> None:
        message = str(exc)
        if isinstance(exc, LookerApiError) and exc.body:
            message += f"\n{exc.body[:2000]}"
        RestoreItemResult.objects.update_or_create(
            session=self.session,
            content_type=int(ct),
            source_id=sid,
            defaults={"action": "failed", "message": message, "name": _name(item)},
        )
        self._dead_letter(ct, sid, item, exc, history)
        self.progress.count(ct.slug, "failed")

    def _dead_letter(self, ct, sid, item, exc, history) -> None:
        if not history:
            history.append(documents.Attempt(at=time.time(), error_class=dlq.error_class_of(exc)))
        dlq.record_failure(
            self.session,
            ct,
            sid,
            exc,
            name=_name(item),
            blob=bytes(getattr(item, "data", b"") or b""),
            history=history,
        )
        self.progress.error(ct.slug, sid, exc)


def open_session_context(
    session: RestoreSession,
    client: Any,
    limiter: AdaptiveRateLimiter,
    opener: Callable[[Any], RestoreContext],
) -> RestoreContext:
    """Log in through the limiter, retrying transient failures: `opener(client)` logs in and
    builds the kind's context. Its client then retries transient failures of every request."""
    config = session.options
    client = client or LookerClient.for_destination(
        session.destination, in_flight=config.max_in_flight
    )
    client.set_gate(limiter)
    ctx = call_with_retries(lambda: opener(client), max_retries=config.max_retries)
    ctx.client = RetryingClient(client, config.max_retries, on_retry=ctx.note_retry)
    return ctx


class Again:
    """Marks the second pass of an item for a kind's `process` (see `Level.again`)."""

    def __init__(self, item: Any) -> None:
        self.item = item
        self.content_type = item.content_type
        self.id = item.id
        self.data = getattr(item, "data", b"")

    @property
    def content(self) -> dict[str, Any]:
        return self.item.content


def _name(item: Any) -> str:
    try:
        return display_name(item.content) or str(getattr(item, "name", ""))[:500]
    except (BackupError, AttributeError):
        return str(getattr(item, "name", ""))[:500]


def record_dependency(session: RestoreSession, outcome: ItemOutcome) -> None:
    """An item restored ahead of its level as another's dependency: its row, and, like any item,
    the second pass for what it had to defer (a user's groups and roles)."""
    record_dependency_outcome(session, outcome)
    if outcome.deferred:
        mark_deferred(session, outcome.content_type, outcome.source_id, outcome.deferred)


def mark_deferred(session: RestoreSession, ct: ContentType, sid: str, what: list[str]) -> None:
    """Persist "needs a second pass" on the result row, so a resumed session still does it."""
    row = RestoreItemResult.objects.filter(session=session, content_type=int(ct), source_id=sid)
    first = row.first()
    if first is not None:
        diff = documents.read_diff(first.diff) or documents.Diff()
        diff.deferred = list(what)
        row.update(diff=documents.store(diff))


# -- the session ----------------------------------------------------------------------------------
class SessionRunner:
    """Runs one session to its end (or cancel, or lost lease) in this process. What the session's
    items are and what one item does is its kind's (`kind_for(session)`, see `run/kind.py`)."""

    def __init__(
        self,
        session_id: int,
        *,
        kind_for: KindFor,
        worker_id: str | None = None,
        client: Any = None,
        limiter: AdaptiveRateLimiter | None = None,
        heartbeat_interval: float | None = None,
        on_progress: Callable[[documents.Progress], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.kind_for = kind_for
        self.worker_id = worker_id or new_worker_id()
        self.client = client
        self.limiter = limiter
        # Also how soon a cancel is noticed and how fresh the live progress is: once a second.
        self.heartbeat_interval = heartbeat_interval or max(0.25, min(1.0, lease_seconds() / 4))
        self.on_progress = on_progress
        self.stop = threading.Event()
        self.stop_reason = ""
        self.items_since_checkpoint = 0
        self._ckpt_lock = threading.Lock()
        self._beat_thread: threading.Thread | None = None

    # public
    def run(self) -> dict[str, Any]:
        self.kind = self._claim()
        self.limiter = self.limiter or AdaptiveRateLimiter.from_config(self.session.options)
        error = ""
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(one_core.one_core())  # before any thread of the run starts
                stack.enter_context(row_sql.shared_connection())
                self._run(stack)
        except (BackupError, RestoreError) as exc:
            log.exception("session %s failed", self.session_id)
            error = str(exc)
        except Exception as exc:  # never leave a session "running" behind a live process
            log.exception("session %s crashed", self.session_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self.stop.set()
            if self._beat_thread is not None:
                self._beat_thread.join(10)
        return self._finish(error)

    def _claim(self) -> SessionKind:
        """The lease, for a session whose kind is known (`kind_for` refuses the others first)."""
        found = RestoreSession.objects.filter(pk=self.session_id).first()
        if found is None:
            raise SessionBusy(f"no session {self.session_id}")
        self.kind_for(found)
        if not claim_session(self.session_id, self.worker_id, found.kind):
            session = RestoreSession.objects.get(pk=self.session_id)
            raise SessionBusy(
                f"session {self.session_id} is {session.status}"
                + (f" and held by {session.worker_id}" if session.is_active else "")
            )
        self.session = RestoreSession.objects.select_related(
            "backup", "destination", "rollback_of", "retry_of"
        ).get(pk=self.session_id)
        return self.kind_for(self.session)

    def _run(self, stack: contextlib.ExitStack) -> None:
        """The kind's steps (see `run/kind.py`) between the lease and the final status."""
        if refusal := self.kind.refusal():
            raise RestoreError(refusal)
        self.kind.open(stack)
        self.progress = self._initial_progress(self.kind.totals())
        self._start_heartbeat()
        ctx = self.kind.open_context(self.client, self.limiter)
        ctx.retry_listener = self.progress.retry
        self.items = ItemRunner(
            self.session,
            ctx,
            process=self.kind.process,
            limiter=self.limiter,
            progress=self.progress,
            should_stop=self.stop.is_set,
        )
        self.kind.start(ctx, self.stop.is_set)
        for level in self.kind.levels(ctx, self.stop.is_set):
            if self.stop.is_set():
                return
            if level.in_order:
                self._run_in_order(level.items)
            elif level.content_type is None:
                self._run_again(level.items)
            else:
                self._run_typed_level(level)

    def _start_heartbeat(self) -> None:
        """Before logging in: a login that fails for minutes still holds the lease visibly."""
        self._beat_thread = threading.Thread(target=self._heartbeat, name="restore-heartbeat")
        self._beat_thread.daemon = True
        self._beat_thread.start()

    def _set_total(self, total: int) -> None:
        total += added_items(self.session)  # dependencies restored on the way, beyond the selection
        RestoreSession.objects.filter(pk=self.session_id).update(total=total)
        self.session.total = total

    # levels
    def _run_in_order(self, items: Iterable[Any]) -> None:
        """Steps one after another, in the kind's order (sub-folders before their parents)."""
        for item in items:
            if self.stop.is_set():
                return
            ct = ContentType(item.content_type)
            self.progress.current_type = ct.slug
            self.kind.run_item(self.items, item)
            self._maybe_checkpoint(ct)

    def _run_typed_level(self, level: Level) -> None:
        """One type's items; items with a final result row are done already (resume)."""
        ct = ContentType(level.content_type)
        ckpt, _ = RestoreCheckpoint.objects.get_or_create(
            session=self.session, content_type=int(ct)
        )
        if ckpt.level_done:
            return
        self.progress.current_type = ct.slug
        done = set(
            self.session.results.filter(content_type=int(ct), action__in=FINAL_ACTIONS).values_list(
                "source_id", flat=True
            )
        )
        self._run_level(ct, level.items, done, self.session.options.workers)
        self._checkpoint(ct, level_done=not self.stop.is_set())

    def _run_level(
        self, ct: ContentType, items: Iterable[Any], done: set[str], workers: int
    ) -> None:
        run_level_items(
            self.items,
            ct,
            items,
            done,
            workers,
            self.stop,
            after_item=lambda: self._maybe_checkpoint(ct),
        )

    def _run_again(self, items: Iterable[Any]) -> None:
        """Items of several types, each a second time, in parallel (every object exists now)."""
        run_level_items(
            self.items, None, items, set(), self.session.options.workers, self.stop, again=True
        )

    # checkpoints, heartbeat
    def _maybe_checkpoint(self, ct: ContentType) -> None:
        with self._ckpt_lock:
            self.items_since_checkpoint += 1
            if self.items_since_checkpoint < self.items.ctx.config.checkpoint_interval:
                return
            self.items_since_checkpoint = 0
        self._checkpoint(ct)

    def _checkpoint(self, ct: ContentType, *, level_done: bool = False) -> None:
        by_type = counts_by_type(self.session)  # one GROUP BY over the session's rows, used twice
        counts = by_type.get(ct.slug, {})
        fields = {
            "completed_count": sum(v for k, v in counts.items() if k != "failed"),
            "failed_count": counts.get("failed", 0),
        }
        if level_done:
            fields["level_done"] = True
        RestoreCheckpoint.objects.filter(session=self.session, content_type=int(ct)).update(
            updated_at=timezone.now(), **fields
        )
        refresh_counters(self.session, worker_id=self.worker_id, summary=False, by_type=by_type)
        malloc_trim.trim()  # a long run's freed memory back to the OS, every 10 s (see there)

    def _heartbeat(self) -> None:
        try:
            while not self.stop.wait(self.heartbeat_interval):
                try:
                    self._beat()
                except Exception:  # a missed beat is retried; the lease allows several
                    log.exception("session %s: heartbeat failed", self.session_id)
                release_idle()  # no pooled connection held between beats
        finally:
            connection.close()

    def _beat(self) -> None:
        doc = self.progress.document(self._limiter_state(), self._active())
        n = RestoreSession.objects.filter(pk=self.session_id, worker_id=self.worker_id).update(
            heartbeat_at=timezone.now(), progress=documents.store(doc)
        )
        if n != 1:
            self._halt("lost the lease: another worker took this session over")
            return
        if RestoreSession.objects.filter(pk=self.session_id, cancel_requested=True).exists():
            self._halt("cancelled")
        if self.on_progress is not None:
            self.on_progress(doc)

    def _active(self) -> ActiveItems | None:
        items = getattr(self, "items", None)
        return items.active if items is not None else None

    def _limiter_state(self) -> dict[str, Any]:
        try:
            return self.limiter.state() if self.limiter else {}
        except Exception:  # a progress page must not kill a run  # noqa: BLE001
            return {}

    def _halt(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()

    def _initial_progress(self, totals: dict[str, int]) -> Progress:
        self._set_total(sum(totals.values()))
        base = counts_by_type(self.session)
        # Pending intents are re-run: count them when they finish, not now.
        pending = self.session.results.filter(action="pending").values_list("content_type")
        for (ct_value,) in pending:
            slug = ContentType(ct_value).slug
            if slug in base:
                base[slug]["failed"] = max(0, base[slug]["failed"] - 1)
        progress = Progress(totals, base)
        # A resumed run goes on counting the retries of the runs before it.
        if earlier := documents.read_progress(self.session.progress):
            progress.retried.update(earlier.transient_retried)
        return progress

    def _finish(self, error: str) -> dict[str, Any]:
        session = RestoreSession.objects.get(pk=self.session_id)
        if session.worker_id != self.worker_id:
            return documents.store(base_summary(session))  # somebody else owns it now
        if self.stop_reason and self.stop_reason != "cancelled" and not error:
            error = self.stop_reason
        totals = refresh_counters(session, worker_id=self.worker_id, summary=False)
        done, failed = sum(totals.values()), totals["failed"]
        status = RestoreSession.final_status(
            error=error, cancelled=self.stop_reason == "cancelled", done=done, failed=failed
        )
        if status == RestoreSession.Status.FAILED and not error:
            error = f"every item failed ({failed} of {done})"
        doc = self.progress.document(self._limiter_state()) if hasattr(self, "progress") else None
        RestoreSession.objects.filter(pk=self.session_id, worker_id=self.worker_id).update(
            status=status,
            error_message=error,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            progress=documents.store(doc) if doc is not None else {},
        )
        self.kind.finish(status)
        return refresh_counters(RestoreSession.objects.get(pk=self.session_id))


def done_keys(session: RestoreSession) -> set[tuple[int, str]]:
    """(content type, source ID) of the items with a final result row: done already (resume)."""
    return set(
        session.results.filter(action__in=FINAL_ACTIONS).values_list("content_type", "source_id")
    )


def run_level_items(
    runner: ItemRunner,
    ct: ContentType | None,
    items: Iterable[Any],
    done: set[str],
    workers: int,
    stop: threading.Event,
    after_item: Callable[[], None] = lambda: None,
    *,
    again: bool = False,
) -> None:
    """Items of one level through a pool: at most `workers * 2` read ahead (bounded memory), an
    item waits while an item it refers to (its parent folder) is still running.

    `ct` None: items of several types with no order among them (the second pass)."""
    refs = SELF_REFERENCES.get(ct) if ct is not None else None
    name = ct.slug if ct is not None else "again"
    flight = _InFlight(workers * 2)
    active = runner.active

    def work(item: Any, key: str) -> None:
        try:
            with active.slot():  # fewer at once while the process' CPU is the bottleneck
                if stop.is_set():
                    return
                runner.run(item, again=again)
            after_item()
        except Exception as exc:  # never lose the pool to one item  # noqa: BLE001
            log.exception("item %s %s crashed the worker", name, key)
            runner.progress.error(name, key, exc)
        finally:
            close_old_connections()
            flight.leave(key)

    with ThreadPoolExecutor(workers, thread_name_prefix=f"restore-{name}") as pool:
        futures: list[Future] = []
        for item in items:
            if stop.is_set():
                break
            key = _key(item)
            if key in done:
                continue
            flight.enter(key, _deps(refs, item), stop)
            futures.append(pool.submit(work, item, key))
            futures = [f for f in futures if not f.done()]
        for f in futures:
            f.result()


class _InFlight:
    """The items of a level running now: at most `size` read ahead; an item waits while an item
    it refers to is running."""

    def __init__(self, size: int) -> None:
        self.running: set[str] = set()
        self.cond = threading.Condition()
        self.window = threading.BoundedSemaphore(size)

    def enter(self, key: str, deps: set[str], stop: threading.Event) -> None:
        release_idle()  # this thread now waits on the workers: they may need its connection
        with self.cond:
            while deps & self.running and not stop.is_set():
                self.cond.wait(0.5)
            self.running.add(key)
        self.window.acquire()

    def leave(self, key: str) -> None:
        with self.cond:
            self.running.discard(key)
            self.cond.notify_all()
        self.window.release()


def _key(item: Any) -> str:
    try:
        return source_id_of(item)
    except BackupError:
        return str(item.id)


def _deps(refs: Callable[[dict[str, Any]], list[str]] | None, item: Any) -> set[str]:
    if refs is None:
        return set()
    try:
        return set(refs(item.content))
    except BackupError:
        return set()


# -- counters and summary -------------------------------------------------------------------------
def refresh_counters(
    session: RestoreSession,
    *,
    worker_id: str | None = None,
    summary: bool = True,
    by_type: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """Counters (and the summary) from the result rows: the one source of truth."""
    by_type = by_type if by_type is not None else counts_by_type(session)
    totals = {k: sum(c[k] for c in by_type.values()) for k in COUNTED}
    qs = RestoreSession.objects.filter(pk=session.pk)
    if worker_id is not None:
        qs = qs.filter(worker_id=worker_id)
    qs.update(**totals)
    if not summary:
        return totals
    session.refresh_from_db()
    doc = documents.store(session_summary(session, by_type))
    RestoreSession.objects.filter(pk=session.pk).update(summary=doc)
    return doc


def session_summary(
    session: RestoreSession, by_type: dict[str, dict[str, int]] | None = None
) -> documents.Summary:
    """The engine's summary plus duration, throughput and the per-error-class breakdown, keeping
    what a rollback or an applied plan found changed before its first write."""
    doc = base_summary(session, by_type)
    classes = Counter(
        session.dlq_items.exclude(status=DeadLetterItem.Status.RESOLVED).values_list(
            "error_class", flat=True
        )
    )
    doc.by_error_class = dict(classes)
    doc.dlq_open = session.dlq_items.filter(status=DeadLetterItem.Status.OPEN).count()
    done = sum(getattr(doc, k) for k in COUNTED)
    doc.throughput = round(done / doc.duration_s, 3) if doc.duration_s else None
    progress = documents.read_progress(session.progress)
    doc.rate_limiter = progress.rate_limiter if progress is not None else documents.LimiterState()
    before = documents.read_summary(session.summary) or documents.Summary()
    for field in CHANGED_SINCE:  # recorded by a kind's check before its first write
        if getattr(before, field) is not documents.UNSET:
            setattr(doc, field, getattr(before, field))
            setattr(doc, f"{field}_count", getattr(before, f"{field}_count"))
    return doc


CHANGED_SINCE = ("changed_since_restore", "changed_since_plan")


SUMMARY_CSV_COLUMNS = ("total", *COUNTED)


def summary_csv(summary: documents.Summary) -> str:
    """Per-type rows, a total row, then the error classes: the CSV export of a summary."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["type", *SUMMARY_CSV_COLUMNS])
    for slug, counts in summary.by_type.items():
        writer.writerow([slug, counts.done, *(getattr(counts, k) for k in COUNTED)])
    writer.writerow(["all", summary.total, *(getattr(summary, k) for k in COUNTED)])
    if summary.by_error_class:
        writer.writerow([])
        writer.writerow(["error_class", "count"])
        for cls, n in sorted(summary.by_error_class.items()):
            writer.writerow([cls, n])
    return out.getvalue()
