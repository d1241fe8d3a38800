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
