"""Small display filters for the restore templates: words, durations, times people read."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html

from restore.engine import plural as plural_of

register = template.Library()


@register.filter
def words(value: object) -> str:
    """`lookml_model` → `lookml model`, `rate_per_second` → `rate per second`."""
    return str(value).replace("_", " ")


@register.filter
def duration(seconds: object) -> str:
    """45 → `45 s`, 200 → `3 min 20 s`, 3900 → `1 h 5 min`."""
    try:
        total = int(round(float(seconds)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def as_datetime(value: object) -> dt.datetime | None:
    """A datetime from what the engine stores: a datetime, an ISO string or Unix seconds."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
    else:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return moment


def relative(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """`just now`, `3 min ago`, `2 h ago`, `yesterday 14:05`, `12 Mar 14:05`, `12 Mar 2025`."""
    now = now or timezone.now()
    seconds = (now - moment).total_seconds()
    local = timezone.localtime(moment)
    if -60 < seconds < 45:
        return "just now"
    if seconds < 0:
        return local.strftime("%-d %b %H:%M")
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 6 * 3600:
        return f"{int(seconds // 3600)} h ago"
    today = timezone.localtime(now).date()
    if local.date() == today:
        return f"today {local:%H:%M}"
    if local.date() == today - dt.timedelta(days=1):
        return f"yesterday {local:%H:%M}"
    if local.year == today.year:
        return local.strftime("%-d %b %H:%M")
    return local.strftime("%-d %b %Y")


@register.filter
def when(value: object) -> str:
    """A time as people read it ("3 min ago"), the exact time on hover; "—" when there is none."""
    moment = as_datetime(value)
    if moment is None:
        return "—"
    exact = timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(timespec="seconds"),
        exact,
        relative(moment),
    )


@register.filter
def day(value: object) -> str:
    """A date without the time of day ("12 Mar 2025"), the exact value on hover."""
    moment = as_datetime(value)
    if moment is None:
        return str(value or "—")
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(timespec="seconds"),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        local.strftime("%-d %b %Y"),
    )


@register.simple_tag
def count(n: object, singular: str, plural: str = "") -> str:
    """`{% count 1 "retry" "retries" %}` → "1 retry"; the plural defaults to singular + "s"."""
    try:
        number = int(n)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = 0
    return plural_of(number, singular, plural)


@register.filter
def yesno_words(value: object) -> str:
    return "yes" if value else "no"


@register.filter
def took(session: object) -> str:
    """How long a finished session ran ("3 min 20 s"), "" when it never started."""
    started = getattr(session, "started_at", None)
    finished = getattr(session, "finished_at", None)
    if not (started and finished):
        return ""
    return duration((finished - started).total_seconds())


ACTION_WORDS = {
    "created": "would create",
    "updated": "would update",
    "unchanged": "left alone",
    "skipped": "left alone (skipped)",
    "failed": "cannot be planned",
    "blocked": "blocked: dependency missing",
}


# A drift check's findings, kept in the runner's result actions (identity.drift.ACTION_OF).
DRIFT_WORDS = {"updated": "changed since", "skipped": "deleted since", "created": "created since"}


@register.filter
def action_words(action: str, session: object) -> str:
    """An item's action as its session says it: a plan in the conditional, a rollback's own verbs."""
    if getattr(session, "dry_run", False) and getattr(session, "kind", "") in ("restore", "retry"):
        return ACTION_WORDS.get(action, action)
    if getattr(session, "kind", "") == "rollback" and getattr(session, "dry_run", False):
        return {"created": "would delete", "updated": "would put back"}.get(action, action)
    if getattr(session, "kind", "") == "rollback":
        return {"created": "deleted", "updated": "put back"}.get(action, action)
    if getattr(session, "kind", "") == "drift":
        return DRIFT_WORDS.get(action, action)
    return {"blocked": "blocked: dependency missing"}.get(action, action)


