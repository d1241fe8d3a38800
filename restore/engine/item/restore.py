"""`restore_item(context, item) -> ItemOutcome`: the per-item API the execution layer wraps.

No retries here: API failures raise `LookerApiError`, unresolved references `MissingDependencyError`.
Flow: find the destination object (ID map / same ID, then natural key), take its pre-image, build the
body, then create (POST, after recording the intent) or PATCH only the fields that differ, then sync
sub-resources. The GET before the PATCH is deliberate: the pre-image (undo), skip-if-modified, the
dry-run diff and "unchanged" detection all need the destination's state, and an unchanged object then
costs no write at all. Where the session reads a type in pages (`item.paged`), an item its page
answer shows unchanged costs no GET either; any other is read alone before it is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from restore.engine.core import documents, row_sql
from restore.engine.core.content_types import NOT_RESTORABLE, ContentType
from restore.engine.core.diffs import field_diff
from restore.engine.core.errors import (
    ItemHeldError,
    ItemTooLargeError,
    LookerApiError,
)
from restore.engine.identity.counterpart import (
    acceptable_hit,
    entry_holds,
    is_same,
    may_hold_same_id,
    recorded_evidence,
)
from restore.engine.item.context import (
    ItemOutcome,
    RestoreContext,
    SourceItem,
    WriteWhileProbing,
)
from restore.engine.item.paged import PageAnswer, holds
from restore.engine.item.references import ROOT_FLAGS, equivalent_folder, prefetch
from restore.engine.item.restorers import RESTORERS, TypeRestorer
from restore.engine.item.written import RESULT_KEY, ROW_COLUMNS, over_attempts
from restore.engine.looker.payloads import writable

Body = dict[str, Any]


def source_id_of(item: SourceItem) -> str:
    """The plain ID of an item (`dashboard::42` → `42`, `lookml_model::thelook` → `thelook`)."""
    ct = ContentType(item.content_type)
    content = item.content or {}
    if ct == ContentType.LOOKML_MODEL and content.get("name"):
        return str(content["name"])
    if content.get("id") not in (None, ""):
        return str(content["id"])
    return str(item.id).split("::", 1)[-1]


def display_name(content: Body) -> str:
    return str(content.get("title") or content.get("name") or content.get("email") or "")[:500]


def restore_nested(ctx: RestoreContext, item: SourceItem) -> ItemOutcome:
    """Restore `item` as another item's dependency (`RestoreContext.restore_nested`)."""
    return restore_item(ctx, item, nested=True)


def restore_item(
    ctx: RestoreContext, item: SourceItem, *, nested: bool = False, again: bool = False
) -> ItemOutcome:
    """Restore one backup item into the destination (or plan it, in a dry run).

    `nested`: restored as another item's dependency. `again`: the second pass of a deferred item.
    """
    ct = ContentType(item.content_type)
    sid = source_id_of(item)
    done = None if again else ctx.cached_value(("outcome", ct, sid))
    if done is not None:
        return done
    local = ctx._local
    saved = (ctx.changes, ctx.warnings, ctx.deferred) if nested else None
    ctx.begin_item()
    try:
        with ctx.not_probing() if nested else contextlib.nullcontext():
            outcome = _restore(ctx, ct, sid, item.content or {})
    except LookerApiError as exc:
        if exc.status == 413:  # never retried: the same body will always be too large
            raise ItemTooLargeError(
                f"{ct.slug} {sid} is too large for the Looker API: {exc}"
            ) from exc
        raise
    finally:
        if saved is not None:
            local.changes, local.warnings, local.deferred = saved
    if nested and outcome.destination_id:
        # Restored ahead of its level as a dependency: its own turn must not redo it. Only these
        # are kept (slim), so memory does not grow with the number of items.
        ctx.remember(
            ("outcome", ct, sid),
            ItemOutcome(outcome.action, ct, sid, outcome.name, outcome.destination_id),
        )
    return outcome


