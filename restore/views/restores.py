"""New restore: build a selection, see how many items it holds, plan it, then confirm and run it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from restore import roles
from restore.access import require_perm
from restore.engine import (
    BackupError,
    ContentType,
    DestinationBusy,
    Selection,
    create_session,
    open_backup,
    writing_sessions,
)
from restore.forms import RestoreForm
from restore.models import Backup, RestoreSession
from restore.tasks import enqueue_session
from restore.views.backups import folder_choices, owner_choices
from restore.views.sessions import can_apply

CONFIRM_FIELDS = (
    "alongside",
    "csrfmiddlewaretoken",
    "action",
    "confirm",
    "confirm_count",
    "confirm_destination",
)


class SelectionUnreadable(Exception):
    """The selected items cannot be counted (the backup file is unreadable)."""


def count_selected(form: RestoreForm) -> int:
    """How many backup items the selection matches (before dependencies are added)."""
    return selected(form)[0]


NAMED_UP_TO = 5


def selected(form: RestoreForm) -> tuple[int, list[dict]]:
    """The count, and the items by name when there are a few ("dashboard 'Sales' #121")."""
    backup = form.cleaned_data["backup"]
    try:
        selection = Selection(**form.selection())
        with open_backup(backup.path) as reader:
            n = reader.count(selection)
            rows = reader.page(selection, 0, NAMED_UP_TO) if 0 < n <= NAMED_UP_TO else []
    except (BackupError, OSError, ValueError) as exc:
        raise SelectionUnreadable(f"The backup could not be read: {exc}") from exc
    return n, [
        {
            "type": ContentType(int(r.content_type)).slug.replace("_", " "),
            "name": r.name or "(untitled)",
            "id": getattr(r, "plain_id", None) or r.id,
        }
        for r in rows
    ]


def start_session(
    form: RestoreForm, user, dry_run: bool, alongside: list[str] | None = None
) -> RestoreSession:
    """Record the session with its validated options and hand it to the background workers
    (refused, `DestinationBusy`, while another writes into the destination, unless confirmed)."""
    config = form.config(dry_run=dry_run)
    backup = form.cleaned_data["backup"]
    session = create_session(
        alongside=[int(pk) for pk in alongside or () if pk.isdigit()],
        kind=RestoreSession.Kind.RESTORE,
        started_by=user,
        backup=backup,
        destination=form.cleaned_data["destination"],
        source_instance=backup.source_instance,
        config=config.model_dump(mode="json"),
        dry_run=dry_run,
        created_at=timezone.now(),
    )
    enqueue_session(session.pk)
    return session


SELECTION_FIELDS = [
    "backup",
    "destination",
    "types",
    "ids",
    "search",
    "owner",
    "folder",
    "include_subfolders",
    "updated_after",
    "updated_before",
    "include_deleted",
    "with_dependencies",
]
OPTION_FIELDS = [
    "instance",
    "source",
    "skip_if_modified",
    "verify",
    "fallback_owner_email",
]
# How the run goes rather than what it does: folded under "Advanced" unless one needs a look.
ADVANCED_FIELDS = [
    "workers",
    "fanout",
    "rate_limit_per_second",
    "rate_limit_per_minute",
    "max_retries",
    "checkpoint_interval",
]


def form_page(request, form: RestoreForm, status: int = 200):
    advanced = [form[name] for name in ADVANCED_FIELDS]
    context = {
        **pickers(chosen_backup(form)),
        "form": form,
        "selection_fields": [form[name] for name in SELECTION_FIELDS],
        "option_fields": [form[name] for name in OPTION_FIELDS],
        "advanced_fields": advanced,
        "advanced_open": any(field.errors or not at_default(field) for field in advanced),
    }
    return render(request, "restore/restore_new.html", context, status=status)


def pickers(backup: Backup | None) -> dict:
    """The owner and folder choices of a backup (none without one)."""
    return {
        "folders": folder_choices(backup) if backup else [],
        "owners": owner_choices(backup) if backup else [],
    }


@require_GET
@require_perm(roles.RUN)
def restore_pickers(request):
    """The owner and folder pickers again when the form's backup changes (htmx)."""
    backup = chosen_backup(RestoreForm(request.GET))
    return render(request, "restore/partials/backup_pickers.html", pickers(backup))


def chosen_backup(form: RestoreForm) -> Backup | None:
    """The backup the form names (sent or prefilled), for its folder and owner pickers."""
    value = form["backup"].value()
    if not value:
        return None
    return (
        Backup.objects.filter(pk=value, status=Backup.Status.VERIFIED).first()
        if str(value).isdigit()
        else None
    )


def at_default(bound: forms.BoundField) -> bool:
    """Does the field hold its default (what an untouched form sends)?"""
    field = bound.field
    try:
        value = field.to_python(bound.value())
    except forms.ValidationError:
        return False
    return value == field.to_python(field.initial)


