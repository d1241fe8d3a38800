"""Translate every reference inside a backup object into the destination's ID, or refuse clearly.

Order of resolution: the persistent ID map; system and personal folders (matched by role, not ID);
with `--with-dependencies`, restore the missing object from the backup first; on the same instance an
unmapped ID passes through unchanged; otherwise `MissingDependencyError` (never a raw foreign ID).
Owners (`user_id`) follow the user with the same email, then the configured fallback owner.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import MissingDependencyError, RestoreError
from restore.engine.identity.counterpart import proven_same_id
from restore.engine.item.context import RestoreContext
from restore.engine.item.fanout import run_all
from restore.engine.looker.client import quote_id
from restore.engine.looker.payloads import user_email


def ref(ctx: RestoreContext, ct: ContentType, source_id: Any, field: str) -> str | None:
    """The destination ID for a reference to `ct` `source_id` found in `field`."""
    if source_id in (None, ""):
        return None
    sid = str(source_id)
    mapped = ctx.idmap.get(ct, sid)
    if mapped is not None:
        return mapped
    if ct == ContentType.FOLDER:
        special = system_folder(ctx, sid)
        if special is not None:
            return special
    if ct == ContentType.USER:
        by_email = user_by_source_email(ctx, sid)
        if by_email is not None:
            return by_email
    if proven_same_id(ctx, ct, sid):
        # The destination holds the backup's object under the same ID (evidence, or the
        # session's same-instance decision for types without immutable fields).
        ctx.idmap.record(ct, sid, sid)
        return sid
    if ctx.config.with_dependencies and ctx.source is not None:
        return restore_dependency(ctx, ct, sid, field)
    if ctx.lenient:
        ctx.warn(f"{field}: {ct.slug} {sid} no longer exists; left as it is")
        return None
    if ctx.same_instance:
        raise MissingDependencyError(
            f"{field} refers to {ct.slug} {sid}, which no longer exists in the destination "
            "and is not restored by this session (include it, or use --with-dependencies)"
        )
    if outcome := ctx.not_restored(ct, sid):
        raise MissingDependencyError(
            f"{field} refers to {ct.slug} {sid}, which this session could not restore "
            f"(it is {outcome}: its own result says why)"
        )
    raise MissingDependencyError(
        f"{field} refers to {ct.slug} {sid}, which has no counterpart in the destination "
        "(restore it first, or use --with-dependencies)"
    )


Ref = tuple[ContentType, Any, str]  # (type, source ID, field): a reference of a backup object


def prefetch(ctx: RestoreContext, refs: list[Ref]) -> None:
    """With --with-dependencies: restore an item's missing dependencies side by side before the
    item meets them one after another (a dashboard's folder chain, its owner, its look tiles'
    looks). At 100 ms per request that is most of the wait for one dashboard. A dependency that
    fails here is left for the item's own reference to meet and report. Not while this thread
    restores a dependency: it holds that dependency's lock, and waiting for fan-out slots held by
    tasks that wait for the same lock would never end."""
    if not ctx.config.with_dependencies or ctx.dry_run or ctx.source is None:
        return
    if ctx.active_dependencies():
        return
    todo = {
        (ct, str(sid)): field
        for ct, sid, field in refs
        if sid not in (None, "") and ctx.idmap.get(ct, str(sid)) is None
    }
    if len(todo) < 2:
        return
    run_all(ctx, [partial(_quietly, ctx, ct, sid, f) for (ct, sid), f in todo.items()])


def _quietly(ctx: RestoreContext, ct: ContentType, sid: str, field: str) -> None:
    with contextlib.suppress(RestoreError):
        ref(ctx, ct, sid, field)


def later_ref(ctx: RestoreContext, ct: ContentType, source_id: Any, field: str) -> str | None:
    """A reference to a type restored later (users → groups, roles, folders).

    In a session's first pass an unmapped one is deferred: None here, and the item is marked for
    the second pass that runs after every level. Outside a session it resolves like `ref`.
    """
    if source_id in (None, ""):
        return None
    if ctx.first_pass and ctx.idmap.get(ct, str(source_id)) is None:
        ctx.defer(f"{field} {ct.slug} {source_id}")
        return None
    return ref(ctx, ct, source_id, field)


def cycle_ref(ctx: RestoreContext, ct: ContentType, content: dict[str, Any], field: str) -> Any:
    """A self-reference of a cycle member: first pass under the Shared folder, second pass for real."""
    sid = str(content.get("id"))
    target = content.get(field)
    unresolved = target is not None and ctx.idmap.get(ct, str(target)) is None
    if ctx.first_pass and (ct, sid) in ctx.cycle_members and unresolved and not ctx.same_instance:
        ctx.defer(f"{field} {ct.slug} {target} (reference cycle)")
        return root_folder(ctx, "is_shared_root")
    return ref(ctx, ct, target, field)


def restore_dependency(ctx: RestoreContext, ct: ContentType, sid: str, field: str) -> str:
    key = ("dependency", ct, sid)
    active = ctx.active_dependencies()
    if key in active:
        raise MissingDependencyError(f"{field} refers to {ct.slug} {sid}: a reference cycle")
    with ctx.key_lock(key):  # parallel workers restore it once
        mapped = ctx.idmap.get(ct, sid)
        if mapped is not None:
            return mapped
        active.add(key)
        try:
            return _restore_dependency(ctx, ct, sid, field)
        finally:
            active.discard(key)


def _restore_dependency(ctx: RestoreContext, ct: ContentType, sid: str, field: str) -> str:
    item = ctx.source.get_item(ct, sid) if ctx.source else None
    if item is None or ctx.restore_nested is None:
        raise MissingDependencyError(
            f"{field} refers to {ct.slug} {sid}: missing in the destination and not in the backup"
        )
    outcome = ctx.restore_nested(ctx, item)
    if ctx.on_dependency is not None:
        ctx.on_dependency(outcome)
    if not outcome.destination_id:
        raise MissingDependencyError(
            f"{field} refers to {ct.slug} {sid}, which could not be restored: {outcome.message}"
        )
    return outcome.destination_id


def owner(ctx: RestoreContext, source_user_id: Any, field: str = "user_id") -> str | None:
    """The destination owner for content owned by `source_user_id`, or None (the API user)."""
    if source_user_id in (None, ""):
        return None
    sid = str(source_user_id)
    try:
        found = ref(ctx, ContentType.USER, sid, field)
    except MissingDependencyError:
        found = None
    if found is not None:
        return found
    fallback = fallback_owner(ctx)
    if fallback is not None:
        ctx.warn(f"owner user {source_user_id} not in destination: fallback owner used")
        return fallback
    ctx.warn(f"owner user {source_user_id} not in destination: the API user owns it")
    return None


def fallback_owner(ctx: RestoreContext) -> str | None:
    email = ctx.config.fallback_owner_email
    return find_user_by_email(ctx, email) if email else None


def find_user_by_email(ctx: RestoreContext, email: str, *, fresh: bool = False) -> str | None:
    """The destination user with this email (cached per session). `fresh`: ask again — a retried
    create may have gone through after the cached "no such user" was learnt."""

    def lookup() -> str | None:
        rows = ctx.client.get("/users/search", {"email": email, "fields": "id,email"}) or []
        hits = [r for r in rows if (r.get("email") or "").lower() == email.lower()]
        return str(hits[0]["id"]) if hits else None

    key = ("user-email", email.lower())
    if fresh and ctx.cached_value(key) is None:
        found = lookup()
        if found is not None:
            ctx.remember(key, found)
        return found
    return ctx.cached(key, lookup)


def remember_user_email(ctx: RestoreContext, email: str, dest_id: str) -> None:
    """A user this run created: later lookups of its email find it without asking again."""
    ctx.remember(("user-email", email.lower()), dest_id)


def user_by_source_email(ctx: RestoreContext, source_user_id: str) -> str | None:
    """Cross-instance: the destination user with the backup user's email."""
    if ctx.same_instance or ctx.source is None:
        return None
    item = ctx.source.get_item(ContentType.USER, source_user_id)
    email = user_email(item.content) if item is not None else None
    if not email:
        return None
    found = find_user_by_email(ctx, email)
    if found is not None:
        ctx.idmap.record(ContentType.USER, source_user_id, found)
    return found


