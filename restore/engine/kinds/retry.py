"""A DLQ retry is a session of kind `retry`, run by the one runner (lease, heartbeat, cancel,
checkpoints, resume), linked to the session whose dead-letter items it runs again (`retry_of`).

- `start_retries(ids, user)` claims the items (open or dismissed → retrying, by a conditional
  UPDATE that also names the claiming session, so two retries of one item never run at once) into
  one pending retry session per original session, and records the action in the audit history.
  The session's selection is exactly the items it claimed (`config.dlq_item_ids`).
- The runner runs the retry kind (`RetryKind`): each claimed item with `retry_one`, one after
  another in restore order, in the context of the session it failed in (its kind's
  `retry_context`: its options, same-instance decision, ID map, a dry run's plan). An item with a
  final result row in the retry session is done already: a resumed retry goes on with the rest,
  never with the whole backup.
- A success: the original's result row takes the new outcome marked `retried_at` (the original
  still counts it as failed, "since retried" beside), and the DLQ item is resolved; a dry run's
  item is planned again and dismissed, never "resolved": nothing was written. A failure: the item
  is open again with the new attempts. The retry session's own row says what happened.
- A retry cancelled or failed gives the items it did not run back to the queue (open, still naming
  it), so support can retry them afresh at once; its resume takes back those nobody took since.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from django.utils import timezone

from restore.engine.core import documents
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import RestoreError
from restore.engine.core.words import plural
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.kinds.restore import rank
from restore.engine.kinds.rollback import inherited_limits
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter
from restore.engine.limits.retries import call_with_retries
from restore.engine.run import dlq
from restore.engine.run.kind import KindFor, Level, SessionKind
from restore.engine.run.runner import ItemRunner, done_keys, refresh_counters
from restore.engine.run.session import (
    DestinationBusy,
    create_session,
    record_dependency_outcome,
    record_outcome,
    writing_sessions,
)
from restore.models import AuditEvent, DeadLetterItem, RestoreItemResult, RestoreSession

CLAIMABLE = (DeadLetterItem.Status.OPEN, DeadLetterItem.Status.DISMISSED)

# A retry session ending so gives the items it did not run back to the dead-letter queue.
RELEASING = (RestoreSession.Status.CANCELLED, RestoreSession.Status.FAILED)


class RetryKind(SessionKind):
    """The dead-letter items a retry session claimed, one after another in restore order, run
    by the kind of the session they failed in (`kind_for(original)`)."""

    name = RestoreSession.Kind.RETRY

    def __init__(self, session: RestoreSession, kind_for: KindFor) -> None:
        super().__init__(session)
        self.kind_for = kind_for

    def refusal(self) -> str:
        if self.session.retry_of is None:
            return f"retry session {self.session.pk} does not say what it retries"
        return ""

    def open(self, stack: contextlib.ExitStack) -> None:
        done = done_keys(self.session)
        reclaim(self.session, done)
        self.todo = [
            d for d in claimed_items(self.session) if (d.content_type, d.content_id) not in done
        ]
        self.of = self.kind_for(self.session.retry_of)
        self.of.open_for_retry(stack)

    def totals(self) -> dict[str, int]:
        return items_by_type(self.session)

    def open_context(self, client: Any, limiter: AdaptiveRateLimiter) -> RestoreContext:
        return self.of.retry_context(client, limiter)

    def levels(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> Iterator[Level]:
        yield Level(sorted(self.todo, key=lambda d: rank(d.content_type)), in_order=True)

    def process(self, ctx: RestoreContext, item: Any) -> ItemOutcome:
        return self.of.process(ctx, item)

    def run_item(self, items: ItemRunner, item: DeadLetterItem) -> None:
        retry_one(items, self.of, self.session, item)

    def finish(self, status: str) -> None:
        if status in RELEASING:
            release(self.session)  # retriable afresh meanwhile; a resume claims them again
        if self.session.retry_of_id:  # the original's summary: "since retried", DLQ still open
            refresh_counters(RestoreSession.objects.get(pk=self.session.retry_of_id))


def start_retries(
    item_ids: list[int],
    user: Any = None,
    *,
    statuses: tuple[str, ...] = CLAIMABLE,
    alongside: Iterable[int] | None = (),
) -> list[RestoreSession]:
    """Claim the items into pending retry sessions (one per original session) and record it.
    Items somebody else claimed first, or that are closed, are left out; no item, no session.

    A retry writes: while another session writes into its destination it is refused
    (`DestinationBusy`, nothing claimed) unless the user confirmed that very session
    (`alongside`); None checks nothing (a retry queued before it could be asked)."""
    by_session: dict[int, list[int]] = {}
    rows = DeadLetterItem.objects.filter(pk__in=list(item_ids), status__in=statuses)
    for pk, session_id in rows.values_list("pk", "session_id").order_by("pk"):
        by_session.setdefault(session_id, []).append(pk)
    if reason := retry_refusal(by_session):
        raise RestoreError(reason)
    originals = [
        RestoreSession.objects.select_related("destination").get(pk=pk) for pk in by_session
    ]
    if alongside is not None:
        refuse_busy(originals, alongside)
    retries = []
    mine = None if alongside is None else list(alongside)  # and the retries made here
    for original in originals:
        retry = _claim(original, by_session[original.pk], user, statuses, mine)
        if retry is not None and mine is not None:
            mine.append(retry.pk)
        if retry is not None:
            retries.append(retry)
    claimed = [pk for r in retries for pk in r.options.dlq_item_ids]
    if claimed:
        what = "; ".join(
            f"{plural(len(r.options.dlq_item_ids), 'item')} of session {r.retry_of_id} → retry {r.pk}"
            for r in retries
        )
        AuditEvent.record(user, AuditEvent.Action.RETRY, claimed, summary=what)
    return retries


def retry_refusal(session_ids: Iterable[int]) -> str | None:
    """Why items of these sessions must not be retried: a session was rolled back (or a
    rollback of it was started), and a retry would write back part of what it undid."""
    rollback = (
        RestoreSession.objects.filter(
            kind=RestoreSession.Kind.ROLLBACK, rollback_of_id__in=list(session_ids), dry_run=False
        )
        .order_by("pk")
        .first()
    )
    if rollback is None:
        return None
    return (
        f"nothing was retried: session {rollback.rollback_of_id} was rolled back (rollback "
        f"session {rollback.pk}), and retrying its items would write back part of what the "
        "rollback undid"
    )


def refuse_busy(originals: list[RestoreSession], alongside: Iterable[int]) -> None:
    """Before any item is claimed: DestinationBusy for the first destination another writing
    session (not confirmed) is writing into."""
    confirmed = {int(pk) for pk in alongside}
    for original in originals:
        if original.dry_run:
            continue
        busy = [s for s in writing_sessions(original.destination) if s.pk not in confirmed]
        if busy:
            raise DestinationBusy(original.destination, busy)


def _claim(
    original: RestoreSession,
    ids: list[int],
    user: Any,
    statuses: tuple[str, ...],
    alongside: Iterable[int] | None,
) -> RestoreSession | None:
    create = RestoreSession.objects.create if alongside is None else create_checked(alongside)
    retry = create(
        kind=RestoreSession.Kind.RETRY,
        retry_of=original,
        backup=original.backup,
        destination=original.destination,
        source_instance=original.source_instance,
        config=RestoreConfig(
            dry_run=original.dry_run, workers=1, **inherited_limits(original.options)
        ).model_dump(mode="json"),
        dry_run=original.dry_run,
        started_by=user if getattr(user, "pk", None) else None,
    )
    DeadLetterItem.objects.filter(pk__in=ids, status__in=statuses).update(
        status=DeadLetterItem.Status.RETRYING, retry_session=retry
    )
    claimed = sorted(retry.retried_items.values_list("pk", flat=True))
    if not claimed:  # somebody else got every one of them first
        retry.delete()
        return None
    retry.config = {**retry.config, "dlq_item_ids": claimed}
    retry.total = len(claimed)
    retry.save(update_fields=["config", "total"])
    return retry


def create_checked(alongside: Iterable[int]) -> Callable[..., RestoreSession]:
    """`create_session` with the user's confirmations: the check and the insert in one
    transaction, so a session started meanwhile is not missed."""
    return partial(create_session, alongside=list(alongside))


def claimed_items(retry: RestoreSession) -> list[DeadLetterItem]:
    """The items of a retry session still its to run: claimed by it and not closed since."""
    return list(
        DeadLetterItem.objects.filter(
            pk__in=retry.options.dlq_item_ids,
            retry_session=retry,
            status=DeadLetterItem.Status.RETRYING,
        ).order_by("id")
    )


def release(retry: RestoreSession) -> int:
    """A retry cancelled or failed before running some of its items: they are open again, so
    support can retry them afresh at once; they keep naming this session, whose resume takes back
    those nobody claimed since (`reclaim`)."""
    return DeadLetterItem.objects.filter(
        retry_session=retry, status=DeadLetterItem.Status.RETRYING
    ).update(status=DeadLetterItem.Status.OPEN)


def reclaim(retry: RestoreSession, done: set[tuple[int, str]]) -> int:
    """A resumed retry claims again what `release` gave back and it has not run, unless another
    retry claimed it since (then it names that one)."""
    ids = [
        pk
        for pk, ct, sid in DeadLetterItem.objects.filter(
            pk__in=retry.options.dlq_item_ids,
            retry_session=retry,
            status=DeadLetterItem.Status.OPEN,
        ).values_list("pk", "content_type", "content_id")
        if (ct, sid) not in done
    ]
    return DeadLetterItem.objects.filter(
        pk__in=ids, retry_session=retry, status=DeadLetterItem.Status.OPEN
    ).update(status=DeadLetterItem.Status.RETRYING)


def items_by_type(retry: RestoreSession) -> dict[str, int]:
    """Totals per type of the retry session's selection (its progress bars)."""
    counts: dict[str, int] = {}
    rows = DeadLetterItem.objects.filter(pk__in=retry.options.dlq_item_ids)
    for ct in rows.values_list("content_type", flat=True):
        slug = ContentType(ct).slug
        counts[slug] = counts.get(slug, 0) + 1
    return counts


