"""History/audit (read-only) and the source→destination ID map browser."""

from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import Length
from django.views.decorators.http import require_GET

from restore import roles
from restore.access import require_perm
from restore.forms import HistoryFilterForm, MappingFilterForm
from restore.models import (
    AuditEvent,
    DeadLetterItem,
    Destination,
    IDMapping,
    RestoreItemResult,
    RestoreSession,
)
from restore.views.helpers import int_or_none, paginate, render_page
from restore.views.sessions import describe_sessions


@require_GET
@require_perm(roles.VIEW)
def history(request):
    form = HistoryFilterForm(request.GET or None)
    sessions = RestoreSession.objects.select_related("destination", "backup", "started_by")
    if request.GET:
        sessions = form.filter(sessions)
    sessions = sessions.defer("progress").order_by("-created_at", "-id")
    page = paginate(request, sessions)
    describe_sessions(page.items)
    context = {"form": form, "page": page, "events": audit_events()}
    return render_page(
        request, "restore/history.html", "restore/partials/history_table.html", context
    )


def audit_events(limit: int = 30) -> list[AuditEvent]:
    """The latest DLQ actions; a dismissal can be undone while some of its items stay dismissed."""
    events = list(AuditEvent.objects.select_related("user")[:limit])
    for e in events:
        e.undoable = e.action == AuditEvent.Action.DISMISS and (
            DeadLetterItem.objects.filter(dismissal=e, status="dismissed").exists()
        )
    return events


def instance_pairs() -> list[dict]:
    """The (source instance, destination) pairs that have mappings (served by the start of
    uniq_idmapping_source)."""
    pairs = IDMapping.objects.values("source_instance", "destination_instance").distinct()[:100]
    names = dict(Destination.objects.values_list("pk", "name"))
    return [
        {
            "source": p["source_instance"],
            "destination_id": p["destination_instance"],
            "destination": names.get(p["destination_instance"], "?"),
        }
        for p in pairs
    ]


def named(page):
    """Each mapping's name, from the result of the session that recorded it (one query)."""
    keys = {(m.session_id, m.content_type, m.source_id) for m in page.items if m.session_id}
    names = {}
    if keys:
        rows = RestoreItemResult.objects.filter(
            session_id__in={k[0] for k in keys}, source_id__in={k[2] for k in keys}
        ).values_list("session_id", "content_type", "source_id", "name")
        names = {(s, ct, sid): name for s, ct, sid, name in rows}
    for m in page.items:
        m.name = names.get((m.session_id, m.content_type, m.source_id), "")
    return page


@require_GET
@require_perm(roles.VIEW)
def mappings(request):
    pairs = instance_pairs()
    source = request.GET.get("source")
    destination_id = int_or_none(request.GET.get("destination"))
    if source is None and pairs:
        source, destination_id = pairs[0]["source"], pairs[0]["destination_id"]
    form = MappingFilterForm(request.GET or None)
    rows = IDMapping.objects.filter(
        source_instance=source or "", destination_instance_id=destination_id
    )
    if form.is_valid():
        d = form.cleaned_data
        if d.get("content_type") is not None:
            rows = rows.filter(content_type=d["content_type"])
        if d.get("q"):
            q = d["q"].split("::")[-1]
            rows = rows.filter(Q(source_id=q) | Q(destination_id=q))
    context = {
        "pairs": pairs,
        "source": source,
        "destination_id": destination_id,
        "form": form,
        "page": named(
            paginate(request, rows.order_by("content_type", Length("source_id"), "source_id"))
        ),
    }
    return render_page(
        request, "restore/mappings.html", "restore/partials/mappings_table.html", context
    )
