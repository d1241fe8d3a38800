"""Apply a saved plan: restore exactly the items a dry run would create or update, after checking
that the destination still holds what the plan saw (Terraform's "saved plan": the world must not
have moved in between, or the user must say so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from restore.engine.core import documents
from restore.engine.core.content_types import ContentType
from restore.engine.core.diffs import fields_moved
from restore.engine.core.errors import LookerApiError, MissingDependencyError, RestoreError
from restore.engine.core.words import plural
from restore.engine.identity.counterpart import TITLED, acceptable_hit, is_same, may_hold_same_id
from restore.engine.item.context import RestoreContext
from restore.engine.item.restorers import RESTORERS
from restore.engine.run.session import create_session, record_changed
from restore.models import RestoreSession

# The plan's rows an apply writes: what it would create or update. Unchanged, skipped and failed
# items are left alone, as the plan said.
APPLIED_ACTIONS = ("created", "updated")


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
    # Composite IDs (`look::7`): a plain ID would match every selected type (a dashboard 7 and a
    # folder 7 too), and the run's total would count items the plan never had.
    selection["ids"] = sorted(
        f"{ContentType(ct).slug}::{sid}" for ct, ids in keys.items() for sid in ids
    )
    config.update(
        selection=selection,
        dry_run=False,
        plan_session_id=plan.pk,
        confirm_changed=confirm_changed,
    )
    return config


def start_apply(
    plan: RestoreSession,
    user: Any = None,
    *,
    confirm_changed: bool = False,
    again: bool = False,
    alongside: Iterable[int] = (),
):
    """A new restore session that applies `plan`; refused when there is nothing to apply, while
    an apply of it is pending or running, and after one ended unless asked `again`.

    The plan's row is held (SELECT ... FOR UPDATE; SQLite: the IMMEDIATE transaction) from the
    check to the insert: two "Apply" clicks at once make one apply session."""
    from django.db import transaction
    from django.utils import timezone

    with transaction.atomic():
        plan = RestoreSession.objects.select_for_update().get(pk=plan.pk)
        if plan.kind != RestoreSession.Kind.RESTORE or not plan.dry_run or plan.is_active:
            raise RestoreError(f"session {plan.pk} is not a finished plan")
        if not planned_keys(plan):
            raise RestoreError(f"plan {plan.pk} would change nothing: there is nothing to apply")
        if refusal := apply_refusal(plan, again=again):
            raise RestoreError(refusal)
        return create_session(
            alongside=alongside,
            kind=RestoreSession.Kind.RESTORE,
            started_by=user,
            backup=plan.backup,
            destination=plan.destination,
            source_instance=plan.source_instance,
            config=apply_config(plan, confirm_changed=confirm_changed),
            dry_run=False,
            created_at=timezone.now(),
        )


def applies_of(plan: RestoreSession):
    """The sessions that applied the plan, newest first."""
    return RestoreSession.objects.filter(config__plan_session_id=plan.pk, dry_run=False).order_by(
        "-pk"
    )


def apply_refusal(plan: RestoreSession, *, again: bool) -> str:
    """Why the plan is not applied now: an apply of it is under way, or one that wrote something
    ended and the user did not ask for another (one refused before writing does not count)."""
    previous = applies_of(plan).first()
    if previous is None:
        return ""
    if previous.is_active:
        return f"plan {plan.pk} is being applied by session {previous.pk} ({previous.status})"
    if not again and previous.created + previous.updated > 0:
        return (
            f"plan {plan.pk} was applied already by session {previous.pk} ({previous.status}): "
            "apply it again only by asking for it"
        )
    return ""


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
    something else now, and the objects it would create that the destination has meanwhile (or
    whose name is taken); refuse unless the user confirmed applying anyway."""
    session = ctx.session
    changed = changed_since_plan(ctx, plan, should_stop)
    changed += created_since_plan(ctx, plan, should_stop)
    record_changed(session, "changed_since_plan", changed)
    if changed and not session.options.confirm_changed:
        shown = "; ".join(changed[:5]) + (
            f"; and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        raise RestoreError(
            f"nothing was written: {plural(len(changed), 'object')} changed or appeared in "
            f"{session.destination.name} "
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
        label = f"{_type_words(ct)} '{name}' ({did})"
        for change in recorded.changes if (recorded := documents.read_diff(diff)) else []:
            if what := _moved(ctx, change):
                changed.append(f"{label}: {what}")
                break
    return changed


def created_since_plan(
    ctx: RestoreContext, plan: RestoreSession, should_stop: Callable[[], bool]
) -> list[str]:
    """ "folder 'Finance' (backup 7): the plan would create it, but the destination now has
    folder 'Finance' (31), same name under the same parent", one per planned create that would
    now duplicate or collide with an object that appeared since the plan."""
    found: list[str] = []
    # A natural-key lookup resolves references (a folder's parent); here it must only read, never
    # restore a missing dependency on the way.
    config = ctx.config.model_copy(update={"with_dependencies": False, "dry_run": True})
    ctx = dataclasses.replace(ctx, config=config)
    rows = plan.results.filter(action="created").values_list("content_type", "source_id", "name")
    for ct, sid, name in rows.iterator(chunk_size=500):
        if should_stop():
            break
        if what := _appeared(ctx, ContentType(ct), str(sid)):
            found.append(
                f"{_type_words(ct)} '{name}' (backup {sid}): the plan would create it, "
                f"but the destination now has {what}"
            )
    return found


def _appeared(ctx: RestoreContext, ct: ContentType, sid: str) -> str:
    """What the destination holds now that a create of this item would duplicate or collide
    with: its own ID (proven the same object), its natural key, a dashboard's slug. Read only."""
    item = ctx.source.get_item(ct, sid) if ctx.source is not None else None
    content = getattr(item, "content", None)
    if not isinstance(content, dict) or getattr(item, "error", None):
        return ""
    for check in (_same_id, _natural_key, _slug_taken):
        try:
            if found := check(ctx, ct, sid, content):
                return found
        except (LookerApiError, MissingDependencyError):
            continue  # nothing the destination can answer about it: no evidence either way
    return ""


def _same_id(ctx: RestoreContext, ct: ContentType, sid: str, content: dict[str, Any]) -> str:
    if not may_hold_same_id(ctx, ct):
        return ""
    current = ctx.client.get_or_none(RESTORERS[ct].object_path(sid))
    if current is not None and is_same(ctx, ct, content, current):
        return f"it under the same ID ({sid})"
    return ""


def _natural_key(ctx: RestoreContext, ct: ContentType, sid: str, content: dict[str, Any]) -> str:
    r = RESTORERS[ct]
    hit = r.natural_key(ctx, content)
    # A hit the run would adopt turns the create into an update; a unique name taken makes the
    # create fail. A same-titled copy the run would not adopt is neither (titles repeat).
    if hit is None or (
        ct in TITLED and not acceptable_hit(ctx, ct, sid, content, hit, r.key_field)
    ):
        return ""
    return f"{_name(ct, hit)} ({hit.get(r.key_field)}), {NATURAL_KEY_WORDS.get(ct, 'same name')}"


def _slug_taken(ctx: RestoreContext, ct: ContentType, sid: str, content: dict[str, Any]) -> str:
    """A new dashboard keeps its slug so old links work; another dashboard holding it now would
    get those links instead (the create then takes a new slug)."""
    if ct != ContentType.DASHBOARD or not content.get("slug"):
        return ""
    slug = str(content["slug"])
    rows = [r for r in ctx.client.get("/dashboards/search", {"slug": slug}) or [] if r]
    if not rows:
        return ""
    return f"{_name(ct, rows[0])} ({rows[0].get('id')}) holding its slug '{slug}'"


NATURAL_KEY_WORDS = {
    ContentType.FOLDER: "same name under the same parent",
    ContentType.USER: "same email",
    ContentType.LOOK: "same title in the same folder",
    ContentType.DASHBOARD: "same title in the same folder",
    ContentType.BOARD: "same title",
    ContentType.LOOKML_MODEL: "same name",
}


def _name(ct: ContentType, obj: dict[str, Any]) -> str:
    if ct == ContentType.USER:
        email = (obj.get("credentials_email") or {}).get("email") or obj.get("email")
        who = " ".join(str(obj.get(k) or "") for k in ("first_name", "last_name")).strip()
        return f"user '{who or email}'" + (f" <{email}>" if email and who else "")
    label = obj.get("title") or obj.get("name") or ""
    return f"{_type_words(int(ct))} '{label}'"


def _type_words(ct: int) -> str:
    return ContentType(ct).slug.replace("_", " ")


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
    # Neither what the plan saw nor what it would write (an apply that ran before) counts as moved.
    planned = {k: v for k, v in fields.items() if isinstance(v, list) and len(v) == 2}
    return "; ".join(
        f"{name} is now {_short(current.get(name))}, the plan saw {_short(planned[name][0])}"
        for name in fields_moved(planned, current)
    )


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "…'"