def initial_from_get(request) -> dict:
    """Prefill from a link such as "Restore this dashboard" (?backup=1&types=dashboard&ids=101),
    or from items ticked in the backup browser (?pick=dashboard:101&pick=look:7)."""
    initial: dict = {}
    for key, value in request.GET.lists():
        if key != "pick":
            initial[key] = value if key == "types" else value[-1]
    picks = [p.split(":", 1) for p in request.GET.getlist("pick") if ":" in p]
    if picks:
        initial["types"] = sorted({t for t, _ in picks})
        initial["ids"] = ", ".join(dict.fromkeys(i for _, i in picks))
    return initial


@require_http_methods(["GET", "POST"])
@require_perm(roles.RUN)
def restore_new(request):
    if request.method == "GET":
        form = RestoreForm(initial=initial_from_get(request))
        return form_page(request, form)
    form = RestoreForm(request.POST)
    action = request.POST.get("action", "review")
    if not form.is_valid():
        return form_page(request, form, status=400)
    try:
        form.config(dry_run=False)
    except forms.ValidationError as exc:
        form.add_error(None, exc)
        return form_page(request, form, status=400)
    if action == "plan":
        return _plan(request, form)
    try:
        count = count_selected(form)
    except SelectionUnreadable as exc:
        form.add_error(None, str(exc))
        return form_page(request, form, status=400)
    if action == "start" and (started := _start(request, form, count)) is not None:
        return started
    if count == 0:
        form.add_error(None, "The selection matches no items in this backup.")
        return form_page(request, form, status=400)
    return _review(request, form, count)


def _plan(request, form: RestoreForm) -> HttpResponse:
    if refusal := form.cleaned_data["backup"].restore_refusal():
        form.add_error("backup", refusal)
        return form_page(request, form, status=400)
    session = start_session(form, request.user, dry_run=True)
    messages.success(request, "Planning in the background: nothing is written in Looker.")
    return redirect("session_detail", session_id=session.pk)


def _start(request, form: RestoreForm, count: int) -> HttpResponse | None:
    """The confirmed start: the session, or the backup's refusal. None when the confirmation is
    missing or no longer matches the destination and count (the review is shown again)."""
    destination = form.cleaned_data["destination"]
    confirmed = request.POST.get("confirm") == "yes"
    same = request.POST.get("confirm_destination") == destination.name and request.POST.get(
        "confirm_count"
    ) == str(count)
    refusal = form.cleaned_data["backup"].restore_refusal() if confirmed and same else ""
    if refusal:  # hashed once at the start, not on every live count
        form.add_error("backup", refusal)
        return form_page(request, form, status=400)
    if confirmed and same:
        try:
            alongside = request.POST.getlist("alongside")
            session = start_session(form, request.user, False, alongside)
        except DestinationBusy as exc:
            messages.error(request, f"Nothing was started: {exc}.")
            return None
        messages.success(request, f"Restore started into {destination.name}.")
        return redirect("session_detail", session_id=session.pk)
    if confirmed:
        messages.error(request, "The selection changed since you reviewed it; check again.")
    return None


def _review(request, form: RestoreForm, count: int) -> HttpResponse:
    """The confirmation page: what would be restored, where, and the latest plan of it."""
    hidden = [
        (key, value)
        for key, values in request.POST.lists()
        if key not in CONFIRM_FIELDS
        for value in values
    ]
    plan = plan_of_selection(form)
    context = {
        "form": form,
        "count": count,
        "destination": form.cleaned_data["destination"],
        "hidden": hidden,
        "plan": plan,
        "plan_applicable": plan is not None and can_apply(plan),
        "busy": list(writing_sessions(form.cleaned_data["destination"])),
    }
    return render(request, "restore/restore_confirm.html", context)


def plan_of_selection(form: RestoreForm) -> RestoreSession | None:
    """The latest finished plan of exactly this selection into this destination, if any."""
    d = form.cleaned_data
    config = form.config(dry_run=True)
    plans = RestoreSession.objects.filter(
        kind=RestoreSession.Kind.RESTORE,
        dry_run=True,
        backup=d["backup"],
        destination=d["destination"],
        status__in=RestoreSession.FINISHED_STATUSES,
    ).order_by("-created_at")[:20]
    for plan in plans:
        options = plan.config or {}
        if options.get("selection") == config.selection and bool(
            options.get("with_dependencies")
        ) == bool(config.with_dependencies):
            return plan
    return None


@require_GET
@require_perm(roles.RUN)
def restore_count(request):
    """Live count of the items the form currently selects (htmx, on every change)."""
    form = RestoreForm(request.GET)
    context: dict = {"count": None, "error": ""}
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        context["error"] = errors[0] if errors else "Check the form."
    else:
        try:
            context["count"], context["items"] = selected(form)
        except SelectionUnreadable as exc:
            context["error"] = str(exc)
        context["with_dependencies"] = form.cleaned_data.get("with_dependencies")
    return render(request, "restore/partials/restore_count.html", context)
