"""The pieces of a restore session the runner (`restore.engine.run.runner`, the one way to run a
session of any kind) strings together:
- `start_session(...)` creates the RestoreSession row; `open_context(session, reader)` builds the
  RestoreContext (client, ID map, options, compatibility check);
- `plan_levels(reader, selection)` yields (content type, items in dependency order) per level;
- `restore_item(context, item)` (restore_item.py) does one item, raising on failure;
- `record_outcome` / `record_failure` write the RestoreItemResult row; `deferred` outcomes need a
  second `restore_item(..., again=True)` after the last level;
- `base_summary(session)` the counters of a session's summary (`documents.Summary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from restore.engine.backup.order import SELF_REFERENCES, ordered_items
from restore.engine.backup.queries import QueryIndex
from restore.engine.backup.reader import BackupError, Selection, open_backup, stored_id_forms
from restore.engine.core import documents, row_sql
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import NOT_RESTORABLE, RESTORE_ORDER, ContentType
from restore.engine.core.errors import LookerApiError, RestoreError
from restore.engine.core.words import plural
from restore.engine.identity.counterpart import check_source, decide_instance, verify_entry
from restore.engine.identity.idmap import IdMap
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.item.restore import display_name, restore_nested, source_id_of
from restore.engine.item.written import RESULT_KEY, ROW_COLUMNS, over_attempts
from restore.engine.looker.client import LookerClient
from restore.engine.looker.compat import check_compatibility
from restore.engine.looker.source import SourceInstance
from restore.engine.run.blocked import blocked_reasons
from restore.models import Backup, Destination, RestoreItemResult, RestoreSession

COUNTED = ("created", "updated", "unchanged", "skipped", "failed")


def start_session(
    backup: Backup,
    destination: Destination,
    config: RestoreConfig,
    user: Any = None,
    *,
    alongside: Iterable[int] | None = None,
) -> RestoreSession:
    """A new restore session. With `alongside` (a user starting it: the CLI) it is refused while
    another session writes into the destination, unless that one is listed; None checks nothing
    (a caller that runs its sessions one after another itself)."""
    if alongside is None:
        return RestoreSession.objects.create(
            backup=backup,
            destination=destination,
            config=config.model_dump(mode="json"),
            dry_run=config.dry_run,
            started_by=user,
        )
    return create_session(
        alongside=alongside,
        backup=backup,
        destination=destination,
        config=config.model_dump(mode="json"),
        dry_run=config.dry_run,
        started_by=user,
    )


class DestinationBusy(RestoreError):
    """Another session writing into the destination is pending or running; a second one starts
    only alongside it, when the user confirmed that very session (`busy_ids`)."""

    def __init__(self, destination: Destination, busy: list[RestoreSession]) -> None:
        self.busy_ids = [s.pk for s in busy]
        which = ", ".join(f"{s.kind} session {s.pk} ({s.status})" for s in busy)
        super().__init__(
            f"{which} is writing into {destination.name}: a second session there starts only "
            "when you confirm running it alongside"
        )


def writing_sessions(destination: Destination | int) -> models.QuerySet[RestoreSession]:
    """The sessions pending or running that write into the destination (plans write nothing)."""
    return RestoreSession.objects.filter(
        destination=destination, dry_run=False, status__in=RestoreSession.ACTIVE_STATUSES
    ).order_by("pk")


def create_session(*, alongside: Iterable[int] = (), **fields: Any) -> RestoreSession:
    """Create a session; one that writes only when no other writing session is pending or running
    on its destination, or the user confirmed each of those (`alongside`, their IDs).

    The check and the insert are one transaction holding the destination's row (SQLite: the
    IMMEDIATE transaction's write lock), so two starts at once never both pass the check."""
    if fields.get("dry_run"):
        return RestoreSession.objects.create(**fields)
    destination = fields["destination"]
    confirmed = {int(pk) for pk in alongside}
    with transaction.atomic():
        list(Destination.objects.select_for_update().filter(pk=destination.pk).values("pk"))
        busy = [s for s in writing_sessions(destination) if s.pk not in confirmed]
        if busy:
            raise DestinationBusy(destination, busy)
        return RestoreSession.objects.create(**fields)


