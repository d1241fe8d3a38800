"""Undo a finished restore: "return the destination to how it was before this session".

A rollback is a session of kind `rollback`, run by the same runner as a restore (lease, heartbeat,
cancel, retries, DLQ, resume). Its items are the original session's result rows: objects the
session created are deleted (last type first, the latest creation first, so sub-folders go before
their parents); objects it updated get their pre-image back through the same restorers (same
instance, IDs as they are), first type first. A deleted object's ID mappings are removed, so a
later restore creates it again instead of referring to an ID that no longer exists. Every step is
idempotent: an object already gone is "unchanged", a pre-image already in place needs no write, so
a resumed or second rollback changes nothing twice.

Before its first write a rollback checks that the destination still holds what the restore left:
each object's own fields the restore wrote (its POST body, then the new values of its PATCHed
fields, from the result row's recorded changes) against the object now. Objects changed (or,
for those to put back, deleted) since are listed and the rollback is refused unless the user
confirmed (`confirm_changed`): undoing would silently throw those changes away. A preview (dry
run) lists them too. Sub-resources (tiles, filters, memberships) are not compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from restore.engine.core import documents
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import RESTORE_ORDER, ContentType
from restore.engine.core.diffs import fields_moved
from restore.engine.core.errors import LookerApiError, RestoreError
from restore.engine.core.words import plural
from restore.engine.identity.idmap import IdMap
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.item.restore import restore_item
from restore.engine.item.restorers import RESTORERS
from restore.engine.item.written import posted
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter
from restore.engine.run.kind import Level, SessionKind
from restore.engine.run.runner import done_keys, open_session_context
from restore.engine.run.session import create_session, record_changed
from restore.models import DeadLetterItem, IDMapping, RestoreItemResult, RestoreSession

RANK = {ct: n for n, ct in enumerate(RESTORE_ORDER)}
DELETE, PUT_BACK = "delete", "put_back"


@dataclass
class RollbackItem:
    """One step of a rollback, keyed like the original session's result row it undoes."""

    content_type: ContentType
    id: str  # the original row's source ID: the key of this step's own result row
    op: str  # DELETE or PUT_BACK
    destination_id: str
    name: str
    row_id: int  # the original result row (its pre-image is read when the step runs)
    data: bytes = b""

    @property
    def content(self) -> dict[str, Any]:
        if self.content_type == ContentType.LOOKML_MODEL:
            return {"id": self.id, "name": self.id}
        return {"id": self.id}


@dataclass
class PreImageItem:
    content_type: ContentType
    id: str
    content: dict[str, Any]