def _restore(ctx: RestoreContext, ct: ContentType, sid: str, content: Body) -> ItemOutcome:
    out = ItemOutcome("unchanged", ct, sid, name=display_name(content))
    ctx._local.intent = None  # (type, ID) whose create intent this thread wrote afresh, last
    if reason := _in_lookml(ct, sid, content):
        out.action, out.message = "skipped", reason
        return out
    restorer = RESTORERS[ct]
    if ct == ContentType.FOLDER and _system_folder(ctx, sid, content, out):
        return out
    _hold(ctx, ct, sid)
    if restorer.dependencies is not None:
        prefetch(ctx, restorer.dependencies(content))
    current = locate(ctx, restorer, sid, content)
    if isinstance(current, PageAnswer):
        if _answered_by_page(ctx, restorer, sid, content, current, out):
            return out
        current = locate(ctx, restorer, sid, content, paged=False)  # the pre-image, alone
    if current is not None and _skip(ctx, restorer, content, current, out):
        ctx.idmap.record(ct, sid, out.destination_id, recorded_evidence(ct, current))
        return out
    body = _compatible(ctx, restorer, restorer.build(ctx, content, current))
    if current is None:
        current_for_children = None
        dest_id = create(ctx, restorer, sid, body)
        out.action = "created"
        if ct == ContentType.FOLDER:
            ctx.fresh_folders.add(dest_id)
        elif ct in (ContentType.LOOK, ContentType.DASHBOARD):
            ctx.fresh_content.add((ct, dest_id))
    else:
        dest_id, recreated = update(
            ctx, restorer, sid, str(current[restorer.key_field]), body, current
        )
        if recreated:  # deleted between our GET and PATCH: its sub-resources are gone too
            current_for_children = None
            out.action = "created"
        else:
            current_for_children = current
            out.pre_image = current
    written = current if current_for_children is not None else getattr(ctx._local, "created", None)
    ctx.idmap.record(ct, sid, dest_id, recorded_evidence(ct, written))
    if restorer.sync_children is not None:
        _sync_children(ctx, restorer, sid, content, dest_id, current_for_children)
    if out.action != "created":
        out.action = "updated" if ctx.changes else "unchanged"
        if out.action == "unchanged":
            out.pre_image = None
    out.destination_id = dest_id
    if ctx._local.intent == (ct, sid) and ctx.session is not None:
        out.intent_session = ctx.session.pk
    out.changes = [c.as_dict() for c in ctx.changes]
    out.warnings = list(ctx.warnings)
    out.deferred = list(ctx.deferred)
    out.message = "; ".join(out.warnings)
    if ctx.config.verify and not ctx.dry_run and out.action in ("created", "updated"):
        out.verify_diff = verify(ctx, restorer, dest_id, body)
    return out


def _answered_by_page(
    ctx: RestoreContext, r: TypeRestorer, sid: str, content: Body, page: Body, out: ItemOutcome
) -> bool:
    """Decide the item from its page answer when nothing is to be written (unchanged, or left
    alone as `_skip` says); False when it needs a write or the page lacks a field compared: the
    object is then read alone, and the item restored from that (the per-item logs as before)."""
    if not holds(page, _compared(r, content)):
        return False
    if _skip(ctx, r, content, page, out):
        ctx.idmap.record(r.ct, sid, out.destination_id, recorded_evidence(r.ct, page))
        return True
    warned, deferred = len(ctx.warnings), len(ctx.deferred)
    try:
        with ctx.probing():
            body = _compatible(ctx, r, r.build(ctx, content, page))
    except WriteWhileProbing:
        body = None
    if body is None or not holds(page, set(body) - r.create_only) or _delta(r, body, page):
        del ctx.warnings[warned:]
        del ctx.deferred[deferred:]
        return False
    out.destination_id = str(page[r.key_field])
    ctx.idmap.record(r.ct, sid, out.destination_id, recorded_evidence(r.ct, page))
    out.warnings, out.deferred = list(ctx.warnings), list(ctx.deferred)
    out.message = "; ".join(out.warnings)
    return True


def _compared(r: TypeRestorer, content: Body) -> set[str]:
    """The destination fields `_skip_reason` and the update compare for this item."""
    read = {name for name in ("updated_at", "built_in") if name in content}
    return read | (set(writable(r.update_schema, content)) - r.create_only)


def _delta(r: TypeRestorer, body: Body, current: Body) -> Body:
    """What an update sends: the fields that differ, those Looker sets only on create aside."""
    return {k: body[k] for k in field_diff(body, current) if k not in r.create_only}


def _hold(ctx: RestoreContext, ct: ContentType, sid: str) -> None:
    """Claim the item in this destination, or raise ItemHeldError: another session writing
    into it at once has it (the user confirmed that session may run alongside)."""
    if (holder := ctx.idmap.hold(ct, sid)) is not None:
        raise ItemHeldError(
            f"{ct.slug} {sid} is being restored into this destination by session {holder} "
            "now: left to it (retry it once that session has ended)"
        )


def _in_lookml(ct: ContentType, sid: str, content: Body) -> str:
    """Why the API cannot write this item ("" when it can): LookML defines it."""
    if ct in NOT_RESTORABLE:
        return "explores are defined in LookML: not writable via API"
    if ct == ContentType.DASHBOARD and _lookml_dashboard(sid, content):
        return "LookML dashboard: defined in LookML, not restorable through the API"
    return ""


