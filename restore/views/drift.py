"""Drift since a backup: start a check, see what changed in the destination, plan restoring some."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from restore import roles
from restore.access import require_perm
from restore.engine import ContentType, RestoreConfig, RestoreError, drift_findings
from restore.engine import start_drift as new_drift
from restore.models import Backup, Destination, RestoreSession
from restore.tasks import enqueue_session
from restore.views.plan_lines import NamesOf, change_lines, drift_sides

SHOWN = ("changed", "deleted", "created")
WORDS = {
    "changed": "changed since",
    "deleted": "deleted since",
    "created": "created since (informational, never touched)",
}


@require_POST
@require_perm(roles.RUN)
def drift_start(request, backup_id: int):
    """Start a drift check of this backup against a destination (reads only) and show it."""
    backup = get_object_or_404(Backup, pk=backup_id)
    destination = get_object_or_404(Destination, pk=request.POST.get("destination") or 0)
    try:
        session = new_drift(backup, destination, user=request.user)
    except RestoreError as exc:
        messages.error(request, str(exc))
        return redirect("backup_detail", backup_id=backup.pk)
    enqueue_session(session.pk)
    return redirect("drift_detail", session_id=session.pk)


def finding_rows(
    found: dict[str, list[Any]],
    wanted_type: str,
    wanted: str,
    sides: tuple[NamesOf, NamesOf] = ({}, {}),
) -> list[dict]:
    """Rows for the page, each finding's changes in the plan's words; `sides`: the names of
    what the values refer to in the backup and in the destination (`drift_sides`)."""
    return [
        {
            "change": kind,
            "type": f.content_type.slug,
            "id": f.id,
            "title": f.title,
            "message": f.message,
            "lines": change_lines(f.changes, f.content_type, sides[1], before=sides[0]),
            "restorable": kind != "created",
        }
        for kind in SHOWN
        if wanted in ("", kind)
        for f in found[kind]
        if wanted_type in ("", f.content_type.slug)
    ]


@require_GET
@require_perm(roles.VIEW)
def drift_detail(request, session_id: int):
    session = get_object_or_404(
        RestoreSession.objects.select_related("backup", "destination"), pk=session_id
    )
    if session.kind != RestoreSession.Kind.DRIFT:
        raise Http404("Not a drift check.")
    found = drift_findings(session)
    wanted_type = request.GET.get("type") or ""
    wanted = request.GET.get("change") or ""
    types = sorted({f.content_type.slug for kind in SHOWN for f in found[kind]})
    context = {
        "session": session,
        "rows": finding_rows(found, wanted_type, wanted, drift_sides(session, found)),
        "totals": [(kind, WORDS[kind], len(found[kind])) for kind in SHOWN],
        "unchanged": len(found["unchanged"]),
        "types": types,
        "wanted_type": wanted_type,
        "wanted": wanted,
        "changes": SHOWN,
    }
    return render(request, "restore/drift.html", context)


def picked(request) -> list[tuple[ContentType, str]]:
    out = []
    for value in request.POST.getlist("pick"):
        slug, _, item_id = value.partition(":")
        try:
            out.append((ContentType.parse(slug), item_id))
        except ValueError:
            continue
    return [(ct, i) for ct, i in out if i]


@require_POST
@require_perm(roles.RUN)
def drift_plan(request, session_id: int):
    """A plan (dry run) of exactly the ticked items from the drift check's backup: composite IDs
    ("dashboard::12") select one type's item each."""
    session = get_object_or_404(RestoreSession, pk=session_id, kind=RestoreSession.Kind.DRIFT)
    items = picked(request)
    if not items:
        messages.error(request, "Tick the items to plan restoring first.")
        return redirect("drift_detail", session_id=session.pk)
    selection = {
        "content_types": sorted({int(ct) for ct, _ in items}),
        "ids": [f"{ct.slug}::{item_id}" for ct, item_id in items],
    }
    config = RestoreConfig(dry_run=True, selection=selection)
    plan = RestoreSession.objects.create(
        kind=RestoreSession.Kind.RESTORE,
        started_by=request.user,
        backup=session.backup,
        destination=session.destination,
        source_instance=session.backup.source_instance,
        config=config.model_dump(mode="json"),
        dry_run=True,
    )
    enqueue_session(plan.pk)
    messages.success(request, f"Planning {len(items)} items in the background: nothing is written.")
    return redirect("session_detail", session_id=plan.pk)
