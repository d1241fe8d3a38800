"""Session page: live progress, cancel/resume/roll back, summary downloads, the per-item results."""

from __future__ import annotations

import csv
import json
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from restore import roles
from restore.access import require_perm
from restore.engine.content_types import ContentType
from restore.engine.errors import RestoreError
from restore.engine.rollback import start_rollback, steps_by_op
from restore.engine.runner import session_is_stale, summary_csv
from restore.forms import ResultFilterForm, form_data_from_config
from restore.models import DeadLetterItem, RestoreItemResult, RestoreSession
from restore.tasks import enqueue_session
from restore.views.helpers import csv_cell, paginate, pretty_json, render_page
from restore.views.progress import progress_view


def get_session(session_id: int) -> RestoreSession:
    return get_object_or_404(
        RestoreSession.objects.select_related("destination", "backup", "started_by", "rollback_of"),
        pk=session_id,
    )


def can_resume(session: RestoreSession) -> bool:
    if session.status in (RestoreSession.Status.CANCELLED, RestoreSession.Status.FAILED):
        return True
    # The runner's own lease rule, so the page and the workers agree on "stalled".
    return session_is_stale(session)


def can_roll_back(session: RestoreSession) -> bool:
    return (
        session.kind == RestoreSession.Kind.RESTORE
        and not session.dry_run
        and not session.is_active
        and (session.created + session.updated) > 0
    )


def results_for(request, session: RestoreSession):
    form = ResultFilterForm(request.GET or None)
    rows = RestoreItemResult.objects.filter(session=session)
    if form.is_valid():
        d = form.cleaned_data
        if d.get("action"):
            rows = rows.filter(action=d["action"])
        if d.get("content_type") is not None:
            rows = rows.filter(content_type=d["content_type"])
        if d.get("q"):
            rows = rows.filter(Q(source_id=d["q"].split("::")[-1]) | Q(name__icontains=d["q"]))
    rows = rows.defer("pre_image", "diff", "message").order_by("-finished_at", "-id")
    return form, paginate(request, rows)


@require_GET
@require_perm(roles.VIEW)
def session_detail(request, session_id: int):
    session = get_session(session_id)
    form, page = results_for(request, session)
    context = {
        "session": session,
        "progress": progress_view(session),
        "form": form,
        "page": page,
        "can_resume": can_resume(session),
        "can_roll_back": can_roll_back(session),
        "summary_rows": summary_rows(session),
        "rollbacks": session.rollbacks.order_by("-created_at")[:10],
        **rollback_context(session),
        "rerun_query": rerun_query(session),
        "selection": selection_summary(session.config or {}),
        "dlq_open": session.dlq_items.filter(status=DeadLetterItem.Status.OPEN).count()
        if not session.is_active
        else None,
    }
    return render_page(
        request, "restore/session_detail.html", "restore/partials/session_results.html", context
    )


@require_GET
@require_perm(roles.VIEW)
def session_progress(request, session_id: int):
    """The live panel. One indexed row read; 286 stops the polling once the session is over."""
    session = get_object_or_404(RestoreSession.objects.select_related("destination"), pk=session_id)
    context = {
        "session": session,
        "progress": progress_view(session),
        "can_resume": can_resume(session),
    }
    response = render(request, "restore/partials/session_progress.html", context)
    if not session.is_active:
        response.status_code = HttpResponseStopPolling.status_code
        response["HX-Refresh"] = "true"  # reload once so the summary and actions appear
    return response


@require_POST
@require_perm(roles.RUN)
def session_cancel(request, session_id: int):
    session = get_session(session_id)
    if session.cancel():
        messages.success(request, "Cancelling: workers stop after their current item.")
    else:
        messages.error(request, "This session is not running, so there is nothing to cancel.")
    return redirect("session_detail", session_id=session.pk)


@require_POST
@require_perm(roles.RUN)
def session_resume(request, session_id: int):
    session = get_session(session_id)
    if not can_resume(session):
        messages.error(request, "Only a cancelled, failed or stalled session can be resumed.")
        return redirect("session_detail", session_id=session.pk)
    session.resume()
    enqueue_session(session.pk)
    messages.success(request, "Resuming: completed items are skipped.")
    return redirect("session_detail", session_id=session.pk)


