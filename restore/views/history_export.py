"""The history as a file a team lead can keep or sort: CSV and JSON of the sessions the current
filter shows, one row each with who, kind, what, when, duration, outcome and counts."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.views.decorators.http import require_GET

from restore import roles
from restore.access import require_perm
from restore.forms import HistoryFilterForm
from restore.models import RestoreSession
from restore.templatetags.restore_tags import kind_words, status_words
from restore.views.helpers import csv_cell
from restore.views.sessions import describe_sessions

COLUMNS = (
    "session_id", "kind", "who", "what", "destination", "backup", "started_at", "finished_at",
    "duration_s", "outcome", "total", "created", "updated", "unchanged", "skipped", "failed",
    "fixed_since_by_retry", "rolled_back_by",
)  # fmt: skip
CHUNK = 500


def filtered_sessions(request) -> Any:
    form = HistoryFilterForm(request.GET or None)
    sessions = RestoreSession.objects.select_related("destination", "backup", "started_by")
    if request.GET:
        sessions = form.filter(sessions)
    return sessions.defer("progress").order_by("-created_at", "-id")


def records(sessions: Any) -> Iterator[dict[str, Any]]:
    """One record per session, a chunk at a time (a history can hold thousands)."""
    chunk: list[RestoreSession] = []
    for session in sessions.iterator(chunk_size=CHUNK):
        chunk.append(session)
        if len(chunk) == CHUNK:
            yield from _described(chunk)
            chunk = []
    yield from _described(chunk)


def _described(chunk: list[RestoreSession]) -> Iterable[dict[str, Any]]:
    describe_sessions(chunk)
    return [record(s) for s in chunk]


def record(s: RestoreSession) -> dict[str, Any]:
    duration = (
        round((s.finished_at - s.started_at).total_seconds(), 1)
        if s.started_at and s.finished_at
        else None
    )
    return {
        "session_id": s.pk,
        "kind": kind_words(s).lower(),
        "who": s.started_by.get_username() if s.started_by_id else "",
        "what": s.description,
        "destination": s.destination.name,
        "backup": s.backup.name if s.backup_id else "",
        "started_at": s.created_at.isoformat(),
        "finished_at": s.finished_at.isoformat() if s.finished_at else None,
        "duration_s": duration,
        "outcome": status_words(s),
        "total": s.total,
        **{k: getattr(s, k) for k in ("created", "updated", "unchanged", "skipped", "failed")},
        "fixed_since_by_retry": s.since_retried,
        "rolled_back_by": s.rolled_back_by,
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@require_perm(roles.VIEW)
def history_csv(request):
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(COLUMNS)
        for r in records(filtered_sessions(request)):
            yield writer.writerow([csv_cell("" if r[k] is None else r[k]) for k in COLUMNS])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="history.csv"'
    return response


@require_GET
@require_perm(roles.VIEW)
def history_json(request):
    def chunks() -> Iterator[str]:
        yield "["
        for n, r in enumerate(records(filtered_sessions(request))):
            yield ("," if n else "") + "\n" + json.dumps(r)
        yield "\n]\n"

    response = StreamingHttpResponse(chunks(), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="history.json"'
    return response
