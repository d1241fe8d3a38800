"""Background work started by the web pages that is not a restore: django-q2 entry points (IDs only).

Restore sessions and DLQ retries go through `restore.tasks`; verifying an uploaded backup can take
minutes on a multi-GB file, so it never runs inside the upload request either.
"""

from __future__ import annotations

from django_q.tasks import async_task

from restore.models import Backup


def verify_backup(backup_id: int) -> bool:
    """Check a registered backup (integrity, schema, every blob) and record the result."""
    backup = Backup.objects.filter(pk=backup_id).first()
    return backup.verify() if backup is not None else False


def enqueue_backup_verification(backup_id: int) -> None:
    Backup.objects.filter(pk=backup_id).update(status=Backup.Status.PENDING, verification_error="")
    async_task("restore.web_tasks.verify_backup", backup_id, task_name=f"verify-backup-{backup_id}")


def roll_back_session(session_id: int, user_id: int | None) -> dict:
    """Undo a finished restore (engine `rollback_session`), recording who asked for it."""
    from restore.engine.rollback import rollback_session
    from restore.models import RestoreSession

    original = RestoreSession.objects.get(pk=session_id)
    try:
        return rollback_session(original)
    finally:
        RestoreSession.objects.filter(rollback_of=original, started_by=None).update(
            started_by_id=user_id
        )


def enqueue_rollback(session_id: int, user_id: int | None) -> None:
    async_task(
        "restore.web_tasks.roll_back_session",
        session_id,
        user_id,
        task_name=f"rollback-session-{session_id}",
    )