def rollback_context(session: RestoreSession) -> dict:
    """What the page shows about undoing: for a rollback, what it deletes and puts back; for a
    restore that can be undone (from its own page or its rollback preview's), the form."""
    context: dict = {}
    if session.kind == RestoreSession.Kind.ROLLBACK:
        context["rollback_steps"] = steps_by_op(session)
        context["changed"] = changed_since_restore(session)
        original = session.rollback_of
        undo_from_here = session.dry_run or session.status == RestoreSession.Status.FAILED
        if (
            original is not None
            and undo_from_here
            and not session.is_active
            and can_roll_back(original)
        ):
            context["rollback_target"] = original
    elif can_roll_back(session):
        context["rollback_target"] = session
        latest = session.rollbacks.exclude(status__in=RestoreSession.ACTIVE_STATUSES).first()
        context["changed"] = changed_since_restore(latest) if latest else None
    return context


def changed_since_restore(rollback: RestoreSession) -> dict | None:
    """What a rollback (or its preview) found changed in the destination since the restore."""
    summary = rollback.summary or {}
    if not summary.get("changed_since_restore_count"):
        return None
    return {
        "count": summary["changed_since_restore_count"],
        "objects": summary.get("changed_since_restore") or [],
        "session": rollback,
    }


@require_POST
@require_perm(roles.RUN)
def session_rollback_preview(request, session_id: int):
    """Plan the rollback (a dry-run rollback session, nothing written) and open it."""
    session = get_session(session_id)
    if not can_roll_back(session):
        messages.error(request, "Only a finished restore that wrote something can be rolled back.")
        return redirect("session_detail", session_id=session.pk)
    preview = start_rollback(session, dry_run=True, user=request.user)
    enqueue_session(preview.pk)
    messages.success(
        request, f"Previewing the rollback of session {session.pk}: nothing is written."
    )
    return redirect("session_detail", session_id=preview.pk)