def resume_session(session: RestoreSession, alongside: Iterable[int] = ()) -> None:
    """Make an interrupted session claimable again; one that writes only when no other writing
    session is pending or running on its destination, or the user confirmed each of those
    (`alongside`), as when starting one. Checked and resumed holding the destination's row."""
    if session.dry_run:
        session.resume()
        return
    confirmed = {int(pk) for pk in alongside} | {session.pk}
    with transaction.atomic():
        list(Destination.objects.select_for_update().filter(pk=session.destination_id).values("pk"))
        busy = [s for s in writing_sessions(session.destination_id) if s.pk not in confirmed]
        if busy:
            raise DestinationBusy(session.destination, busy)
        session.resume()


def open_context(
    session: RestoreSession, reader: Any, client: LookerClient | None = None
) -> RestoreContext:
    """Client (logged in once), ID map and options for a session; checks GET /versions first.

    Same instance or not is decided once per session, from a sample of the destination (or by the
    user), and kept: a resumed session goes on with the decision it started with."""
    config = session.options
    destination = session.destination
    client = client or LookerClient.for_destination(destination, in_flight=config.max_in_flight)
    client.login()
    ctx = RestoreContext(
        client=client,
        idmap=IdMap(destination, session, write=not config.dry_run),
        config=config,
        same_instance=False,
        source=reader,
        queries=QueryIndex(reader) if reader is not None else None,
        session=session,
        restore_nested=restore_nested,
    )
    ctx.idmap.verifier = lambda ct, sid, dest, recorded: verify_entry(ctx, ct, sid, dest, recorded)
    ctx.origin = open_source(config)
    ctx.compat = check_compatibility(client)
    if not session.identity:
        session.identity = decide_instance(ctx, reader, config.instance).as_dict()
        session.save(update_fields=["identity"])
    ctx.same_instance = bool(session.identity.get("same_instance"))
    prove_source(ctx, session, reader)
    if not ctx.same_instance and "same_types" in session.identity:
        ctx.ids_may_match = frozenset(session.identity["same_types"])
    return ctx


def open_source(config: RestoreConfig) -> SourceInstance | None:
    """The source instance the user named, read only; one removed since reads as unreachable."""
    if config.source_destination_id is None:
        return None
    found = Destination.objects.filter(pk=config.source_destination_id).first()
    if found is None:
        return SourceInstance.missing(f"#{config.source_destination_id}")
    return SourceInstance.for_destination(found, config)


def prove_source(ctx: RestoreContext, session: RestoreSession, reader: Any) -> None:
    """Nothing is read from the source instance as the backup's until a sample of the backup's
    items proves it is the instance they came from; decided once per session (`identity`)."""
    if ctx.origin is None or not ctx.origin.registered:
        return
    checked = session.identity.get("source")
    if checked is None:
        threads = max(1, min(8, ctx.config.max_in_flight))
        checked = check_source(ctx.origin, reader, threads)
        if not checked["answered"] and checked["sampled"]:
            # no answer at all: decided by whoever runs this session next (resume, DLQ retry)
            ctx.origin.refuse("is unreachable: no answer to the check of its objects")
            return
        session.identity = {**session.identity, "source": checked}
        session.save(update_fields=["identity"])
    if not checked.get("proven"):
        ctx.origin.refuse(checked.get("refusal") or "is not proven the backup's origin")


def selection_of(config: RestoreConfig) -> Selection:
    return Selection.model_validate(config.selection or {})


