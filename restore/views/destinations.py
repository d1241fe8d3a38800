"""Destinations: the Looker instances restores write into. The client secret is write-only."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from restore import roles
from restore.access import require_perm
from restore.forms import DestinationForm
from restore.models import Destination
from restore.secrets import SecretDecryptionError


@require_GET
@require_perm(roles.VIEW)
def destination_list(request):
    return render(
        request, "restore/destination_list.html", {"destinations": Destination.objects.all()}
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
        destination.check_connection()
    except SecretDecryptionError:
        destination.last_check_ok = False
        destination.last_check_message = (
            "The stored client secret cannot be decrypted with this server's key; enter it again."
        )
    if request.htmx:
        return render(request, "restore/partials/destination_health.html", {"d": destination})
    level = messages.SUCCESS if destination.last_check_ok else messages.ERROR
    messages.add_message(request, level, f"{destination.name}: {destination.last_check_message}")
    return redirect("destination_list")
