"""Session page: live progress, cancel/resume/roll back, summary downloads, the per-item results."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from restore import roles
from restore.access import require_perm
from restore.engine import (
    COUNTED,
    ContentType,
    Counts,
    DestinationBusy,
    RestoreError,
    Summary,
    changed_count,
    read_attempts,
    read_diff,
    read_progress,
    read_summary,
    resume_session,
    session_is_stale,
    start_apply,
    start_rollback,
    steps_by_op,
    store,
    summary_csv,
    writing_sessions,
)
from restore.forms import ResultFilterForm
from restore.models import DeadLetterItem, RestoreItemResult, RestoreSession
from restore.tasks import enqueue_session
from restore.views.blocked import blocked_context
from restore.views.helpers import (
    csv_cell,
    int_or_none,
    neutralised_csv,
    paginate,
    pretty_json,
    render_page,
)
from restore.views.outcomes import apply_check, outcome, plan_overview, since_retried
from restore.views.plan_lines import plan_lines, reference_ids, reference_names
from restore.views.progress import progress_view, retried_sentence


def get_session(session_id: int) -> RestoreSession:
    return get_object_or_404(
        RestoreSession.objects.select_related("destination", "backup", "started_by", "rollback_of"),
        pk=session_id,
    )


def can_resume(session: RestoreSession) -> bool:
    """Cancelled, stalled, or failed with items left to do. A session that failed because every
    item failed has nothing to resume: its page offers re-running the failed items instead."""
    if session.status == RestoreSession.Status.CANCELLED:
        return True
    if session.status == RestoreSession.Status.FAILED:
        return not session.total or session.done_count < session.total
    # The runner's own lease rule, so the page and the workers agree on "stalled".
    return session_is_stale(session)


def can_roll_back(session: RestoreSession) -> bool:
    """A finished restore that wrote something and has not been rolled back already."""
    return (
        session.kind == RestoreSession.Kind.RESTORE
        and not session.dry_run
        and not session.is_active
        and (session.created + session.updated) > 0
        and not rolled_back_by(session)
    )


def rolled_back_by(session: RestoreSession) -> RestoreSession | None:
    """The rollback that undid this restore (running or completed), if any."""
    return (
        session.rollbacks.filter(dry_run=False)
        .filter(status__in=(*RestoreSession.ACTIVE_STATUSES, RestoreSession.Status.COMPLETED))
        .order_by("-created_at")
        .first()
    )


def rollbacks_of(ids: list[int]) -> dict[int, int]:
    """{restore ID: the latest real rollback of it that ran to its end or is running}."""
    rows = (
        RestoreSession.objects.filter(rollback_of_id__in=ids, dry_run=False)
        .filter(status__in=(*RestoreSession.ACTIVE_STATUSES, RestoreSession.Status.COMPLETED))
        .order_by("created_at")
        .values_list("rollback_of_id", "pk")
    )
    return dict(rows) if ids else {}


def failed_rows(session: RestoreSession) -> Q:
    """The rows the session's counts call failed: failed, left pending by a run that ended, or
    fixed since by a retry (the session's own outcome for them stays "failed")."""
    unfinished = Q(action=RestoreItemResult.Action.PENDING) if not session.is_active else Q()
    failed = Q(action=RestoreItemResult.Action.FAILED) | Q(retried_at__isnull=False)
    return (failed | unfinished) & (Q(added_by__isnull=True) | Q(added_by=session))


def can_apply(session: RestoreSession) -> bool:
    return (
        session.dry_run
        and session.kind == RestoreSession.Kind.RESTORE
        and session.status in RestoreSession.FINISHED_STATUSES
        and session.backup_id is not None
        and (session.created + session.updated) > 0
    )


def results_for(request, session: RestoreSession):
    form = ResultFilterForm(request.GET or None)
    rows = RestoreItemResult.objects.filter(session=session)
    if form.is_valid():
        d = form.cleaned_data
        if d.get("action") == RestoreItemResult.Action.FAILED:
            rows = rows.filter(failed_rows(session))
        elif d.get("action"):
            rows = rows.filter(action=d["action"]).exclude(failed_rows(session))
        if d.get("content_type") is not None:
            rows = rows.filter(content_type=d["content_type"])
        if d.get("q"):
            rows = rows.filter(Q(source_id=d["q"].split("::")[-1]) | Q(name__icontains=d["q"]))
    # The message is shown for every row but a write's (its words, or a failure's): read with
    # the page, not once per row.
    rows = rows.defer("pre_image", "diff").order_by("-finished_at", "-id")
    return form, paginate(request, rows)


@require_GET
@require_perm(roles.VIEW)
def session_detail(request, session_id: int):
    session = get_session(session_id)
    form, page = results_for(request, session)
    context = {
        "session": session,
        "progress": progress_view(session),
        "retried": retried_sentence(read_progress(session.progress)),
        "form": form,
        "page": page,
        "can_resume": can_resume(session),
        "can_roll_back": can_roll_back(session),
        "summary_rows": summary_rows(session),
        "rollbacks": session.rollbacks.order_by("-created_at")[:10],
        "retries": session.retries.order_by("-created_at")[:10],
        **rollback_context(session),
        "selection": selection_summary(session.config or {}),
        "dlq_open": session.dlq_items.filter(status=DeadLetterItem.Status.OPEN).count()
        if not session.is_active
        else None,
        "outcome": outcome(session),
        "can_apply": can_apply(session),
        "plan": plan_overview(session) if session.dry_run and not session.is_active else None,
        "apply_check": apply_check(session),
        "rolled_back_by": rolled_back_by(session) if session.kind == "restore" else None,
        "applied_from": applied_from(session),
        "applies": session_applies(session),
        **blocked_context(session),
        "busy": list(writing_sessions(session.destination_id)),
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
        "retried": retried_sentence(read_progress(session.progress)),
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
    try:
        resume_session(session, alongside(request))
    except DestinationBusy as exc:
        messages.error(request, f"Not resumed: {exc}.")
        return redirect("session_detail", session_id=session.pk)
    enqueue_session(session.pk)
    messages.success(request, "Resuming: completed items are skipped.")
    return redirect("session_detail", session_id=session.pk)


def rollback_context(session: RestoreSession) -> dict:
    """What the page shows about undoing: for a rollback, what it deletes and puts back; for a
    restore that can be undone (from its own page or its rollback preview's), the form."""
    context: dict = {}
    if session.kind == RestoreSession.Kind.ROLLBACK:
        context["rollback_steps"] = rollback_steps(session)
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


def rollback_steps(session: RestoreSession) -> dict[str, int]:
    """What the rollback deletes and puts back: once it has run (or been previewed), what it
    found, as its counts say (an object already as it was is left alone, not "put back")."""
    steps = steps_by_op(session)
    if session.is_active or session.done_count < steps["delete"] + steps["put_back"]:
        return {"delete": steps["delete"], "put_back": steps["put_back"], "already": 0}
    return {
        "delete": session.created,
        "put_back": session.updated,
        "already": session.unchanged,
    }


def changed_since_restore(rollback: RestoreSession) -> dict | None:
    """What a rollback (or its preview) found changed in the destination since the restore."""
    summary = read_summary(rollback.summary)
    count = changed_count(summary.changed_since_restore_count) if summary else 0
    if not count:
        return None
    return {"count": count, "objects": summary.changed_since_restore or [], "session": rollback}


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
            session,
            user=request.user,
            confirm_changed=request.POST.get("confirm_changed") == "yes",
            alongside=alongside(request),
        )
    except RestoreError as exc:
        messages.error(request, str(exc))
        return redirect("session_detail", session_id=session.pk)
    enqueue_session(rollback.pk)
    messages.success(request, f"Rolling back session {session.pk}: this is its rollback.")
    return redirect("session_detail", session_id=rollback.pk)


@require_POST
@require_perm(roles.RUN)
def session_apply(request, session_id: int):
    """Apply a saved plan: exactly its items, after the destination is checked against it."""
    plan = get_session(session_id)
    if not can_apply(plan):
        messages.error(request, "Only a finished plan that would change something can be applied.")
        return redirect("session_detail", session_id=plan.pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation box to apply this plan.")
        return redirect("session_detail", session_id=plan.pk)
    if refusal := plan.backup.restore_refusal():
        messages.error(request, refusal)
        return redirect("session_detail", session_id=plan.pk)
    try:
        applied = start_apply(
            plan,
            request.user,
            confirm_changed=request.POST.get("confirm_changed") == "yes",
            again=request.POST.get("again") == "yes",
            alongside=alongside(request),
        )
    except RestoreError as exc:
        messages.error(request, str(exc))
        return redirect("session_detail", session_id=plan.pk)
    enqueue_session(applied.pk)
    messages.success(
        request,
        f"Applying plan {plan.pk} to {plan.destination.name}: its destination is checked first.",
    )
    return redirect("session_detail", session_id=applied.pk)


def alongside(request) -> list[int]:
    """The writing sessions the user confirmed running beside (the form names each one)."""
    return [pk for pk in (int_or_none(v) for v in request.POST.getlist("alongside")) if pk]


def applied_from(session: RestoreSession) -> RestoreSession | None:
    plan_id = (session.config or {}).get("plan_session_id")
    return RestoreSession.objects.filter(pk=plan_id).first() if plan_id else None


def session_applies(session: RestoreSession) -> list[RestoreSession]:
    """The runs that applied this plan (newest first)."""
    if not session.dry_run:
        return []
    return list(
        RestoreSession.objects.filter(config__plan_session_id=session.pk).order_by("-created_at")[
            :5
        ]
    )


def describe_sessions(sessions) -> None:
    """Attach the selection and main options in words to each session of a list (history, home),
    and the rollback that undid a restore (one query for the page)."""
    undone = rollbacks_of([s.pk for s in sessions if s.kind == RestoreSession.Kind.RESTORE])
    for s in sessions:
        s.rolled_back_by = undone.get(s.pk)
        config = s.config or {}
        extra = [
            text
            for key, text in (
                ("skip_if_modified", "skip if modified"),
                ("plan_session_id", f"applies plan {config.get('plan_session_id')}"),
            )
            if config.get(key)
        ]
        s.description = selection_summary(config) + (f" ({', '.join(extra)})" if extra else "")
        s.outcome = outcome(s)
        s.since_retried = since_retried(s)


def selection_summary(config: dict) -> str:
    """The selection in words, for the session header and history."""
    if config.get("dlq_item_ids"):  # a retry session: exactly the items it claimed
        n = len(config["dlq_item_ids"])
        return f"{n} dead-letter item{'s' if n != 1 else ''}"
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
        ids = [str(i) for i in selection["ids"]]
        more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
        parts.append(
            "ID " + ", ".join(ids[:10]) + more
            if len(ids) == 1
            else "IDs " + ", ".join(ids[:10]) + more
        )
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


def summary_of(session: RestoreSession) -> Summary:
    """The summary the runner wrote; before it did, the session row's counters and the live
    per-type progress (beside what an apply or rollback found before its first write)."""
    doc = read_summary(session.summary)
    if doc is not None and doc.by_type:
        return doc
    doc = doc or Summary()
    doc.session_id, doc.status, doc.dry_run = session.pk, str(session.status), session.dry_run
    doc.total = session.total
    for key in COUNTED:
        setattr(doc, key, getattr(session, key))
    if session.started_at and session.finished_at:
        doc.duration_s = (session.finished_at - session.started_at).total_seconds()
    progress = read_progress(session.progress)
    rows = progress.by_type if progress is not None else {}
    doc.by_type = {t: Counts(**{k: getattr(r, k) for k in COUNTED}) for t, r in rows.items()}
    return doc


def summary_data(session: RestoreSession) -> dict:
    """The session summary as downloaded: the summary document, with the session's kind and
    destination."""
    return store(summary_of(session)) | {
        "kind": session.kind,
        "destination": session.destination.name,
    }


def summary_rows(session: RestoreSession) -> list[dict]:
    """Per-type rows of the summary (from the summary, else from the live progress)."""
    doc = read_summary(session.summary)
    progress = read_progress(session.progress)
    if doc is not None and doc.by_type:
        rows = {slug: (c, c.done) for slug, c in doc.by_type.items()}
    elif progress is not None:
        rows = {slug: (r, r.total or r.done) for slug, r in progress.by_type.items()}
    else:
        rows = {}
    return [
        {"type": _slug(key), "total": total, **{k: getattr(counts, k) for k in COUNTED}}
        for key, (counts, total) in rows.items()
    ]


def _slug(key: str) -> str:
    try:
        return ContentType.parse(key).slug
    except ValueError:
        return str(key)


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
    body = neutralised_csv(summary_csv(summary_of(session)))  # per type, total, error classes
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
    result = get_object_or_404(
        RestoreItemResult.objects.select_related("session"), pk=result_id, session_id=session_id
    )
    session = result.session
    diff = read_diff(result.diff)
    names = reference_names(session, reference_ids(diff))
    context = {
        "result": result,
        "session": session,
        "lines": plan_lines(diff, result.pre_image, result.content_type, names),
        "pre_image": pretty_json(result.pre_image) if not session.dry_run else "",
        "retried_attempts": read_attempts(result.retries),
        "session_id": session_id,
    }
    template = "restore/partials/result_diff.html" if request.htmx else "restore/result_detail.html"
    return render(request, template, context)