def plan_levels(
    reader: Any, selection: Selection
) -> Iterator[tuple[ContentType, Iterable[Any], set[str], int]]:
    """Per type in restore order: the items (parents before children), cycle members and count.

    Types without self-references stream from the backup (bounded memory); folders are ordered.
    """
    wanted = selection.types()
    for ct in [*RESTORE_ORDER, *NOT_RESTORABLE]:
        if ct not in wanted:
            continue
        sel = selection.model_copy(update={"content_types": [ct]})
        count = reader.count(sel)
        if not count:
            continue
        if ct in SELF_REFERENCES:
            ordered, cyclic = ordered_items(reader, ct, sel)
            yield ct, ordered, cyclic, count
        else:
            yield ct, reader.iter_items(sel), set(), count


CHANGED_LISTED = 500  # objects changed since a plan or restore kept; the count says how many


def record_changed(session: RestoreSession, field: str, changed: list[str]) -> None:
    """Before a first write, in the summary: what changed in the destination since the plan
    (`changed_since_plan`) or the restore (`changed_since_restore`) — listed and counted."""
    doc = documents.read_summary(session.summary) or documents.Summary(
        session_id=session.pk, status=session.status, dry_run=session.dry_run
    )
    setattr(doc, field, changed[:CHANGED_LISTED])
    setattr(doc, f"{field}_count", len(changed))
    session.summary = documents.store(doc)
    RestoreSession.objects.filter(pk=session.pk).update(summary=session.summary)


def record_retries(
    session: RestoreSession, ct: ContentType, source_id: str, attempts: list[documents.Attempt]
) -> None:
    """Keep the transient errors an item got past with its result (rare: one UPDATE then)."""
    RestoreItemResult.objects.filter(
        session=session, content_type=int(ct), source_id=source_id
    ).update(retries=[documents.store(a) for a in attempts])


def retried_counts(session_id: int) -> dict[str, int]:
    """{status or kind: retried errors} over the session's result rows."""
    counts: dict[str, int] = {}
    rows = RestoreItemResult.objects.filter(session_id=session_id, retries__isnull=False)
    for attempts in rows.values_list("retries", flat=True).iterator(chunk_size=500):
        for attempt in documents.read_attempts(attempts):
            label = str(attempt.status or attempt.kind or attempt.error_class)
            counts[label] = counts.get(label, 0) + 1
    return counts


def record_outcome(
    session: RestoreSession,
    outcome: ItemOutcome,
    duration_ms: int = 0,
    *,
    deferred: list[str] | None = None,
) -> None:
    """Write an item's result, over every attempt at it in the session (`written.over_attempts`),
    with the second pass it leaves to do (`deferred`, read by the session's second pass).

    An object the session created stays "created" whatever a later attempt found (a second pass,
    a runner's or a DLQ retry of a dashboard short of a tile): a rollback deletes it rather than
    "putting back" a state the session wrote itself. So does an object found while our create
    intent is pending (the POST went through, its response was lost). An object written by an
    earlier attempt stays "updated", with the pre-image from before that first write.

    This runs for every item, so in hand-written SQL (`row_sql`) and, in the usual cases, in one
    statement: an item whose row is this attempt's create intent updates it as it knows it; an
    item with no row yet inserts one unless a row is there (then, as for every other item, the
    row is read under a lock, merged and updated).
    """
    key = {
        "session": session.pk,
        "content_type": int(outcome.content_type),
        "source_id": outcome.source_id,
    }
    asked = outcome.action
    new = [documents.Change(**change) for change in outcome.changes]
    if outcome.intent_session == session.pk:
        values = _outcome_values(outcome, asked, INTENT_ROW, new, duration_ms, deferred)
        if row_sql.update_where(RestoreItemResult, key, values):
            return
    else:
        values = _outcome_values(outcome, asked, None, new, duration_ms, deferred)
        if row_sql.insert(RestoreItemResult, {**key, **values}, conflict=RESULT_KEY):
            return
    with transaction.atomic():
        row = row_sql.select_one(RestoreItemResult, OUTCOME_COLUMNS, key, for_update=True)
        values = _outcome_values(outcome, asked, row, new, duration_ms, deferred)
        if row is None:
            row_sql.insert(RestoreItemResult, {**key, **values})
        else:
            row_sql.update(RestoreItemResult, row["pk"], values)


