"""Dead-letter queue: find failed items, understand why, retry them in one click, or dismiss them."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count, Min, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from restore import roles
from restore.access import require_perm
from restore.engine import DestinationBusy, RestoreError, read_attempts, writing_sessions
from restore.forms import DLQFilterForm, ResolveForm
from restore.models import AuditEvent, DeadLetterItem, RestoreSession
from restore.tasks import enqueue_dlq_retry
from restore.views.error_words import trace_without_paths
from restore.views.helpers import (
    decode_blob,
    int_or_none,
    paginate,
    pretty_json,
    render_page,
    safe_next,
)

# A dead item can always be retried, dismissed or not (as a dead job in Sidekiq).
RETRYABLE = (DeadLetterItem.Status.OPEN, DeadLetterItem.Status.DISMISSED)
DISMISSABLE = (DeadLetterItem.Status.OPEN,)
NOTE_NEEDED = "Write a note saying why these items need no restore: it is kept in the history."


def dlq_filter_form(data) -> DLQFilterForm:
    """Filters from GET (list) or POST (bulk actions); the default shows the open items."""
    values = {k: v for k, v in data.items() if k not in ("page", "csrfmiddlewaretoken")}
    if "status" not in values:
        values["status"] = DeadLetterItem.Status.OPEN
    return DLQFilterForm(values)


def filtered_items(request):
    """The items a bulk action's filter matches, or None (said why) when the filter does not
    validate: an action never reaches further than the filter the user saw."""
    form = dlq_filter_form(request.POST)
    if not form.is_valid():
        messages.error(request, f"The filter is not valid ({form.error_text()}): nothing was done.")
        return None
    return form.filter(DeadLetterItem.objects.all())


def within_shown(request, ids: list[int], shown_field: str) -> bool:
    """True when the action touches no more items than the page showed (the button's count,
    posted as `shown_field`); more items match now, or no count was posted: refused, said why."""
    shown = int_or_none(request.POST.get(shown_field))
    if shown is not None and len(ids) <= shown:
        return True
    was = f", not the {shown} shown" if shown is not None else ""
    messages.error(
        request,
        f"{len(ids)} item{'s' if len(ids) != 1 else ''} match now{was}: "
        "nothing was done. Look at the list again and choose.",
    )
    return False


def shown_counts(queryset) -> dict:
    """How many items "Retry all / Dismiss all matching the filter" would touch, shown on the
    buttons and posted back with them."""
    return queryset.aggregate(
        retry_shown=Count("id", filter=Q(status__in=RETRYABLE)),
        dismiss_shown=Count("id", filter=Q(status__in=DISMISSABLE)),
    )


def resolve_items(queryset, user, note: str) -> AuditEvent | None:
    """Dismiss open items (a person decided they need no restore, and wrote why): recorded in the
    history, and undoable from there or from the message that confirms it."""
    ids = list(queryset.filter(status__in=DISMISSABLE).values_list("pk", flat=True))
    if not ids:
        return None
    event = AuditEvent.record(user, AuditEvent.Action.DISMISS, ids, note, describe(ids))
    DeadLetterItem.objects.filter(pk__in=ids, status__in=DISMISSABLE).update(
        status=DeadLetterItem.Status.DISMISSED,
        resolved_at=timezone.now(),
        resolved_by=user,
        resolution_note=note,
        dismissal=event,
    )
    return event


def describe(ids: list[int]) -> str:
    """ "dashboard 'Sales' (session 12)" for one item, "7 items of session 12" for several."""
    items = DeadLetterItem.objects.filter(pk__in=ids[:2])
    if len(ids) == 1 and items:
        item = items[0]
        name = f" '{item.name}'" if item.name else f" {item.content_id}"
        return f"{item.content_type_enum.slug.replace('_', ' ')}{name} (session {item.session_id})"
    sessions = sorted(
        set(DeadLetterItem.objects.filter(pk__in=ids).values_list("session_id", flat=True))
    )
    where = ", ".join(str(s) for s in sessions[:5]) + ("…" if len(sessions) > 5 else "")
    return f"{len(ids)} items of session{'s' if len(sessions) != 1 else ''} {where}"


def dismissed_message(request, event: AuditEvent | None) -> None:
    if event is None:
        messages.error(request, "No open item matches: nothing was dismissed.")
        return
    messages.success(
        request,
        f"Dismissed {event.count} item{'s' if event.count != 1 else ''}.",
        extra_tags=f"undo-{event.pk}",
    )


def selected_ids(request) -> list[int]:
    return [i for i in (int_or_none(v) for v in request.POST.getlist("item")) if i]


def back_to_list(request):
    query = request.POST.get("return_query", "")
    return redirect(reverse("dlq_list") + (f"?{query}" if query else ""))


@require_GET
@require_perm(roles.VIEW)
def dlq_list(request):
    form = dlq_filter_form(request.GET)
    items = form.filter(DeadLetterItem.objects.select_related("retry_session")).defer(
        "content_blob", "response_body", "request_payload", "stack_trace", "attempts"
    )
    context = {
        "form": form,
        "page": paginate(request, items.order_by("-failed_at", "-id")),
        "return_query": request.GET.urlencode(),
        **shown_counts(items),
        "resolve_form": ResolveForm(),
        "live": RestoreSession.objects.filter(status__in=RestoreSession.ACTIVE_STATUSES).exists(),
        "busy": busy_sessions(),
        **pickers(),
    }
    return render_page(request, "restore/dlq_list.html", "restore/partials/dlq_table.html", context)


@require_GET
@require_perm(roles.VIEW)
def dlq_item(request, item_id: int):
    item = get_object_or_404(
        DeadLetterItem.objects.select_related("session", "resolved_by", "retry_session"),
        pk=item_id,
    )
    context = {
        "item": item,
        "trace": trace_without_paths(item.stack_trace),
        "content": pretty_json(decode_blob(bytes(item.content_blob or b""))),
        "payload": pretty_json(item.request_payload),
        "response": pretty_json(item.response_body),
        "attempts": read_attempts(item.attempts),
        "resolve_form": ResolveForm(),
        "dismissal": dismissal_of(item),
        "busy": list(writing_sessions(item.session.destination_id)),
    }
    return render(request, "restore/dlq_item.html", context)


def busy_sessions() -> list[RestoreSession]:
    """The sessions writing now, in any destination: the list and triage pages offer retrying
    beside each (a retry into a busy destination is refused unless its session is ticked)."""
    active = RestoreSession.objects.filter(dry_run=False, status__in=RestoreSession.ACTIVE_STATUSES)
    return list(active.select_related("destination").order_by("pk")[:20])


def pickers() -> dict:
    """Choices for the filters' search-as-you-type pickers: sessions and error classes that have
    dead letters."""
    sessions = (
        RestoreSession.objects.filter(dlq_items__isnull=False)
        .distinct()
        .select_related("destination")
        .order_by("-created_at")[:100]
    )
    classes = (
        DeadLetterItem.objects.order_by().values_list("error_class", flat=True).distinct()[:200]
    )
    return {"session_choices": sessions, "error_class_choices": sorted(classes)}


def dismissal_of(item: DeadLetterItem) -> AuditEvent | None:
    """The dismissal that closed this item (to undo it)."""
    if item.status != DeadLetterItem.Status.DISMISSED:
        return None
    return item.dismissal


@require_GET
@require_perm(roles.VIEW)
def dlq_row(request, item_id: int):
    """One row, polled while its retry runs; stops polling once the retry has an outcome."""
    item = get_object_or_404(DeadLetterItem.objects.select_related("retry_session"), pk=item_id)
    response = render(request, "restore/partials/dlq_row.html", {"item": item})
    if not item.is_being_retried:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_retry_one(request, item_id: int):
    item = get_object_or_404(DeadLetterItem, pk=item_id)
    retries = start_retry(request, [item.pk])
    item.refresh_from_db()
    if retries is BUSY:  # its page offers running it alongside, as the refusal says
        page = reverse("dlq_item", args=[item.pk])
        if request.htmx:
            return HttpResponseClientRedirect(page)
        return redirect(page)
    if request.htmx:
        return render(request, "restore/partials/dlq_row.html", {"item": item})
    if retries is None:
        pass  # refused, said why
    elif retries:
        messages.success(
            request,
            f"Retrying {item.content_type_enum.slug} {item.content_id} in retry {retries[0].pk}.",
            extra_tags=f"session-{retries[0].pk}",
        )
    else:
        messages.error(request, "This item is being retried or was resolved already.")
    return redirect(safe_next(request, reverse("dlq_item", args=[item.pk])))


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_bulk(request):
    """Retry or dismiss the ticked rows, or every open item matching the current filter."""
    action = request.POST.get("action", "")
    by_filter = action in ("retry_filter", "resolve_filter")
    if by_filter:
        queryset = filtered_items(request)
        if queryset is None:
            return back_to_list(request)
    else:
        queryset = DeadLetterItem.objects.filter(pk__in=selected_ids(request))
    if action in ("retry_selected", "retry_filter"):
        ids = list(queryset.filter(status__in=RETRYABLE).values_list("pk", flat=True))
        if not by_filter or within_shown(request, ids, "retry_shown"):
            retries = start_retry(request, ids)
            retried_message(request, retries)
            if retries and len(retries) == 1:  # follow the new run on its own page
                return redirect("session_detail", session_id=retries[0].pk)
    elif action in ("resolve_selected", "resolve_filter"):
        note = (request.POST.get("note") or "").strip()[:2000]
        if not note:
            messages.error(request, NOTE_NEEDED)
        elif not by_filter:
            dismissed_message(request, resolve_items(queryset, request.user, note))
        elif within_shown(request, ids := dismissable_ids(queryset), "dismiss_shown"):
            chosen = DeadLetterItem.objects.filter(pk__in=ids)
            dismissed_message(request, resolve_items(chosen, request.user, note))
    else:
        messages.error(request, "Choose what to do with the items.")
    return back_to_list(request)


def dismissable_ids(queryset) -> list[int]:
    return list(queryset.filter(status__in=DISMISSABLE).values_list("pk", flat=True))


def start_retry(request, ids: list[int]) -> list[RestoreSession] | None:
    """Queue the retries; None (said why) when they are refused (an item's restore was rolled
    back: the retry would write part of it back), `BUSY` when another session writes into the
    destination and the user did not confirm running alongside it (the ticked `alongside`)."""
    confirmed = [pk for pk in (int_or_none(v) for v in request.POST.getlist("alongside")) if pk]
    try:
        return enqueue_dlq_retry(ids, request.user, confirmed)
    except DestinationBusy as exc:
        messages.error(request, f"Nothing was retried: {exc}.")
        return BUSY
    except RestoreError as exc:
        messages.error(request, str(exc).capitalize())
        return None


BUSY: list[RestoreSession] = []  # a refusal start_retry names apart (`is`, not `==`)


def retried_message(request, retries: list[RestoreSession] | None) -> None:
    """ "Retrying 5 items in retry 10", a link to that run (each run's own notice when several);
    nothing when the retries were refused (`start_retry` said why)."""
    if retries is None or retries is BUSY:
        return
    if len(retries) > 1:
        for r in retries:
            n = len(r.options.dlq_item_ids)
            text = f"Retrying {n} item{'s' if n != 1 else ''} of session {r.retry_of_id} in retry {r.pk}."
            messages.success(request, text, extra_tags=f"session-{r.pk}")
        return
    n = sum(len(r.options.dlq_item_ids) for r in retries)
    if n:
        text = f"Retrying {n} item{'s' if n != 1 else ''} in retry {retries[0].pk}."
        messages.success(request, text, extra_tags=f"session-{retries[0].pk}")
    else:
        messages.error(request, "No open or dismissed item matches: nothing to retry.")


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_resolve_one(request, item_id: int):
    item = get_object_or_404(DeadLetterItem, pk=item_id)
    form = ResolveForm(request.POST)
    note = form.cleaned_data["note"].strip() if form.is_valid() else ""
    if not note:
        messages.error(request, NOTE_NEEDED)
    elif item.status != DeadLetterItem.Status.OPEN:
        messages.error(request, "This item is not open, so it cannot be dismissed.")
    else:
        dismissed_message(
            request, resolve_items(DeadLetterItem.objects.filter(pk=item.pk), request.user, note)
        )
    return redirect("dlq_item", item_id=item.pk)


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_undo(request, event_id: int):
    """Undo a dismissal: the items it still holds (dismissed by it, not dismissed again since by
    someone else, however many) are open again, recorded too."""
    event = get_object_or_404(AuditEvent, pk=event_id, action=AuditEvent.Action.DISMISS)
    still = DeadLetterItem.objects.filter(dismissal=event, status=DeadLetterItem.Status.DISMISSED)
    ids = list(still.values_list("pk", flat=True))
    DeadLetterItem.objects.filter(pk__in=ids, dismissal=event).update(
        status=DeadLetterItem.Status.OPEN,
        resolved_at=None,
        resolved_by=None,
        resolution_note="",
        dismissal=None,
    )
    if ids:
        AuditEvent.record(
            request.user,
            AuditEvent.Action.REOPEN,
            ids,
            summary=f"dismissal undone: {event.summary}",
        )
        messages.success(request, f"Open again: {len(ids)} item{'s' if len(ids) != 1 else ''}.")
    else:
        messages.error(request, "These items are no longer dismissed: nothing to undo.")
    return redirect(safe_next(request, reverse("dlq_list")))


def triage_groups(queryset) -> list[dict]:
    """Failures grouped by error class and HTTP status, biggest first, with a sample message."""
    groups = list(
        queryset.values("error_class", "http_status")
        .annotate(
            count=Count("id"),
            retryable=Count("id", filter=Q(status__in=RETRYABLE)),
            dismissable=Count("id", filter=Q(status__in=DISMISSABLE)),
            sample_id=Min("id"),
        )
        .order_by("-count")[:200]
    )
    samples = {
        row["pk"]: row
        for row in DeadLetterItem.objects.filter(pk__in=[g["sample_id"] for g in groups]).values(
            "pk", "error_message", "content_type", "request_method", "response_body"
        )
    }
    for group in groups:
        sample = samples.get(group["sample_id"], {})
        group["sample"] = sample.get("error_message", "")
        group["content_type"] = sample.get("content_type")
        group["method"] = sample.get("request_method", "")
        group["body"] = sample.get("response_body", "")
    return groups


@require_GET
@require_perm(roles.VIEW)
def dlq_triage(request):
    form = dlq_filter_form(request.GET)
    context = {
        "form": form,
        "groups": triage_groups(form.filter(DeadLetterItem.objects.all())),
        "return_query": request.GET.urlencode(),
        "busy": busy_sessions(),
    }
    return render(request, "restore/dlq_triage.html", context)


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_triage_action(request):
    """Retry or dismiss a whole group (error class + HTTP status) within the current filter."""
    query = request.POST.get("return_query", "")
    back = redirect(reverse("dlq_triage") + (f"?{query}" if query else ""))
    queryset = filtered_items(request)
    if queryset is None:
        return back
    queryset = queryset.filter(
        error_class=request.POST.get("error_class", ""),
        http_status=int_or_none(request.POST.get("group_status")),
    )
    if request.POST.get("action") == "retry":
        ids = list(queryset.filter(status__in=RETRYABLE).values_list("pk", flat=True))
        if not within_shown(request, ids, "retry_shown"):
            return back
        retries = start_retry(request, ids)
        retried_message(request, retries)
        if retries and len(retries) == 1:  # follow the new run on its own page
            return redirect("session_detail", session_id=retries[0].pk)
        if retries:  # follow the group's items as they are retried, rows updating in place
            group = {"error_class": request.POST.get("error_class", ""), "status": "retrying"}
            if request.POST.get("group_status"):
                group["http_status"] = request.POST["group_status"]
            return redirect(reverse("dlq_list") + "?" + urlencode(group))
    elif request.POST.get("action") == "resolve":
        note = (request.POST.get("note") or "").strip()[:2000]
        if not note:
            messages.error(request, NOTE_NEEDED)
        elif within_shown(request, dismissable_ids(queryset), "dismiss_shown"):
            dismissed_message(request, resolve_items(queryset, request.user, note))
    return back
