"""Run dead-letter items again through the same per-item path as a session (retries, rate
limiter, ID map): a success marks the item resolved (a dry run's item is planned again and
dismissed) and refreshes the session's counters; a failure keeps it open with the new attempts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from restore.engine.backup_reader import BackupError, open_backup
from restore.engine.runner import ItemRunner, refresh_counters
from restore.models import DeadLetterItem, RestoreSession


def retry_items(items: list[DeadLetterItem], user: Any = None) -> dict[str, Any]:
    """Retry DLQ items (per session, types in restore order). Returns counts and per-item results."""
    claimed = _claim(items)
    report: dict[str, Any] = {"retried": 0, "resolved": 0, "failed": 0, "items": []}
    by_session: dict[int, list[DeadLetterItem]] = {}
    for dead in claimed:
        by_session.setdefault(dead.session_id, []).append(dead)
    for session_id, dead_items in by_session.items():
        session = RestoreSession.objects.select_related("backup", "destination").get(pk=session_id)
        with _maybe_backup(session) as reader:
            runner = ItemRunner.for_session(session, reader)
            for dead in sorted(dead_items, key=lambda d: runner.rank(d.content_type)):
                ok, detail = runner.retry_dead_letter(dead, user)
                report["retried"] += 1
                report["resolved" if ok else "failed"] += 1
                report["items"].append({"id": dead.pk, "resolved": ok, "detail": detail})
        refresh_counters(session)
    return report


def _claim(items: list[DeadLetterItem]) -> list[DeadLetterItem]:
    """Conditional UPDATE per open item, so two retries of one item never run at once; items the
    caller already marked `retrying` (the web page does, before queueing) are taken as claimed."""
    claimed = []
    for dead in items:
        if dead.status == DeadLetterItem.Status.RETRYING or dead.retry():
            claimed.append(dead)
    return claimed


class _maybe_backup:
    """The session's backup when its file is still there (for --with-dependencies), else None."""

    def __init__(self, session: RestoreSession) -> None:
        self.session = session
        self.reader = None

    def __enter__(self):
        backup = self.session.backup
        if backup is not None and Path(backup.path).is_file():
            try:
                self.reader = open_backup(backup.path)
            except BackupError:
                self.reader = None
        return self.reader

    def __exit__(self, *exc: Any) -> None:
        if self.reader is not None:
            self.reader.close()
