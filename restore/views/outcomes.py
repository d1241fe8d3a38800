"""What a session came to, in the words its page, home and history use: red when anything failed
(as a CI run is), a plan in the conditional ("would create"), never a debug value."""

from __future__ import annotations

from typing import Any

from restore.engine import ContentType, changed_count, plural, read_summary
from restore.models import RestoreSession

PLAN_GROUPS = (
    ("created", "Would create"),
    ("updated", "Would update"),
    ("unchanged", "Left alone: already as in the backup"),
    ("skipped", "Left alone: skipped"),
    ("failed", "Cannot be planned"),
    ("blocked", "Cannot be planned: a dependency is missing"),
)
PLAN_LISTED = 100


def counts_line(s: RestoreSession) -> str:
    """ "31 created · 3 updated · 17 failed", zeros left out (a plan: "1 to update")."""
    if s.kind == RestoreSession.Kind.DRIFT:  # its findings, kept in the runner's actions
        words = (
            ("changed since", s.updated),
            ("deleted since", s.skipped),
            ("created since", s.created),
            ("unchanged", s.unchanged),
            ("could not be checked", s.failed),
        )
        return " · ".join(f"{n:,} {w}" for w, n in words if n) or "nothing checked"
    if s.dry_run and s.kind != RestoreSession.Kind.ROLLBACK:
        parts = [
            f"{s.created:,} to create",
            f"{s.updated:,} to update",
            f"{s.unchanged:,} unchanged",
        ]
        if s.skipped:
            parts.append(f"{s.skipped:,} skipped")
        if s.failed:
            parts.append(f"{s.failed:,} cannot be planned")
        return ", ".join(parts)
    words = (
        ("created", s.created),
        ("updated", s.updated),
        ("unchanged", s.unchanged),
        ("skipped", s.skipped),
        ("failed", s.failed),
    )
    if s.kind == RestoreSession.Kind.ROLLBACK and s.dry_run:  # a preview, in the conditional
        words = (("to delete", s.created), ("to put back", s.updated), *words[2:])
    elif s.kind == RestoreSession.Kind.ROLLBACK:
        words = (("deleted", s.created), ("put back", s.updated), *words[2:])
    return " · ".join(f"{n:,} {w}" for w, n in words if n) or "nothing to do"


def outcome(s: RestoreSession) -> dict[str, Any] | None:
    """{tone: ok|bad|warn|plan, headline, counts}; None while the session runs."""
    if s.is_active:
        return None
    done = s.created + s.updated + s.unchanged + s.skipped + s.failed
    retried = since_retried(s)
    fixed = f"; {retried:,} fixed since by {retries_words(s)}" if retried else ""
    counts = counts_line(s)
    summary = read_summary(s.summary)
    moved = changed_count(summary.changed_since_plan_count) if summary else 0
    if s.status == RestoreSession.Status.FAILED and moved and not done:
        plan_id = (s.config or {}).get("plan_session_id")
        headline = (
            f"Not applied: {plural(moved, 'object')} changed or appeared since plan {plan_id}"
        )
        return tone("bad", headline, counts, "Nothing was written.")
    if s.status == RestoreSession.Status.FAILED:
        what = "Plan failed" if s.dry_run else "Failed"
        if s.failed and not s.error_message:
            return tone("bad", f"{what}: all {plural(s.failed, 'item')} failed{fixed}", counts)
        return tone("bad", f"{what}: {s.error_message or 'stopped by an error'}{fixed}", counts)
    if s.status == RestoreSession.Status.CANCELLED:
        return tone("warn", f"Cancelled after {done:,} of {plural(s.total, 'item')}", counts)
    if s.kind == RestoreSession.Kind.DRIFT:
        return tone("plan", f"Since the backup: {counts}", counts, "Nothing was written.")
    if s.dry_run and s.kind == RestoreSession.Kind.RESTORE:
        headline = f"Plan: {counts}"
        return tone("bad" if s.failed else "plan", headline, counts, "Nothing was written.")
    if s.dry_run and s.kind == RestoreSession.Kind.RETRY:
        return tone("plan", f"Planned again: {counts}", counts, "Nothing was written.")
    if s.dry_run:
        return tone("plan", f"Rollback preview: {counts}", counts, "Nothing was written.")
    if s.failed:
        return tone(
            "bad", f"{s.failed:,} of {plural(s.total or done, 'item')} failed{fixed}", counts
        )
    if s.kind == RestoreSession.Kind.ROLLBACK:
        return tone("ok", "Rolled back", counts)
    if s.kind == RestoreSession.Kind.RETRY:
        return tone("ok", f"All {plural(done, 'item')} retried successfully", counts)
    return tone("ok", f"All {plural(done, 'item')} restored", counts)


def since_retried(s: RestoreSession) -> int:
    """How many of the session's failed items a DLQ retry has fixed since (its summary's count)."""
    summary = read_summary(s.summary)
    return summary.since_retried if summary is not None and s.failed else 0


def retries_words(s: RestoreSession) -> str:
    """ "retry 8", "retries 8 and 9": the runs that fixed a session's failed items since."""
    ids = list(
        s.retries.filter(finished_at__isnull=False).order_by("pk").values_list("pk", flat=True)
    )
    if not ids:
        return "a retry"
    if len(ids) == 1:
        return f"retry {ids[0]}"
    return "retries " + ", ".join(map(str, ids[:-1])) + f" and {ids[-1]}"


def tone(kind: str, headline: str, counts: str, note: str = "") -> dict[str, Any]:
    return {"tone": kind, "headline": headline, "counts": counts, "note": note or counts}


def plan_overview(s: RestoreSession) -> list[dict[str, Any]]:
    """The plan as lists of names per decision, dependencies marked, the reason for "left alone"."""
    if s.kind != RestoreSession.Kind.RESTORE:
        return []
    selection = (s.config or {}).get("selection") or {}
    ids = {str(i) for i in selection.get("ids") or []}
    types = {int(t) for t in selection.get("content_types") or []}
    groups = []
    for action, title in PLAN_GROUPS:
        rows = s.results.filter(action=action).order_by("content_type", "name")
        total = rows.count()
        if not total:
            continue
        items = []
        for ct, sid, name, message in rows.values_list(
            "content_type", "source_id", "name", "message"
        )[:PLAN_LISTED]:
            pulled_in = bool((ids and sid not in ids) or (types and ct not in types))
            items.append(
                {
                    "type": ContentType(ct).slug.replace("_", " "),
                    "slug": ContentType(ct).slug,
                    "id": sid,
                    "name": name or f"#{sid}",
                    "why": message,
                    "dependency": pulled_in,
                }
            )
        groups.append({"action": action, "title": title, "count": total, "items": items})
    return groups


def apply_check(s: RestoreSession) -> dict[str, Any] | None:
    """What an apply found changed in the destination since its plan (before writing)."""
    summary = read_summary(s.summary)
    count = changed_count(summary.changed_since_plan_count) if summary else 0
    if not count:
        return None
    return {
        "count": count,
        "objects": summary.changed_since_plan or [],
        "plan_id": s.options.plan_session_id,
    }