def _outcome_values(
    outcome: ItemOutcome,
    asked: str,
    row: dict[str, Any] | None,
    new: list[documents.Change],
    duration_ms: int,
    deferred: list[str] | None,
) -> dict[str, Any]:
    """The result row's values for `outcome` over `row` (None: there is none); sets the
    outcome's action to the row's (the runner's counters count what the row says)."""
    written = over_attempts(
        outcome.content_type, row, outcome.destination_id, new, outcome.pre_image
    )
    action = asked
    if written.created and action in ("updated", "unchanged", "skipped"):
        action = "created"
    elif written.changes and action == "unchanged":
        action = "updated"
    outcome.action = action
    done = row is not None and row["action"] != RestoreItemResult.Action.PENDING
    message = _message(outcome) or (row["message"] if done else "")
    return {
        "name": outcome.name[:500],
        "action": action,
        "destination_id": outcome.destination_id,
        "message": message,
        "diff": written.diff(verify=outcome.verify_diff, deferred=deferred),
        "pre_image": written.pre_image if action == "updated" else None,
        "duration_ms": duration_ms,
        "finished_at": timezone.now(),
    }


# A create intent's row as `record_intent` writes it (`OUTCOME_COLUMNS`, the key aside).
INTENT_ROW: dict[str, Any] = {
    "action": RestoreItemResult.Action.PENDING,
    "destination_id": "",
    "diff": None,
    "pre_image": None,
    "message": "",
}
OUTCOME_COLUMNS = ["pk", *ROW_COLUMNS, "message"]


def record_dependency_outcome(
    session: RestoreSession, outcome: ItemOutcome, run: RestoreSession | None = None
) -> None:
    """A dependency restored on the way (--with-dependencies): its row in `session` (a rollback
    of it undoes it), counted by the run that wrote it (`run`: the session, or a retry of it).

    Outside the session's selection it is one more item of that run: its total grows by one, so
    a finished run's counts still add up to its total. A retry's dependency never changes the
    finished original's counts: one the original had failed is "fixed since by a retry"; a new
    one is the retry's own (a row of the retry's too)."""
    run = run or session
    key = {"session": session, "content_type": int(outcome.content_type)}
    key["source_id"] = outcome.source_id
    before = RestoreItemResult.objects.filter(**key).values_list("action", flat=True).first()
    record_outcome(session, outcome)
    if run.pk != session.pk and before in ("failed", "blocked"):
        RestoreItemResult.objects.filter(**key).update(retried_at=timezone.now())
        return
    if before not in (None, RestoreItemResult.Action.PENDING):
        return
    if run.pk == session.pk and in_selection(session, outcome.content_type, outcome.source_id):
        return
    if RestoreItemResult.objects.filter(**key, added_by__isnull=True).update(added_by=run):
        RestoreSession.objects.filter(pk=run.pk).update(total=models.F("total") + 1)
    if run.pk != session.pk:
        RestoreItemResult.objects.update_or_create(
            session=run,
            content_type=int(outcome.content_type),
            source_id=outcome.source_id,
            defaults={
                "action": outcome.action,
                "name": outcome.name[:500],
                "destination_id": outcome.destination_id,
                "message": "restored on the way, as a dependency",
                "added_by": run,
            },
        )


def in_selection(session: RestoreSession, ct: ContentType, source_id: str) -> bool:
    """Whether the session's selection holds this item (its total counted it from the start)."""
    selection = selection_of(session.options)
    if ct not in selection.types():
        return False
    forms = set(stored_id_forms(ct, source_id))
    if selection.ids and not any(forms & set(stored_id_forms(ct, i)) for i in selection.ids):
        return False
    if session.backup is None:
        return True
    one = selection.model_copy(update={"content_types": [ct], "ids": [source_id]})
    try:
        with open_backup(session.backup.path) as reader:
            return reader.count(one) > 0
    except BackupError:
        return True


