"""Destinations: the Looker instances restores write into. The client secret is write-only."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from restore import roles
from restore.access import require_perm
from restore.engine import check_destination
from restore.forms import DestinationForm
from restore.models import Destination, RestoreSession
from restore.secrets import SecretDecryptionError


def attach_health(destinations) -> list[Destination]:
    """Each destination's health from the newest evidence: its last connection test, or a later
    session in which items succeeded there (that is a passed test)."""
    destinations = list(destinations)
    for d in destinations:
        last = (
            RestoreSession.objects.filter(destination=d)
            .exclude(finished_at=None)
            .annotate(worked=F("created") + F("updated") + F("unchanged"))
            .filter(worked__gt=0)
            .order_by("-finished_at")
            .only("pk", "finished_at", "dry_run", "kind")
            .first()
        )
        d.health = health(d, last)
    return destinations


def health(d: Destination, last: RestoreSession | None) -> dict:
    tested = d.last_checked_at
    if last is not None and (tested is None or last.finished_at > tested):
        return {
            "state": "ok",
            "label": "ok",
            "when": last.finished_at,
            "why": f"Session {last.pk} worked with it",
        }
    if tested is None:
        return {"state": "", "label": "untested", "when": None, "why": "Never tested, never used"}
    state = "ok" if d.last_check_ok else "bad"
    label = "ok" if d.last_check_ok else "failing"
    return {"state": state, "label": label, "when": tested, "why": d.last_check_message}


@require_GET
@require_perm(roles.VIEW)
def destination_list(request):
    return render(
        request,
        "restore/destination_list.html",
        {"destinations": attach_health(Destination.objects.all())},
    )


@require_http_methods(["GET", "POST"])
@require_perm(roles.MANAGE_DESTINATIONS)
def destination_add(request):
    form = DestinationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        destination = form.save()
        messages.success(request, f"Added destination {destination.name}.")
        return redirect("destination_list")
    return render(request, "restore/destination_form.html", {"form": form, "destination": None})


@require_http_methods(["GET", "POST"])
@require_perm(roles.MANAGE_DESTINATIONS)
def destination_edit(request, destination_id: int):
    destination = get_object_or_404(Destination, pk=destination_id)
    form = DestinationForm(request.POST or None, instance=destination)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved destination {destination.name}.")
        return redirect("destination_list")
    return render(
        request, "restore/destination_form.html", {"form": form, "destination": destination}
    )


@require_POST
@require_perm(roles.MANAGE_DESTINATIONS)
def destination_test(request, destination_id: int):
    """Log in and read the Looker version; show the version or the exact error, in place."""
    destination = get_object_or_404(Destination, pk=destination_id)
    try:
        check_destination(destination)
    except SecretDecryptionError:
        destination.last_check_ok = False
        destination.last_check_message = (
            "The stored client secret cannot be decrypted with this server's key; enter it again."
        )
    if request.htmx:
        destination.health = health(destination, None)
        return render(request, "restore/partials/destination_health.html", {"d": destination})
    level = messages.SUCCESS if destination.last_check_ok else messages.ERROR
    messages.add_message(request, level, f"{destination.name}: {destination.last_check_message}")
    return redirect("destination_list")