# -- system and personal folders ------------------------------------------------------------------
ROOT_FLAGS = ("is_shared_root", "is_users_root", "is_embed_shared_root", "is_embed_users_root")


def system_folder(ctx: RestoreContext, source_id: str) -> str | None:
    """A root or personal folder of the backup → the destination's equivalent (by role, not ID)."""
    if ctx.source is None:
        return None
    item = ctx.source.get_item(ContentType.FOLDER, source_id)
    if item is None:
        return None
    dest = equivalent_folder(ctx, item.content)
    if dest is not None:
        ctx.idmap.record(ContentType.FOLDER, source_id, dest)
    return dest


def equivalent_folder(ctx: RestoreContext, folder: dict[str, Any]) -> str | None:
    for flag in ROOT_FLAGS:
        if folder.get(flag):
            return root_folder(ctx, flag)
    if folder.get("is_personal") and folder.get("creator_id") is not None:
        # Personal folders follow their owner: a user deleted and restored under a new ID has a
        # new personal folder, and the old one's content belongs there.
        try:
            user = ref(ctx, ContentType.USER, folder["creator_id"], "creator_id")
        except MissingDependencyError:
            return None
        if ctx.same_instance and user == str(folder["creator_id"]) and folder.get("id"):
            return str(folder["id"])  # the same user still: the same personal folder
        return personal_folder_of(ctx, user) if user else None
    return None


