"""Apply a saved plan: restore exactly the items a dry run would create or update, after checking
that the destination still holds what the plan saw (Terraform's "saved plan": the world must not
have moved in between, or the user must say so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from restore.engine import documents
from restore.engine.content_types import ContentType
from restore.engine.context import RestoreContext
from restore.engine.diffs import same
from restore.engine.errors import LookerApiError, RestoreError
from restore.models import RestoreSession

# The plan's rows an apply writes: what it would create or update. Unchanged, skipped and failed
# items are left alone, as the plan said.
APPLIED_ACTIONS = ("created", "updated")
CHANGED_LISTED = 500


def planned_keys(plan: RestoreSession) -> dict[int, set[str]]:
    """{content type: source IDs} of the items the plan would write."""
    keys: dict[int, set[str]] = {}
    rows = plan.results.filter(action__in=APPLIED_ACTIONS).values_list("content_type", "source_id")
    for ct, sid in rows.iterator(chunk_size=2000):
        keys.setdefault(int(ct), set()).add(str(sid))
    return keys


def apply_config(plan: RestoreSession, *, confirm_changed: bool = False) -> dict[str, Any]:
    """The plan's options for a real run over exactly its planned items."""
    keys = planned_keys(plan)
    config = dict(plan.config or {})
    selection = dict(config.get("selection") or {})
    selection["content_types"] = sorted(keys)
    selection["ids"] = sorted({sid for ids in keys.values() for sid in ids})
    config.update(
        selection=selection,
        dry_run=False,
        plan_session_id=plan.pk,
        confirm_changed=confirm_changed,
    )
    return config


def start_apply(plan: RestoreSession, user: Any = None, *, confirm_changed: bool = False):
    """A new restore session that applies `plan`; refused when there is nothing to apply."""
    from django.utils import timezone

    if not plan.dry_run or plan.is_active:
        raise RestoreError(f"session {plan.pk} is not a finished plan")
    if not planned_keys(plan):
        raise RestoreError(f"plan {plan.pk} would change nothing: there is nothing to apply")
    return RestoreSession.objects.create(
        kind=RestoreSession.Kind.RESTORE,
        started_by=user,
        backup=plan.backup,
        destination=plan.destination,
        source_instance=plan.source_instance,
        config=apply_config(plan, confirm_changed=confirm_changed),
        dry_run=False,
        created_at=timezone.now(),
    )


def only_planned(items: Iterable[Any], keys: dict[int, set[str]], ct: ContentType) -> Iterator:
    """The level's items the plan covers: a selection by IDs matches every selected type."""
    wanted = keys.get(int(ct), set())
    for item in items:
        if str(getattr(item, "id", "")) in wanted:
            yield item


def check_destination(
    ctx: RestoreContext, plan: RestoreSession, should_stop: Callable[[], bool]
) -> None:
    """Before the first write: list the objects whose fields the plan would change that hold
    something else now, and refuse unless the user confirmed applying anyway."""
    session = ctx.session
    changed = changed_since_plan(ctx, plan, should_stop)
    doc = documents.read_summary(session.summary) or documents.Summary(
        session_id=session.pk, status=session.status, dry_run=session.dry_run
    )
    doc.changed_since_plan = changed[:CHANGED_LISTED]
    doc.changed_since_plan_count = len(changed)
    session.summary = documents.store(doc)
    RestoreSession.objects.filter(pk=session.pk).update(summary=session.summary)
    if changed and not session.options.confirm_changed:
        shown = "; ".join(changed[:5]) + (
            f"; and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        raise RestoreError(
            f"nothing was written: {len(changed)} object(s) changed in {session.destination.name} "
            f"since plan {plan.pk} ({shown}). Plan again, or apply anyway."
        )


def changed_since_plan(
    ctx: RestoreContext, plan: RestoreSession, should_stop: Callable[[], bool]
) -> list[str]:
    """ "dashboard 'Sales' (12): title is now 'X', the plan saw 'Y'", one per changed object."""
    changed: list[str] = []
    rows = plan.results.filter(action="updated").values_list(
        "content_type", "name", "destination_id", "diff"
    )
    for ct, name, did, diff in rows.iterator(chunk_size=500):
        if should_stop():
            break
        label = f"{ContentType(ct).slug.replace('_', ' ')} '{name}' ({did})"
        for change in recorded.changes if (recorded := documents.read_diff(diff)) else []:
            if what := _moved(ctx, change):
                changed.append(f"{label}: {what}")
                break
    return changed


def _moved(ctx: RestoreContext, change: documents.Change) -> str:
    """What in one planned PATCH no longer holds ("" when the object is as the plan saw it)."""
    fields, path = change.fields, change.path
    if change.method != "PATCH" or not fields or "(new" in path:
        return ""
    try:
        current = ctx.client.get_or_none(path)
    except LookerApiError:
        return ""  # a path Looker cannot read back: nothing to compare
    if current is None:
        return "deleted since the plan"
    moved = [
        f"{name} is now {_short(current.get(name))}, the plan saw {_short(values[0])}"
        for name, values in fields.items()
        if isinstance(values, list) and len(values) == 2 and name in current
        if not same(values[0], current.get(name)) and not same(values[1], current.get(name))
    ]
    return "; ".join(moved)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "…'"