@register.filter
def json_attr(value: object) -> str:
    """JSON for a single-quoted data attribute (autoescaping turns quotes into entities)."""
    import json

    return json.dumps(value, separators=(",", ":"))


@register.simple_tag
def nav_counts() -> dict[str, int]:
    """Open dead letters and running sessions, for the navigation (as Sidekiq shows its queues)."""
    from restore.models import DeadLetterItem, RestoreSession

    return {
        "dlq": DeadLetterItem.objects.filter(status=DeadLetterItem.Status.OPEN).count(),
        "running": RestoreSession.objects.filter(status__in=RestoreSession.ACTIVE_STATUSES).count(),
    }


@register.filter
def cut_failed(counts: str) -> str:
    """A counts line without its failed part (shown first, in red, by the lists)."""
    parts = [p for p in str(counts).replace(", ", " · ").split(" · ") if "failed" not in p]
    parts = [p for p in parts if "cannot be planned" not in p]
    return " · ".join(parts)


KIND_WORDS = {
    "restore": "Restore",
    "apply": "Restore",  # of a plan: its page and the history say which ("applies plan 4")
    "plan": "Plan",
    "rollback": "Rollback",
    "preview": "Rollback preview",
    "retry": "Retry",
    "replan": "Re-plan",
    "drift": "Drift check",
}


@register.filter
def kind_words(session: object) -> str:
    """What a session is, as its page and the lists name it: "Plan", "Rollback preview", "Retry"."""
    return KIND_WORDS[kind_class(session)]


@register.filter
def kind_class(session: object) -> str:
    """The kind's badge colour: plan, apply, restore, rollback, preview, retry differ at a glance."""
    kind, dry_run = str(getattr(session, "kind", "")), bool(getattr(session, "dry_run", False))
    if kind == "rollback":
        return "preview" if dry_run else "rollback"
    if kind == "retry":
        return "replan" if dry_run else "retry"
    if kind == "drift":
        return "drift"
    if dry_run:
        return "plan"
    return "apply" if (getattr(session, "config", None) or {}).get("plan_session_id") else "restore"


@register.filter
def status_class(session: object) -> str:
    """A finished plan's badge is "planned" (its own colour), not the green of "completed"."""
    status = str(getattr(session, "status", ""))
    return "planned" if getattr(session, "dry_run", False) and status == "completed" else status


@register.filter
def status_words(session: object) -> str:
    """A session's status as its kind says it: a finished plan is "planned", not "completed"."""
    status = str(getattr(session, "status", ""))
    if getattr(session, "kind", "") == "drift" and status == "completed":
        return "checked"
    if getattr(session, "dry_run", False) and status == "completed":
        return "planned"
    return status.replace("_", " ")


def _tagged_id(tags: object, prefix: str) -> int | None:
    for tag in str(tags or "").split():
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit():
            return int(tag[len(prefix) :])
    return None


@register.filter
def undo_event(tags: object) -> int | None:
    """The audit event a message can undo (`extra_tags="undo-12"`), else None."""
    return _tagged_id(tags, "undo-")


@register.filter
def session_link(tags: object) -> int | None:
    """The session a message is about (`extra_tags="session-12"`): the notice links to it."""
    return _tagged_id(tags, "session-")


@register.filter
def failure_words(item: object) -> str:
    """A dead-letter item's failure in words people act on (`views.error_words`)."""
    from restore.views.error_words import explain_item

    return explain_item(item)


@register.filter
def result_words(result: object) -> str:
    """A failed result row's message in the words its dead letter gets (`views.error_words`)."""
    from restore.views.error_words import explain_result

    return explain_result(getattr(result, "message", ""), getattr(result, "content_type", None))


@register.filter
def group_words(group: dict) -> str:
    """A triage group (error class + HTTP status) in words."""
    from restore.views.error_words import explain

    return explain(
        group.get("http_status"),
        group.get("error_class") or "",
        group.get("sample") or "",
        content_type=group.get("content_type"),
        method=group.get("method") or "",
        body=group.get("body") or "",
    )