def root_folder(ctx: RestoreContext, flag: str) -> str | None:
    def lookup() -> str | None:
        rows = ctx.client.get("/folders/search", {flag: "true", "fields": f"id,{flag}"}) or []
        hits = [r for r in rows if r.get(flag)]
        return str(hits[0]["id"]) if hits else None

    return ctx.cached(("root", flag), lookup)


def personal_folder_of(ctx: RestoreContext, dest_user_id: str) -> str | None:
    if ctx.dry_run and dest_user_id.startswith("("):
        return f"(personal folder of {dest_user_id})"

    def lookup() -> str | None:
        path = f"/users/{quote_id(dest_user_id)}"
        user = ctx.client.get_or_none(path, {"fields": "id,personal_folder_id"})
        pid = (user or {}).get("personal_folder_id")
        return str(pid) if pid is not None else None

    # A user this run created brought its personal folder in the create's answer (sync_user).
    return ctx.cached(("personal_folder", dest_user_id), lookup)


def soft_ref(ctx: RestoreContext, ct: ContentType, source_id: Any, field: str) -> str | None:
    """A reference inside a sub-resource (a tile's look, a board item's content): when it cannot
    be resolved, the sub-resource is restored without it and the item reports why, instead of
    blocking a whole dashboard for one broken tile (the source held a dangling reference too).

    When the backup does hold the live target (it failed, or was not selected), dropping the
    reference would lose it for good: the item is blocked instead, so a DLQ retry after the
    target is restored puts the reference back."""
    try:
        return ref(ctx, ct, source_id, field)
    except MissingDependencyError as exc:
        if _backup_has_live(ctx, ct, source_id):
            raise
        ctx.warn(f"{exc}; restored without it")
        return None


def _backup_has_live(ctx: RestoreContext, ct: ContentType, source_id: Any) -> bool:
    if ctx.source is None or ctx.lenient:
        return False
    item = ctx.source.get_item(ct, str(source_id))
    return item is not None and not getattr(item, "deleted", False)


def drop_unresolved(body: dict[str, Any], content: dict[str, Any], *fields: str) -> dict[str, Any]:
    """Leave out references that had a value in the source but resolve to nothing (lenient mode)."""
    for name in fields:
        if body.get(name) is None and content.get(name) not in (None, ""):
            body.pop(name, None)
    return body
