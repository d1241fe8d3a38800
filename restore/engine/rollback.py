"""Undo a finished restore: "return the destination to how it was before this session".

Objects the session created are deleted (last type first); objects it updated get their pre-image
back through the same restorers (same instance, IDs as they are), first type first. The rollback is
itself a session (kind=rollback) with its own results, and can be dry-run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from restore.engine.config import RestoreConfig
from restore.engine.content_types import RESTORE_ORDER, ContentType
from restore.engine.context import ItemOutcome, RestoreContext
from restore.engine.errors import LookerApiError, RestoreError
from restore.engine.idmap import IdMap
from restore.engine.looker_client import LookerClient
from restore.engine.restore_item import restore_item
from restore.engine.restorers import RESTORERS
from restore.engine.session import finish_session, record_outcome
from restore.models import RestoreItemResult, RestoreSession

RANK = {ct: n for n, ct in enumerate(RESTORE_ORDER)}


@dataclass
class PreImageItem:
    content_type: ContentType
    id: str
    content: dict[str, Any]


def rollback_session(
    original: RestoreSession, *, dry_run: bool = False, client: LookerClient | None = None
) -> dict[str, Any]:
    if original.dry_run:
        raise RestoreError(f"session {original.pk} was a dry run: it changed nothing to undo")
    config = RestoreConfig(dry_run=dry_run, workers=1)
    session = RestoreSession.objects.create(
        kind=RestoreSession.Kind.ROLLBACK,
        rollback_of=original,
        backup=original.backup,
        destination=original.destination,
        source_instance=original.destination.base_url,
        config=config.model_dump(mode="json"),
        dry_run=dry_run,
        status=RestoreSession.Status.RUNNING,
        started_at=timezone.now(),
    )
    client = client or LookerClient.for_destination(
        original.destination, in_flight=config.max_in_flight
    )
    client.login()
    ctx = RestoreContext(
        client=client,
        idmap=IdMap(original.destination, persist=False),
        config=config,
        same_instance=True,
        session=session,
        lenient=True,
    )
    results = list(original.results.filter(action__in=["created", "updated", "failed"]))
    session.total = len(results)
    session.save(update_fields=["total"])
    # last type first, and within a type the latest creation first (sub-folders before parents)
    created = sorted(
        _of(results, "created"), key=lambda r: (-RANK[ContentType(r.content_type)], -r.pk)
    )
    for row in created:
        _delete_created(ctx, session, row)
    for row in sorted(_of(results, "updated"), key=lambda r: RANK[ContentType(r.content_type)]):
        _put_back(ctx, session, row)
    return finish_session(session)


def _of(rows: list[RestoreItemResult], action: str) -> list[RestoreItemResult]:
    return [r for r in rows if _action(r) == action and r.destination_id]


def _action(row: RestoreItemResult) -> str:
    """What the session did to the object. An item created in the first pass whose second pass
    failed is recorded as failed; its POST in the recorded changes says it was created."""
    if row.action != "failed":
        return row.action
    path = RESTORERS[ContentType(row.content_type)].path
    changes = (row.diff or {}).get("changes") or []
    if any(c.get("method") == "POST" and c.get("path") == path for c in changes):
        return "created"
    return "updated" if row.pre_image else "failed"


def _delete_created(ctx: RestoreContext, session: RestoreSession, row: RestoreItemResult) -> None:
    ct = ContentType(row.content_type)
    outcome = ItemOutcome("updated", ct, row.source_id, row.name, row.destination_id)
    outcome.message = f"deleted: created by session {row.session_id}"
    try:
        ctx.begin_item()
        ctx.write("DELETE", RESTORERS[ct].object_path(row.destination_id))
        outcome.changes = [c.as_dict() for c in ctx.changes]
    except LookerApiError as exc:
        if exc.status != 404:
            return _failed(session, row, exc)
        outcome.action, outcome.message = "unchanged", "already gone"
    record_outcome(session, outcome)


def _put_back(ctx: RestoreContext, session: RestoreSession, row: RestoreItemResult) -> None:
    if not row.pre_image:
        return
    ct = ContentType(row.content_type)
    item = PreImageItem(ct, row.destination_id, row.pre_image)
    try:
        outcome = restore_item(ctx, item)
    except (LookerApiError, RestoreError) as exc:
        return _failed(session, row, exc)
    outcome.source_id, outcome.name = row.source_id, row.name
    record_outcome(session, outcome)


def _failed(session: RestoreSession, row: RestoreItemResult, exc: Exception) -> None:
    RestoreItemResult.objects.update_or_create(
        session=session,
        content_type=row.content_type,
        source_id=row.source_id,
        defaults={"action": "failed", "message": _detail(exc), "name": row.name},
    )


def _detail(exc: Exception) -> str:
    body = getattr(exc, "body", "")
    return f"{exc}\n{body[:2000]}" if body else str(exc)
