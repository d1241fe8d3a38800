"""Tasks used to prove the task queue and database keep every write under concurrent load."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from restore.models import RestoreItemResult, RestoreSession


def hammer_write(session_id: int, n: int) -> int:
    """Do what a restore worker does after each item: read, record the result, bump a counter.

    The read before the writes matters: in a deferred SQLite transaction the upgrade from read
    to write lock cannot wait for a busy database, which is what loses writes by default.
    """
    with transaction.atomic():
        RestoreSession.objects.filter(pk=session_id).values_list("created", flat=True).first()
        RestoreItemResult.objects.create(
            session_id=session_id, content_type=1, source_id=f"hammer-{n}", action="created"
        )
        RestoreSession.objects.filter(pk=session_id).update(created=F("created") + 1)
    return n
