"""The dead-letter queue: items that finally failed, with everything needed to understand and retry.

`record_failure` stores the full context (blob, request, response, error class, stack trace, the
history of attempts). Running items again is `restore.engine.kinds.retry`'s (it needs the runner,
which needs this module).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from restore.engine.backup.reader import BackupItem
from restore.engine.core import documents
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import LookerApiError
from restore.models import DeadLetterItem, RestoreItemResult, RestoreSession


def error_class_of(exc: BaseException) -> str:
    """A short class for breakdowns: `LookerApiError 422`, `LookerApiError timeout`, `CorruptItemError`."""
    if isinstance(exc, LookerApiError):
        return f"LookerApiError {exc.status if exc.status is not None else exc.kind}"
    return type(exc).__name__


def record_failure(
    session: RestoreSession,
    content_type: ContentType | int,
    content_id: str,
    exc: BaseException,
    *,
    name: str = "",
    blob: bytes = b"",
    history: list[documents.Attempt] | None = None,
) -> DeadLetterItem:
    """Store (or refresh) the dead-letter record of one item of a session."""
    history = list(history or [])
    api = exc if isinstance(exc, LookerApiError) else None
    fields: dict[str, Any] = {
        "name": name[:500],
        "error_message": str(exc)[:10_000],
        "error_class": error_class_of(exc),
        "http_status": api.status if api else None,
        "response_body": (api.body or "")[:100_000] if api else "",
        "request_method": api.method if api else "",
        "request_path": (api.path or "")[:1000] if api else "",
        "request_payload": _jsonable(api.request_payload) if api else None,
        "stack_trace": "".join(traceback.format_exception(exc))[-20_000:],
        "status": DeadLetterItem.Status.OPEN,
        "failed_at": timezone.now(),
    }
    with transaction.atomic():
        item = (
            DeadLetterItem.objects.select_for_update()
            .filter(session=session, content_type=int(content_type), content_id=content_id)
            .first()
        )
        if item is None:
            item = DeadLetterItem(
                session=session, content_type=int(content_type), content_id=content_id
            )
            item.retry_count = max(0, len(history) - 1)
            attempts = history
        else:
            item.retry_count += len(history)
            attempts = [*documents.read_attempts(item.attempts), *history][-100:]
        item.attempts = [documents.store(a) for a in attempts]
        if blob:
            item.content_blob = blob
        for key, value in fields.items():
            setattr(item, key, value)
        item.save()
    return item


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list, str, int, float, bool)):
        return value
    return str(value)


class DlqSourceItem:
    """A DLQ record seen as a backup item, so `restore_item` takes it like any other."""

    def __init__(self, dead: DeadLetterItem) -> None:
        self._item = BackupItem(
            content_type=ContentType(dead.content_type),
            id=dead.content_id,
            raw_id=dead.content_id,
            name=dead.name,
            owner_id=None,
            owner_email=None,
            folder_id=None,
            created_at=None,
            updated_at=None,
            synced_at=None,
            deleted_at=None,
            size=len(dead.content_blob or b""),
            data=bytes(dead.content_blob or b""),
        )
        self.content_type = self._item.content_type
        self.id = self._item.id
        self.name = dead.name
        self.data = self._item.data

    @property
    def content(self) -> dict[str, Any]:
        return self._item.content

    @property
    def error(self) -> str | None:
        return self._item.error


def select_items(
    *, ids: Iterable[int] | None = None, session_id: int | None = None
) -> list[DeadLetterItem]:
    """Open DLQ items by ID, or all open items of a session."""
    qs = DeadLetterItem.objects.filter(status=DeadLetterItem.Status.OPEN)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    if session_id is not None:
        qs = qs.filter(session_id=session_id)
    return list(qs.order_by("id"))


def mark_resolved(dead: DeadLetterItem, user: Any, note: str) -> None:
    dead.resolve(user, note=note, status=DeadLetterItem.Status.RESOLVED)


def reopen(dead: DeadLetterItem, exc: BaseException, history: list[documents.Attempt]) -> None:
    """A failed retry: back to open, with the new error and attempts."""
    record_failure(
        dead.session,
        dead.content_type,
        dead.content_id,
        exc,
        name=dead.name,
        history=history,
    )


def result_is_final(session: RestoreSession, ct: int, sid: str) -> bool:
    return (
        RestoreItemResult.objects.filter(session=session, content_type=ct, source_id=sid)
        .exclude(action__in=["pending", "failed", "blocked"])
        .exists()
    )