def added_items(session: RestoreSession) -> int:
    """Dependencies outside the selection this run restored on the way (beyond its selection)."""
    return session.results.filter(added_by=session).count()


def _message(outcome: ItemOutcome) -> str:
    parts = [outcome.message] if outcome.message else []
    if outcome.verify_diff:
        parts.append(
            f"verification: {plural(len(outcome.verify_diff), 'field')} differ after writing"
        )
    return "; ".join(parts)


def _item_key(session: RestoreSession, item: Any) -> dict[str, Any]:
    try:
        sid = source_id_of(item)
    except BackupError:
        sid = str(item.id)
    return {"session": session, "content_type": int(item.content_type), "source_id": sid}


def record_blocked(session: RestoreSession, item: Any, message: str) -> None:
    RestoreItemResult.objects.update_or_create(
        **_item_key(session, item),
        defaults={"action": "blocked", "message": message, "name": _name(item)},
    )


def record_failure(session: RestoreSession, item: Any, exc: Exception) -> None:
    detail = str(exc)
    if isinstance(exc, LookerApiError) and exc.body:
        detail += f"\n{exc.body[:2000]}"
    RestoreItemResult.objects.update_or_create(
        **_item_key(session, item),
        defaults={"action": "failed", "message": detail, "name": _name(item)},
    )


def _name(item: Any) -> str:
    try:
        return display_name(item.content) or str(getattr(item, "name", ""))[:500]
    except BackupError:
        return str(getattr(item, "name", ""))[:500]


def counts_by_type(session: RestoreSession) -> dict[str, dict[str, int]]:
    """Counts per type from the result rows. An item a DLQ retry fixed later still counts as failed
    here (what the session did); `since_retried` says how many of those were fixed since."""
    out: dict[str, dict[str, int]] = {}
    retried = models.ExpressionWrapper(
        models.Q(retried_at__isnull=False), output_field=models.BooleanField()
    )
    rows = (
        session.results.filter(models.Q(added_by__isnull=True) | models.Q(added_by=session))
        .order_by()
        .annotate(retried=retried)
        .values_list("content_type", "action", "retried")
        .annotate(n=models.Count("id"))
    )
    for ct, action, was_retried, n in rows:
        bucket = out.setdefault(ContentType(ct).slug, dict.fromkeys(COUNTED, 0))
        failed = was_retried or action in ("failed", "blocked", "pending")
        bucket["failed" if failed else action] += n
    return out


def since_retried(session: RestoreSession) -> int:
    """Failed items of the session a dead-letter retry has fixed since."""
    return session.results.filter(retried_at__isnull=False).count()


def base_summary(
    session: RestoreSession, by_type: dict[str, dict[str, int]] | None = None
) -> documents.Summary:
    """The counters of a session's summary, from its result rows."""
    by_type = by_type if by_type is not None else counts_by_type(session)
    totals = {k: sum(c[k] for c in by_type.values()) for k in COUNTED}
    blocked = session.results.filter(action="blocked").count()
    # Counted by the database: loading every row's diff here made memory grow with the session.
    mismatches = session.results.filter(diff__has_key="verify").exclude(diff__verify=None).count()
    duration = (
        (session.finished_at - session.started_at).total_seconds()
        if session.finished_at and session.started_at
        else None
    )
    return documents.Summary(
        session_id=session.pk,
        status=str(session.status),
        dry_run=session.dry_run,
        **totals,
        blocked=blocked,
        since_retried=since_retried(session),
        verify_mismatches=mismatches,
        total=session.total,
        by_type={slug: documents.Counts(**counts) for slug, counts in by_type.items()},
        duration_s=duration,
        error=session.error_message or None,
        instance=session.identity or None,
        blocked_reasons=blocked_reasons(session) if blocked else documents.UNSET,
    )