def retry_one(
    items: ItemRunner, of: SessionKind, retry: RestoreSession, dead: DeadLetterItem
) -> None:
    """Run one claimed item again with `items`, in the context of the original session (`of`,
    its kind): its row there takes the new outcome, the retry session's own row says so."""
    ct = ContentType(dead.content_type)
    history: list[documents.Attempt] = []
    items.ctx.on_dependency = partial(record_dependency_outcome, items.session, run=retry)
    try:
        item = of.retry_item(dead)
        outcome = call_with_retries(
            lambda: items.process(items.ctx, item),
            max_retries=items.max_retries,
            history=history,
            should_stop=items.should_stop,
        )
    except Exception as exc:  # the item's failure is the item's: open again  # noqa: BLE001
        if items.should_stop():
            return  # cancelled mid-item: still claimed, a resume runs it again
        dlq.reopen(dead, exc, history)
        _record(retry, dead, "failed", str(exc)[:2000])
        items.progress.count(ct.slug, "failed")
        items.progress.error(ct.slug, dead.content_id, exc)
        return
    original = of.session
    record_outcome(original, outcome)
    RestoreItemResult.objects.filter(
        session=original, content_type=int(ct), source_id=dead.content_id
    ).update(retried_at=timezone.now())
    # Closed by the retry (the system), not by the person who started it: the note says what
    # the retry did, in words ("created as #432"), and is signed by no one.
    where = f" as #{outcome.destination_id}" if outcome.destination_id else ""
    if original.dry_run:
        note = f"planned again by retry {retry.pk} (dry run, nothing written): would be {outcome.action}"
        dead.dismiss(None, note=note)
    else:
        dlq.mark_resolved(dead, None, f"{outcome.action}{where} by retry {retry.pk}")
    _record(retry, dead, outcome.action, "", outcome.destination_id)
    items.progress.count(ct.slug, outcome.action)