@require_POST
@require_perm(roles.RUN)
def session_rollback(request, session_id: int):
    """Undo a finished restore: a new session that puts the saved pre-images back."""
    session = get_session(session_id)
    if not can_roll_back(session):
        messages.error(request, "Only a finished restore that wrote something can be rolled back.")
        return redirect("session_detail", session_id=session.pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation box to roll this restore back.")
        return redirect("session_detail", session_id=session.pk)
    try:
        rollback = start_rollback(
            session, user=request.user, confirm_changed=request.POST.get("confirm_changed") == "yes"
        )
    except RestoreError as exc:
        messages.error(request, str(exc))
        return redirect("session_detail", session_id=session.pk)
    enqueue_session(rollback.pk)
    messages.success(
        request, f"Rolling back session {session.pk} as session {rollback.pk} (listed below)."
    )
    return redirect("session_detail", session_id=session.pk)


def describe_sessions(sessions) -> None:
    """Attach the selection and main options in words to each session of a list (history, home)."""
    for s in sessions:
        config = s.config or {}
        options = f"{config.get('workers', '?')} workers"
        if config.get("skip_if_modified"):
            options += ", skip if modified"
        s.description = f"{selection_summary(config)} ({options})"


def selection_summary(config: dict) -> str:
    """The selection in words, for the session header and history."""
    selection = config.get("selection") or {}
    parts = []
    types = selection.get("content_types") or selection.get("types")
    if types:
        names = []
        for t in types:
            try:
                names.append(ContentType.parse(t).slug.replace("_", " "))
            except ValueError:
                names.append(str(t))
        parts.append("types: " + ", ".join(names))
    else:
        parts.append("all types")
    if selection.get("ids"):
        parts.append("IDs: " + ", ".join(str(i) for i in selection["ids"][:20]))
    for key, label in (("search", "name contains"), ("owner", "owner"), ("folder_id", "folder")):
        if selection.get(key):
            parts.append(f"{label}: {selection[key]}")
    if selection.get("folder_id") and selection.get("include_subfolders"):
        parts.append("with sub-folders")
    if selection.get("updated_after") or selection.get("updated_before"):
        parts.append(
            f"updated {selection.get('updated_after') or '…'} to {selection.get('updated_before') or '…'}"
        )
    if selection.get("include_deleted"):
        parts.append("including deleted items")
    if config.get("with_dependencies"):
        parts.append("with dependencies")
    return "; ".join(parts)


def rerun_query(session: RestoreSession) -> str:
    """Query string that refills the restore form with a plan's selection and options."""
    if not (session.dry_run and session.backup_id):
        return ""
    try:
        return urlencode(form_data_from_config(session), doseq=True)
    except (ValueError, TypeError):
        return f"backup={session.backup_id}&destination={session.destination_id}"


def summary_data(session: RestoreSession) -> dict:
    """The session summary: what the workers wrote, completed with the counters it always has."""
    data = dict(session.summary or {})
    data.setdefault("session_id", session.pk)
    data.setdefault("status", session.status)
    data.setdefault("kind", session.kind)
    data.setdefault("dry_run", session.dry_run)
    data.setdefault("destination", session.destination.name)
    for key in ("total", "created", "updated", "unchanged", "skipped", "failed"):
        data.setdefault(key, getattr(session, key))
    data.setdefault("by_type", (session.progress or {}).get("by_type") or {})
    if session.started_at and session.finished_at:
        data.setdefault("duration_s", (session.finished_at - session.started_at).total_seconds())
    return data


def summary_rows(session: RestoreSession) -> list[dict]:
    """Per-type rows of the summary (from the summary, else from the progress)."""
    by_type = (
        (session.summary or {}).get("by_type") or (session.progress or {}).get("by_type") or {}
    )
    rows = []
    for key, counts in by_type.items():
        if isinstance(counts, dict):
            try:
                slug = ContentType.parse(key).slug
            except ValueError:
                slug = str(key)
            row = {"type": slug, **{k: counts.get(k) or 0 for k in SUMMARY_COLUMNS}}
            if not counts.get("total"):
                row["total"] = sum(row[k] for k in SUMMARY_COLUMNS if k != "total")
            rows.append(row)
    return rows


SUMMARY_COLUMNS = ("total", "created", "updated", "unchanged", "skipped", "failed")


@require_GET
@require_perm(roles.VIEW)
def session_summary_json(request, session_id: int):
    session = get_session(session_id)
    response = JsonResponse(summary_data(session), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-summary.json"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@require_perm(roles.VIEW)
def session_summary_csv(request, session_id: int):
    session = get_session(session_id)
    body = summary_csv(summary_data(session))  # per type, total, then error classes
    response = HttpResponse(body, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-summary.csv"'
    return response


@require_GET
@require_perm(roles.VIEW)
def session_results_csv(request, session_id: int):
    """Every item result, streamed (a session can hold 50,000 rows)."""
    session = get_session(session_id)
    writer = csv.writer(_Echo())
    rows = (
        RestoreItemResult.objects.filter(session=session)
        .order_by("id")
        .values_list(
            "content_type",
            "source_id",
            "name",
            "action",
            "destination_id",
            "duration_ms",
            "message",
        )
    )

    def lines():
        yield writer.writerow(
            ["type", "source_id", "name", "action", "destination_id", "duration_ms", "message"]
        )
        for ct, *rest in rows.iterator(chunk_size=2000):
            yield writer.writerow([ContentType(ct).slug, *(csv_cell(v) for v in rest)])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-items.csv"'
    return response


@require_GET
@require_perm(roles.VIEW)
def result_detail(request, session_id: int, result_id: int):
    """One item's result with its field diff (loaded on demand from the results table)."""
    result = get_object_or_404(RestoreItemResult, pk=result_id, session_id=session_id)
    context = {
        "result": result,
        "diff_rows": diff_rows(result.diff),
        "pre_image": pretty_json(result.pre_image),
        "session_id": session_id,
    }
    template = "restore/partials/result_diff.html" if request.htmx else "restore/result_detail.html"
    return render(request, template, context)


def diff_rows(diff) -> list[dict]:
    """Field-level diff rows (request, field, destination value, backup value), whatever its shape.

    The engine records `{"changes": [{method, path, fields: {name: [destination, backup]}} or
    {method, path, body}], "verify": {...}}`; a plain `{name: [destination, backup]}` works too.
    """
    if not diff:
        return []
    if isinstance(diff, dict) and ("changes" in diff or "verify" in diff):
        changes = list(diff.get("changes") or [])
        if isinstance(diff.get("verify"), dict) and diff["verify"]:
            changes.append({"method": "verify", "path": "after writing", "fields": diff["verify"]})
        diff = changes
    elif isinstance(diff, dict):
        diff = [{"fields": diff.get("fields", diff)}]
    rows = []
    for change in diff if isinstance(diff, list) else []:
        if not isinstance(change, dict):
            continue
        request = f"{change.get('method', '')} {change.get('path', '')}".strip()
        fields = change.get("fields")
        if isinstance(fields, dict):
            for name, values in fields.items():
                before, after = _pair(values)
                rows.append(
                    {
                        "request": request,
                        "field": name,
                        "destination": _short(before),
                        "backup": _short(after),
                    }
                )
        elif "body" in change:
            rows.append(
                {
                    "request": request,
                    "field": "(new object)",
                    "destination": "",
                    "backup": _short(change["body"]),
                }
            )
        elif request:
            rows.append({"request": request, "field": "", "destination": "", "backup": ""})
    return rows


def _pair(values) -> tuple:
    if isinstance(values, dict):
        return values.get("destination"), values.get("backup")
    if isinstance(values, (list, tuple)) and len(values) == 2:
        return values[0], values[1]
    return None, values


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 2000 else text[:2000] + "…"
