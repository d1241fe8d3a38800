"""django-q2 entry points. They take IDs only (payloads are pickled) and run in qcluster workers.

Sessions (restore, dry run, rollback, dead-letter retry) and backup verification (minutes on a
multi-GB file, so never inside the upload request) run here. A session runs in one task with the
parallel runner, or, with LOOKERVAULT_DISTRIBUTED=1 (or `distributed=True`), as a coordinator task
that fans each level out into chunk tasks any worker on any machine picks up (Redis broker +
PostgreSQL in production).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django_q.tasks import async_task

from restore.models import Backup, DeadLetterItem, RestoreSession

log = logging.getLogger(__name__)


def distributed_default() -> bool:
    return settings.LOOKERVAULT_DISTRIBUTED


def enqueue_session(
    session_id: int, *, distributed: bool | None = None, chunk_size: int = 0
) -> str:
    """Queue a session to run (or resume: completed items are skipped) on the cluster."""
    if distributed if distributed is not None else distributed_default():
        return async_task(
            "restore.tasks.run_distributed_session_task",
            session_id,
            chunk_size or None,
            group=f"session-{session_id}",
            task_name=f"session-{session_id}-coordinator",
        )
    return async_task(
        "restore.tasks.run_session_task",
        session_id,
        group=f"session-{session_id}",
        task_name=f"session-{session_id}",
    )


def run_session_task(session_id: int) -> dict[str, Any]:
    """Run or resume a session here; a session another live worker holds is left alone."""
    from restore.engine import SessionBusy, run_session

    try:
        return run_session(session_id)
    except SessionBusy as exc:
        log.info("not running session %s: %s", session_id, exc)
        return {"session_id": session_id, "skipped": str(exc)}


def run_distributed_session_task(session_id: int, chunk_size: int | None = None) -> dict[str, Any]:
    from restore.engine import SessionBusy, run_session

    try:
        return run_session(session_id, distributed=True, chunk_size=chunk_size)
    except SessionBusy as exc:
        log.info("not running session %s: %s", session_id, exc)
        return {"session_id": session_id, "skipped": str(exc)}


def run_chunk_task(
    session_id: int, content_type: int, source_ids: list[str] | None, owner: str
) -> int:
    """One chunk of one level of a distributed session."""
    from restore.engine import run_chunk

    return run_chunk(session_id, content_type, source_ids, owner)


def enqueue_dlq_retry(
    item_ids: list[int], user: Any = None, alongside: list[int] | None = None
) -> list[RestoreSession]:
    """Claim dead-letter items into retry sessions (one per session they failed in) and queue
    them: a retry runs like any session, with its lease, heartbeat, cancel and resume. Refused
    (`DestinationBusy`) while another session writes into the destination, unless the user
    confirmed running alongside it (`alongside`)."""
    from restore.engine import start_retries

    retries = start_retries(item_ids, user, alongside=alongside or [])
    for retry in retries:
        enqueue_session(retry.pk, distributed=False)
    return retries


def run_dlq_retry_task(item_ids: list[int], user_id: int | None) -> dict[str, Any]:
    """A retry queued before retries were sessions (items marked retrying, with no retry session):
    claimed into retry sessions and run here, so an upgrade strands none of them."""
    from django.contrib.auth import get_user_model

    from restore.engine import retry_report, run_session, start_retries

    DeadLetterItem.objects.filter(
        pk__in=item_ids, status=DeadLetterItem.Status.RETRYING, retry_session__isnull=True
    ).update(status=DeadLetterItem.Status.OPEN)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    retries = start_retries(item_ids, user, alongside=None)  # asked for before the check existed
    for retry in retries:
        run_session(retry.pk)
    return retry_report(retries)


def verify_backup(backup_id: int) -> bool:
    """Check a registered backup (integrity, schema, every blob) and record the result; a
    verified one gets its lineage fingerprint here, not on the first page that groups it."""
    from restore.engine import backup_fingerprint

    backup = Backup.objects.filter(pk=backup_id).first()
    if backup is None or not backup.verify():
        return False
    backup_fingerprint(backup)
    return True


def enqueue_backup_verification(backup_id: int) -> None:
    Backup.objects.filter(pk=backup_id).update(status=Backup.Status.PENDING, verification_error="")
    async_task("restore.tasks.verify_backup", backup_id, task_name=f"verify-backup-{backup_id}")
