"""One search box for everything a person looks for by name: items of the latest verified backups,
the sessions that did something to such an item, and dead letters. Read-only; a few rows each."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from restore import roles
from restore.access import require_perm
from restore.engine import BackupError, Selection, open_backup
from restore.forms import sessions_with_item
from restore.models import Backup, DeadLetterItem, RestoreSession
from restore.views.backups import item_row
from restore.views.sessions import describe_sessions

BACKUPS_SEARCHED = 3  # the latest verified ones: a search never opens every file ever uploaded
ROWS = 20


def backup_hits(q: str) -> list[dict]:
    """[{backup, items}] of the latest verified backups holding items whose name contains `q`."""
    hits = []
    backups = Backup.objects.filter(status=Backup.Status.VERIFIED).order_by("-id")
    for backup in backups[:BACKUPS_SEARCHED]:
        try:
            with open_backup(backup.path) as reader:
                rows = reader.page(Selection(search=q, include_deleted=True), 0, ROWS)
        except (BackupError, OSError, ValueError):
            continue
        if rows:
            hits.append({"backup": backup, "items": [item_row(r) for r in rows]})
    return hits


@require_GET
@require_perm(roles.VIEW)
def search(request):
    q = (request.GET.get("q") or "").strip()[:200]
    context: dict = {"q": q}
    if q:
        sessions = list(
            RestoreSession.objects.filter(pk__in=sessions_with_item(q))
            .select_related("destination", "backup", "started_by")
            .defer("progress")
            .order_by("-created_at")[:ROWS]
        )
        describe_sessions(sessions)
        context.update(
            backups=backup_hits(q),
            sessions=sessions,
            dead=DeadLetterItem.objects.filter(name__icontains=q).order_by("-failed_at")[:ROWS],
        )
    return render(request, "restore/search.html", context)
