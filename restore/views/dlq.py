"""Dead-letter queue: find failed items, understand why, retry them in one click, or dismiss them."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Min
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from restore import roles
from restore.access import require_perm
from restore.forms import DLQFilterForm, ResolveForm
from restore.models import DeadLetterItem
from restore.tasks import enqueue_dlq_retry
from restore.views.helpers import (
    decode_blob,
    int_or_none,
    paginate,
    pretty_json,
    render_page,
    safe_next,
)

RETRYABLE = (DeadLetterItem.Status.OPEN,)


def dlq_filter_form(data) -> DLQFilterForm:
    """Filters from GET (list) or POST (bulk actions); the default shows the open items."""
    values = {k: v for k, v in data.items() if k not in ("page", "csrfmiddlewaretoken")}
    if "status" not in values:
        values["status"] = DeadLetterItem.Status.OPEN
    return DLQFilterForm(values)


def retry_items(item_ids: list[int], user) -> int:
    """Mark open items as retrying and hand them to the background workers. Returns how many."""
    claimed = list(
        DeadLetterItem.objects.filter(pk__in=item_ids, status__in=RETRYABLE).values_list(
            "pk", flat=True
        )
    )
    if not claimed:
        return 0
    # Marked before queueing, so the row shows "retrying" at once; the task takes them as claimed.
    DeadLetterItem.objects.filter(pk__in=claimed).update(status=DeadLetterItem.Status.RETRYING)
    enqueue_dlq_retry(claimed, user.pk)
    return len(claimed)


def resolve_items(queryset, user, note: str) -> int:
    """Dismiss items (a person decided they need no restore); closed items stay as they are."""
    return queryset.filter(status__in=RETRYABLE).update(
        status=DeadLetterItem.Status.DISMISSED,
        resolved_at=timezone.now(),
        resolved_by=user,
        resolution_note=note,
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
    items = form.filter(DeadLetterItem.objects.all()).defer(
        "content_blob", "response_body", "request_payload", "stack_trace", "attempts"
    )
    context = {
        "form": form,
        "page": paginate(request, items.order_by("-failed_at", "-id")),
        "return_query": request.GET.urlencode(),
        "resolve_form": ResolveForm(),
    }
    return render_page(request, "restore/dlq_list.html", "restore/partials/dlq_table.html", context)


@require_GET
@require_perm(roles.VIEW)
def dlq_item(request, item_id: int):
    item = get_object_or_404(
        DeadLetterItem.objects.select_related("session", "resolved_by"), pk=item_id
    )
    context = {
        "item": item,
        "content": pretty_json(decode_blob(bytes(item.content_blob or b""))),
        "payload": pretty_json(item.request_payload),
        "response": pretty_json(item.response_body),
        "attempts": [
            attempt_row(a) for a in (item.attempts if isinstance(item.attempts, list) else [])
        ],
        "resolve_form": ResolveForm(),
    }
    return render(request, "restore/dlq_item.html", context)


def attempt_row(attempt) -> dict:
    """One attempt of the history, whatever keys the execution layer used."""
    if not isinstance(attempt, dict):
        return {"at": "", "status": "", "error": str(attempt)}
    return {
        "at": attempt.get("at") or attempt.get("time") or attempt.get("failed_at") or "",
        "status": attempt.get("status") or attempt.get("http_status") or "",
        "error": " ".join(
            str(x)
            for x in (attempt.get("error_class"), attempt.get("message") or attempt.get("error"))
            if x
        ),
    }


@require_GET
@require_perm(roles.VIEW)
def dlq_row(request, item_id: int):
    """One row, polled while its retry runs; stops polling once the retry has an outcome."""
    item = get_object_or_404(DeadLetterItem, pk=item_id)
    response = render(request, "restore/partials/dlq_row.html", {"item": item})
    if item.status != DeadLetterItem.Status.RETRYING:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_retry_one(request, item_id: int):
    item = get_object_or_404(DeadLetterItem, pk=item_id)
    n = retry_items([item.pk], request.user)
    item.refresh_from_db()
    if request.htmx:
        return render(request, "restore/partials/dlq_row.html", {"item": item})
    if n:
        messages.success(request, f"Retrying {item.content_type_enum.slug} {item.content_id}.")
    else:
        messages.error(request, "This item is not open, so it cannot be retried.")
    return redirect(safe_next(request, reverse("dlq_item", args=[item.pk])))


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_bulk(request):
    """Retry or dismiss the ticked rows, or every open item matching the current filter."""
    action = request.POST.get("action", "")
    if action in ("retry_filter", "resolve_filter"):
        queryset = dlq_filter_form(request.POST).filter(DeadLetterItem.objects.all())
    else:
        queryset = DeadLetterItem.objects.filter(pk__in=selected_ids(request))
    if action in ("retry_selected", "retry_filter"):
        n = retry_items(
            list(queryset.filter(status__in=RETRYABLE).values_list("pk", flat=True)),
            request.user,
        )
        messages.success(request, f"Retrying {n} item{'s' if n != 1 else ''} in the background.")
    elif action in ("resolve_selected", "resolve_filter"):
        note = ResolveForm(request.POST).data.get("note", "")[:2000]
        n = resolve_items(queryset, request.user, note)
        messages.success(request, f"Dismissed {n} item{'s' if n != 1 else ''}.")
    else:
        messages.error(request, "Choose what to do with the items.")
    return back_to_list(request)


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_resolve_one(request, item_id: int):
    item = get_object_or_404(DeadLetterItem, pk=item_id)
    form = ResolveForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    if resolve_items(DeadLetterItem.objects.filter(pk=item.pk), request.user, note):
        messages.success(request, "Dismissed.")
    else:
        messages.error(request, "This item is already closed.")
    return redirect("dlq_item", item_id=item.pk)


def triage_groups(queryset) -> list[dict]:
    """Failures grouped by error class and HTTP status, biggest first, with a sample message."""
    groups = list(
        queryset.values("error_class", "http_status")
        .annotate(count=Count("id"), sample_id=Min("id"))
        .order_by("-count")[:200]
    )
    samples = dict(
        DeadLetterItem.objects.filter(pk__in=[g["sample_id"] for g in groups]).values_list(
            "pk", "error_message"
        )
    )
    for group in groups:
        group["sample"] = samples.get(group["sample_id"], "")
    return groups


@require_GET
@require_perm(roles.VIEW)
def dlq_triage(request):
    form = dlq_filter_form(request.GET)
    context = {
        "form": form,
        "groups": triage_groups(form.filter(DeadLetterItem.objects.all())),
        "return_query": request.GET.urlencode(),
    }
    return render(request, "restore/dlq_triage.html", context)


@require_POST
@require_perm(roles.RETRY_DLQ)
def dlq_triage_action(request):
    """Retry or dismiss a whole group (error class + HTTP status) within the current filter."""
    queryset = dlq_filter_form(request.POST).filter(DeadLetterItem.objects.all())
    queryset = queryset.filter(
        error_class=request.POST.get("error_class", ""),
        http_status=int_or_none(request.POST.get("group_status")),
    )
    if request.POST.get("action") == "retry":
        n = retry_items(
            list(queryset.filter(status__in=RETRYABLE).values_list("pk", flat=True)),
            request.user,
        )
        messages.success(request, f"Retrying {n} item{'s' if n != 1 else ''} in the background.")
    elif request.POST.get("action") == "resolve":
        n = resolve_items(queryset, request.user, request.POST.get("note", "")[:2000])
        messages.success(request, f"Dismissed {n} item{'s' if n != 1 else ''}.")
    query = request.POST.get("return_query", "")
    return redirect(reverse("dlq_triage") + (f"?{query}" if query else ""))