def _record(
    retry: RestoreSession, dead: DeadLetterItem, action: str, message: str, dest: str = ""
) -> None:
    """The retry session's own result row: its counters, and its checkpoint for resume."""
    RestoreItemResult.objects.update_or_create(
        session=retry,
        content_type=dead.content_type,
        source_id=dead.content_id,
        defaults={"action": action, "message": message, "name": dead.name, "destination_id": dest},
    )


def retry_report(retries: list[RestoreSession]) -> dict[str, Any]:
    """What the retry sessions did, per item (`dlq retry --json`)."""
    out: dict[str, Any] = {"retried": 0, "resolved": 0, "failed": 0, "items": [], "sessions": []}
    for retry in retries:
        out["sessions"].append(retry.pk)
        rows = {
            (ct, sid): (action, message or f"{action} {dest}".strip())
            for ct, sid, action, message, dest in retry.results.values_list(
                "content_type", "source_id", "action", "message", "destination_id"
            )
        }
        dead_items = DeadLetterItem.objects.filter(pk__in=retry.options.dlq_item_ids)
        for dead in dead_items.order_by("id"):
            action, message = rows.get((dead.content_type, dead.content_id), ("", "not run"))
            if not action:
                continue
            ok = action not in ("failed", "blocked")
            out["retried"] += 1
            out["resolved" if ok else "failed"] += 1
            out["items"].append({"id": dead.pk, "resolved": ok, "detail": message})
    return out
