"""The dashboard: what is running, what happened lately, what needs attention."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from restore import roles
from restore.access import require_perm
from restore.models import DeadLetterItem, Destination, RestoreSession
from restore.views.destinations import attach_health
from restore.views.progress import progress_view
from restore.views.sessions import describe_sessions


def running_sessions() -> list:
    active = RestoreSession.objects.filter(status__in=RestoreSession.ACTIVE_STATUSES)
    return [progress_view(s) for s in active.select_related("destination")[:20]]


@require_GET
@require_perm(roles.VIEW)
def home(request):
    recent = list(RestoreSession.objects.select_related("destination", "started_by", "backup")[:10])
    describe_sessions(recent)
    context = {
        "running": running_sessions(),
        "recent": recent,
        "dlq_open": DeadLetterItem.objects.filter(status=DeadLetterItem.Status.OPEN).count(),
        "destinations": attach_health(Destination.objects.all()),
    }
    return render(request, "restore/home.html", context)


@require_GET
@require_perm(roles.VIEW)
def home_running(request) -> HttpResponse:
    """The running-sessions panel, polled by the home page every few seconds."""
    return render(request, "restore/partials/home_running.html", {"running": running_sessions()})