class RollbackKind(SessionKind):
    """The steps one after another (sub-folders before their parents); steps with a final result
    row are done already (resume)."""

    name = RestoreSession.Kind.ROLLBACK

    def open(self, stack: contextlib.ExitStack) -> None:
        self.steps = plan(self.session)

    def totals(self) -> dict[str, int]:
        return dict(steps_by_type(self.steps))

    def open_context(self, client: Any, limiter: AdaptiveRateLimiter) -> RestoreContext:
        return open_session_context(self.session, client, limiter, partial(_login, self.session))

    def start(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> None:
        self.done = done_keys(self.session)
        if not self.done:  # before the first write (a resumed rollback was checked already)
            check_destination(ctx, self.steps, should_stop)

    def levels(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> Iterator[Level]:
        todo = [s for s in self.steps if (int(s.content_type), s.id) not in self.done]
        yield Level(todo, in_order=True)

    def process(self, ctx: RestoreContext, item: RollbackItem) -> ItemOutcome:
        return process_item(ctx, item)

    def retry_item(self, dead: Any) -> RollbackItem:
        step = item_for(self.session, dead.content_type, dead.content_id)
        if step is None:
            raise RestoreError(f"{dead.content_id} is no longer a step of this rollback")
        return step


def _login(session: RestoreSession, client: Any) -> RestoreContext:
    client.login()
    return new_context(session, client)


def start_rollback(
    original: RestoreSession,
    *,
    dry_run: bool = False,
    user: Any = None,
    confirm_changed: bool = False,
    alongside: Iterable[int] = (),
) -> RestoreSession:
    """Create the rollback session (pending) after checking the original can be undone."""
    if original.kind != RestoreSession.Kind.RESTORE:
        raise RestoreError(f"session {original.pk} is a {original.kind}: only a restore is undone")
    if original.dry_run:
        raise RestoreError(f"session {original.pk} was a dry run: it changed nothing to undo")
    if original.is_active:
        raise RestoreError(f"session {original.pk} is still {original.status}")
    with transaction.atomic():  # the original's row held: two clicks make one rollback
        RestoreSession.objects.select_for_update().filter(pk=original.pk).first()
        return _start_rollback(original, dry_run, user, confirm_changed, alongside)


def _start_rollback(
    original: RestoreSession,
    dry_run: bool,
    user: Any,
    confirm_changed: bool,
    alongside: Iterable[int],
) -> RestoreSession:
    live = original.rollbacks.filter(
        status__in=RestoreSession.ACTIVE_STATUSES, dry_run=False
    ).first()
    if live is not None and not dry_run:
        raise RestoreError(
            f"rollback session {live.pk} of session {original.pk} is {live.status}: "
            "resume or cancel it instead of starting another"
        )
    if not dry_run and (retry := original.retries.filter(status__in=ACTIVE).first()):
        raise RestoreError(
            f"retry session {retry.pk} of session {original.pk} is {retry.status}: "
            "let it finish or cancel it before rolling back"
        )
    config = RestoreConfig(
        dry_run=dry_run,
        workers=1,
        confirm_changed=confirm_changed,
        **inherited_limits(original.options),
    )
    rollback = create_session(
        alongside=alongside,
        kind=RestoreSession.Kind.ROLLBACK,
        rollback_of=original,
        backup=original.backup,
        destination=original.destination,
        source_instance=original.destination.base_url,
        config=config.model_dump(mode="json"),
        dry_run=dry_run,
        started_by=user,
    )
    if not dry_run:
        close_dead_letters(original, rollback)
    return rollback


ACTIVE = RestoreSession.ACTIVE_STATUSES


def close_dead_letters(original: RestoreSession, rollback: RestoreSession) -> int:
    """The restore's open dead-letter items are closed as "rolled back": the user asked for the
    restore to be undone, and a retry would write part of it back (dismissed ones keep their
    note; `retry.retry_refusal` refuses them as well)."""
    return original.dlq_items.filter(status=DeadLetterItem.Status.OPEN).update(
        status=DeadLetterItem.Status.ROLLED_BACK,
        resolved_at=timezone.now(),
        resolved_by=rollback.started_by,
        resolution_note=f"session {original.pk} rolled back by rollback session {rollback.pk}",
    )


def inherited_limits(config: RestoreConfig) -> dict[str, Any]:
    """A rollback treats the destination as gently as the restore it undoes did."""
    keep = ("rate_limit_per_second", "rate_limit_per_minute", "max_retries", "checkpoint_interval")
    return {k: getattr(config, k) for k in keep}


def plan(session: RestoreSession) -> list[RollbackItem]:
    """The steps of a rollback session, in the order they run: only what the rollback does, so
    its preview counts the same (an object it deletes is never also put back)."""
    original = session.rollback_of
    if original is None:
        raise RestoreError(f"rollback session {session.pk} does not say which session it undoes")
    rows = list(
        original.results.filter(action__in=["created", "updated", "failed", "blocked"])
        .exclude(destination_id="")
        .defer("pre_image", "diff")  # only a failed row's diff is read (`_action`)
    )
    bare = bare_updates(original)
    actions = {r.pk: bare[r.pk] if r.pk in bare else _action(r) for r in rows}
    created = sorted(
        (r for r in rows if actions[r.pk] == "created"),
        key=lambda r: (-RANK.get(ContentType(r.content_type), 0), -r.pk),
    )
    deleted = {(r.content_type, r.destination_id) for r in created}
    updated = sorted(
        (
            r
            for r in rows
            if actions[r.pk] == "updated" and (r.content_type, r.destination_id) not in deleted
        ),
        key=lambda r: RANK.get(ContentType(r.content_type), 0),
    )
    return [_item(r, DELETE) for r in created] + [_item(r, PUT_BACK) for r in updated]


def bare_updates(original: RestoreSession) -> dict[int, str]:
    """Rows recorded "updated" with no pre-image: written by older code for an object the session
    created (its POST among the changes: deleted like any other it created), or with nothing to
    put back (no step)."""
    rows = original.results.filter(action="updated", pre_image__isnull=True).values_list(
        "pk", "content_type", "diff"
    )
    found: dict[int, str] = {}
    for pk, ct, diff in rows:
        recorded = documents.read_diff(diff)
        found[pk] = (
            "created" if posted(ContentType(ct), recorded.changes if recorded else []) else ""
        )
    return found


def _item(row: RestoreItemResult, op: str) -> RollbackItem:
    ct = ContentType(row.content_type)
    return RollbackItem(ct, row.source_id, op, row.destination_id, row.name, row.pk)


def item_for(session: RestoreSession, content_type: int, source_id: str) -> RollbackItem | None:
    """The step of a rollback session for one original item (a DLQ retry)."""
    for item in plan(session):
        if int(item.content_type) == int(content_type) and item.id == source_id:
            return item
    return None


def _action(row: RestoreItemResult) -> str:
    """What the session did to the object. An item created in the first pass whose second pass
    failed, or a dashboard written but for a tile, is recorded as failed or blocked; its POST in
    the recorded changes says it was created. One it wrote nothing to has nothing to undo."""
    if row.action not in ("failed", "blocked"):
        return row.action
    diff = documents.read_diff(row.diff)
    changes = diff.changes if diff else []
    if posted(ContentType(row.content_type), changes):
        return "created"
    if not changes:
        return "failed"
    has_pre_image = RestoreItemResult.objects.filter(pk=row.pk, pre_image__isnull=False).exists()
    return "updated" if has_pre_image else "failed"


def new_context(session: RestoreSession, client: Any) -> RestoreContext:
    """Same instance, IDs as they are; references to objects gone since are left as they are."""
    return RestoreContext(
        client=client,
        idmap=IdMap(session.destination, persist=False),
        config=session.options,
        same_instance=True,
        session=session,
        lenient=True,
    )


def process_item(ctx: RestoreContext, item: RollbackItem) -> ItemOutcome:
    """One step; raises LookerApiError on failure (the runner retries it, or dead-letters it)."""
    if item.op == DELETE:
        return _delete_created(ctx, item)
    return _put_back(ctx, item)


def _delete_created(ctx: RestoreContext, item: RollbackItem) -> ItemOutcome:
    ct = item.content_type
    path = RESTORERS[ct].object_path(item.destination_id)
    ctx.begin_item()
    if ctx.dry_run:  # the preview asks whether it is there; the rollback finds out by deleting
        found = ctx.client.get_or_none(path) is not None
        if found:
            ctx.write("DELETE", path)
    else:
        found = _delete(ctx, path)
        forget_mappings(ctx.session.destination_id, ct, item.destination_id)
    return delete_outcome(ctx, item, found)


def _delete(ctx: RestoreContext, path: str) -> bool:
    """Delete the object; False when it was gone already (Looker's 404)."""
    try:
        ctx.write("DELETE", path)
    except LookerApiError as exc:
        if exc.status != 404:
            raise
        return False
    return True


def delete_outcome(ctx: RestoreContext, item: RollbackItem, found: bool) -> ItemOutcome:
    """What a delete step did (or would do), decided alike for the preview and the rollback: an
    object already gone is "unchanged". A rollback's counters name its steps by what the restore
    did: "created" is an object it deletes ("deleted", "to delete")."""
    outcome = ItemOutcome("created", item.content_type, item.id, item.name, item.destination_id)
    verb = "would be deleted" if ctx.dry_run else "deleted"
    outcome.message = f"{verb}: created by session {ctx.session.rollback_of_id}"
    if not found:
        outcome.action, outcome.message = "unchanged", "already gone"
    outcome.changes = [c.as_dict() for c in ctx.changes]
    return outcome


def forget_mappings(destination_id: int, ct: ContentType, object_id: str) -> int:
    """Remove every source→destination mapping to an object that no longer exists."""
    deleted, _ = IDMapping.objects.filter(
        destination_instance_id=destination_id, content_type=int(ct), destination_id=object_id
    ).delete()
    return deleted


def _put_back(ctx: RestoreContext, item: RollbackItem) -> ItemOutcome:
    ct = item.content_type
    pre_image = (
        RestoreItemResult.objects.filter(pk=item.row_id).values_list("pre_image", flat=True).first()
    )
    if not pre_image:
        outcome = ItemOutcome("skipped", ct, item.id, item.name, item.destination_id)
        outcome.message = "no pre-image was recorded: nothing to put back"
        return outcome
    outcome = restore_item(ctx, PreImageItem(ct, item.destination_id, pre_image))
    outcome.source_id, outcome.name = item.id, item.name
    if outcome.action == "created":  # deleted since the restore: put back by creating it again
        outcome.action = "updated"
    return outcome


def steps_by_op(session: RestoreSession) -> dict[str, int]:
    """How many objects the rollback deletes and puts back (its page)."""
    counts = dict.fromkeys((DELETE, PUT_BACK), 0)
    for item in plan(session):
        counts[item.op] += 1
    return counts


def steps_by_type(items: list[RollbackItem]) -> Iterator[tuple[str, int]]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.content_type.slug] = counts.get(item.content_type.slug, 0) + 1
    yield from counts.items()


# -- has the destination changed since the restore? ------------------------------------------------


def check_destination(
    ctx: RestoreContext, steps: list[RollbackItem], should_stop: Callable[[], bool]
) -> None:
    """Before the first write: record what changed since the restore, and refuse a rollback that
    would undo it unless the user confirmed."""
    session = ctx.session
    changed = changed_since_restore(ctx, steps, should_stop)
    record_changed(session, "changed_since_restore", changed)
    if changed and not ctx.dry_run and not session.options.confirm_changed:
        raise RestoreError(refusal(session, changed))


def refusal(session: RestoreSession, changed: list[str]) -> str:
    shown = "; ".join(changed[:10]) + (
        f"; and {len(changed) - 10} more" if len(changed) > 10 else ""
    )
    return (
        f"refused: {plural(len(changed), 'object')} changed in {session.destination.name} since session "
        f"{session.rollback_of_id} restored them, and rolling back would throw those changes away "
        f"({shown}). To roll back anyway: `manage.py restore rollback {session.rollback_of_id} "
        "--confirm-changed`, or tick 'Roll back even the objects changed since the restore' "
        "on the page"
    )


def changed_since_restore(
    ctx: RestoreContext, steps: list[RollbackItem], should_stop: Callable[[], bool]
) -> list[str]:
    """'dashboard 12 'Sales': title changed since the restore', one per changed object."""
    changed = []
    for start in range(0, len(steps), 500):
        chunk = steps[start : start + 500]
        rows = RestoreItemResult.objects.filter(pk__in=[s.row_id for s in chunk])
        recorded = dict(rows.values_list("pk", "diff"))
        for step in chunk:
            if should_stop():
                return changed
            if what := _changed(ctx, step, recorded.get(step.row_id)):
                label = step.content_type.slug.replace("_", " ")
                changed.append(f"{label} {step.destination_id} '{step.name}': {what}")
    return changed


def _changed(ctx: RestoreContext, step: RollbackItem, diff: dict[str, Any] | None) -> str:
    written = written_fields(step, diff)
    if step.op == DELETE and not written:
        return ""
    current = ctx.client.get_or_none(RESTORERS[step.content_type].object_path(step.destination_id))
    if current is None:  # gone: nothing to delete, but a put-back would create it again
        return "" if step.op == DELETE else "deleted since the restore"
    # A value is lost by rolling back unless it is still what the restore wrote, or already what
    # the rollback puts back (a rollback that ran before).
    fields = fields_moved(written, current)
    return f"{', '.join(fields)} changed since the restore" if fields else ""


def written_fields(step: RollbackItem, diff: dict[str, Any] | None) -> dict[str, tuple[Any, ...]]:
    """The object's own fields as the restore left them (its POST body, then its PATCHes), each
    with the value it had before when the restore changed it."""
    r = RESTORERS[step.content_type]
    own = r.object_path(step.destination_id)
    fields: dict[str, tuple[Any, ...]] = {}
    changes = recorded.changes if (recorded := documents.read_diff(diff)) else []
    for change in changes:
        if change.method == "POST" and change.path == r.path and isinstance(change.body, dict):
            fields.update({k: (v,) for k, v in change.body.items()})
        elif change.method == "PATCH" and change.path == own and change.fields:
            fields.update({k: (after, before) for k, (before, after) in change.fields.items()})
    return fields