def _sync_children(
    ctx: RestoreContext,
    r: TypeRestorer,
    sid: str,
    content: Body,
    dest_id: str,
    current: Body | None,
) -> None:
    """Sub-resources. The object is written by now: whatever stops them (a tile left out, a
    transient error that outlasts the retries) its row keeps its destination ID and the writes
    made, so a rollback undoes them."""
    try:
        r.sync_children(ctx, content, dest_id, current)  # type: ignore[misc]
    except Exception:
        note_destination(ctx, r.ct, sid, dest_id, current)
        raise


def _lookml_dashboard(sid: str, content: Body) -> bool:
    """LookML dashboards have IDs like `model::name` and are read-only through the API."""
    return "::" in sid or (bool(content.get("readonly")) and not sid.isdigit())


def _compatible(ctx: RestoreContext, r: TypeRestorer, body: Body) -> Body:
    if ctx.compat is None:
        return body
    body, notes = ctx.compat.filter(r.update_schema, body)
    for note in notes:
        ctx.warn(note)
    return body


def _system_folder(ctx: RestoreContext, sid: str, content: Body, out: ItemOutcome) -> bool:
    """Root and personal folders are not written: they map to the destination's own."""
    flags = ("is_personal", *ROOT_FLAGS)
    if not any(content.get(f) for f in flags):
        return False
    dest = equivalent_folder(ctx, content)
    out.action = "skipped"
    if dest is None:
        out.message = "system or personal folder with no counterpart in the destination"
        return True
    ctx.idmap.record(ContentType.FOLDER, sid, dest)
    out.destination_id = dest
    out.message = f"system or personal folder: maps to destination folder {dest}"
    return True


def locate(
    ctx: RestoreContext, r: TypeRestorer, sid: str, content: Body, *, paged: bool = True
) -> Body | None:
    """The destination object that is this item's counterpart, or None (it will be created).

    On evidence only (see `counterpart`): a trusted ID-map entry, then the same ID, then the
    natural key — a title match never overrides an ID match. `paged`: an object the session's
    pages hold is answered from them (a `PageAnswer`, checked exactly as a GET's answer)."""
    ct = r.ct

    def read(dest_id: str) -> Body | None:
        return _read(ctx, r, dest_id, content, paged)

    tried: set[str] = set()
    mapped = ctx.idmap.get_cached(ct, sid)
    entry = None if mapped is not None else ctx.idmap.stored(ct, sid)
    if mapped is not None:
        tried.add(mapped)
        current = read(mapped)
        if current is not None:
            return current
    elif entry is not None and not ctx.idmap.is_rejected(ct, sid, entry[0]):
        dest_id, recorded, ours = entry
        tried.add(dest_id)
        current = read(dest_id)
        still = current is not None and (ours or entry_holds(ct, content, current, recorded))
        if still and ctx.idmap.trust(ct, sid, dest_id):
            return current
        ctx.idmap.reject(ct, sid, dest_id)
    if sid not in tried and may_hold_same_id(ctx, ct):
        tried.add(sid)
        current = read(sid)
        if is_same(ctx, ct, content, current) and ctx.idmap.trust(ct, sid, sid):
            return current
    if ct == ContentType.LOOKML_MODEL and tried:
        return None  # its natural key is its ID: already looked up
    hit = r.natural_key(ctx, content)
    if hit is None or not acceptable_hit(ctx, ct, sid, content, hit, r.key_field):
        return None
    return hit if ctx.idmap.claim(ct, str(hit[r.key_field]), sid) else None


def _read(
    ctx: RestoreContext, r: TypeRestorer, dest_id: str, content: Body, paged: bool
) -> Body | None:
    """The destination object under `dest_id`: its page answer when the session's pages hold
    it, else a GET (None: 404)."""
    pages = ctx.pages
    if paged and pages is not None and pages.pages_type(r.ct, r.sync_children is not None):
        found = pages.lookup(ctx.client, r.ct, r.object_path(dest_id), dest_id, content)
        if found:
            return found
    return ctx.client.get_or_none(r.object_path(dest_id))


def _skip(
    ctx: RestoreContext, r: TypeRestorer, content: Body, current: Body, out: ItemOutcome
) -> bool:
    """Leave the destination object as it is (and say why) when it must not be written."""
    reason = _skip_reason(ctx, r, content, current)
    if reason:
        out.action, out.destination_id = "skipped", str(current[r.key_field])
        out.message = reason
    return bool(reason)


def _skip_reason(ctx: RestoreContext, r: TypeRestorer, content: Body, current: Body) -> str:
    if current.get("built_in"):
        return "built-in: Looker does not allow changing it"
    if not ctx.config.skip_if_modified:
        return ""
    ours, theirs = _when(content.get("updated_at")), _when(current.get("updated_at"))
    if ours and theirs:
        if theirs <= ours:
            return ""
        return (
            f"modified in the destination since the backup "
            f"(destination updated_at {current.get('updated_at')}, backup {content.get('updated_at')})"
        )
    # No update time on one side (folders, users, groups, roles, permission and model sets):
    # whether it was modified cannot be told, so any difference from the backup counts as one.
    differing = field_diff(writable(r.update_schema, content), current)
    differing = [f for f in differing if not f.endswith("_id") and f not in r.create_only]
    if not differing:
        return ""
    return (
        f"the backup records no update time for {r.ct.slug}s and the destination differs from it "
        f"({', '.join(sorted(differing)[:5])}): left as it is (--skip-if-modified)"
    )


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def create(ctx: RestoreContext, r: TypeRestorer, sid: str, body: Body) -> str:
    ctx._local.intent = (r.ct, sid) if record_intent(ctx, r.ct, sid, body) else None
    try:
        created = ctx.write("POST", r.path, body)
    except LookerApiError as exc:
        if not (body.get("slug") and exc.status == 422 and "slug" in (exc.body or "")):
            raise
        # Slugs are unique per instance: when another dashboard holds it, Looker assigns one.
        ctx.warn(f"slug {body['slug']} is held by another dashboard: a new slug was assigned")
        created = ctx.write("POST", r.path, {k: v for k, v in body.items() if k != "slug"})
    ctx._local.created = created  # what Looker answered: sub-resource syncs may need no GET
    return str(created[r.key_field])


def update(
    ctx: RestoreContext, r: TypeRestorer, sid: str, dest_id: str, body: Body, current: Body
) -> tuple[str, bool]:
    """PATCH only the fields that differ. Returns the ID and whether it had to be created again."""
    delta = _delta(r, body, current)
    if not delta:
        return dest_id, False
    try:
        ctx.write("PATCH", r.object_path(dest_id), delta, current)
    except LookerApiError as exc:
        if exc.status != 404:
            raise
        return create(ctx, r, sid, body), True  # deleted between our GET and PATCH
    return dest_id, False


def record_intent(ctx: RestoreContext, ct: ContentType, sid: str, body: Body) -> bool:
    """Before a POST: a pending result row, so a lost response is adopted, never duplicated.
    True when the row is new (no earlier attempt left one)."""
    if ctx.dry_run or ctx.session is None:
        return False
    from restore.models import RestoreItemResult

    # One INSERT that keeps an existing row (a retry's or a resumed session's) as it is.
    return (
        row_sql.insert(
            RestoreItemResult,
            {
                "session": ctx.session.pk,
                "content_type": int(ct),
                "source_id": sid,
                "action": RestoreItemResult.Action.PENDING,
                "name": display_name(body),
            },
            conflict=RESULT_KEY,
        )
        == 1
    )


def note_destination(
    ctx: RestoreContext, ct: ContentType, sid: str, dest_id: str, pre_image: Body | None
) -> None:
    """An item that exists in the destination but ends failed or blocked (a dashboard short of a
    tile): its result row keeps the destination ID (the page links it, a retry finds it) and what
    every attempt wrote (`written.over_attempts`: a POST says it was created; an update keeps the
    pre-image from before its first write, none when nothing was written): a rollback can undo
    it like any other, and never "puts back" what the restore did not write."""
    if ctx.dry_run or ctx.session is None:
        return
    from django.db import transaction

    from restore.models import RestoreItemResult

    key = {"session": ctx.session.pk, "content_type": int(ct), "source_id": sid}
    changes = [documents.Change(**c.as_dict()) for c in ctx.changes]
    with transaction.atomic():
        row = row_sql.select_one(RestoreItemResult, ["pk", *ROW_COLUMNS], key, for_update=True)
        written = over_attempts(ct, row, dest_id, changes, pre_image)
        values = {
            "destination_id": dest_id,
            "diff": written.diff(),
            "pre_image": written.pre_image,
        }
        if row is None:  # the runner gives it its final action (failed or blocked) next
            action = RestoreItemResult.Action.FAILED
            row_sql.insert(RestoreItemResult, {**key, **values, "action": action})
        else:
            row_sql.update(RestoreItemResult, row["pk"], values)


def verify(ctx: RestoreContext, r: TypeRestorer, dest_id: str, body: Body) -> dict[str, Any] | None:
    """Re-fetch and compare the writable fields sent; None when everything matches."""
    fetched = ctx.client.get_or_none(r.object_path(dest_id))
    diff = field_diff({k: v for k, v in body.items() if k not in r.create_only}, fetched)
    return diff or None
