"""Per content type: the request body (references translated), the natural key, the sub-resources.

A `TypeRestorer` says how one type is written; `restore_item` runs the common flow around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import MissingDependencyError
from restore.engine.item import children
from restore.engine.item.context import RestoreContext
from restore.engine.item.queries import with_query
from restore.engine.item.references import (
    Ref,
    cycle_ref,
    drop_unresolved,
    find_user_by_email,
    later_ref,
    owner,
    ref,
)
from restore.engine.looker.client import LookerClient, quote_id
from restore.engine.looker.payloads import query_body, user_email, writable

CT = ContentType
Body = dict[str, Any]


@dataclass(frozen=True)
class TypeRestorer:
    ct: ContentType
    path: str
    create_schema: str
    update_schema: str
    build: Callable[[RestoreContext, Body, Body | None], Body]
    natural_key: Callable[[RestoreContext, Body], Body | None]
    sync_children: Callable[[RestoreContext, Body, str, Body | None], None] | None = None
    key_field: str = "id"
    # fields sent on create only (the key of a LookML model cannot change)
    create_only: frozenset[str] = frozenset()
    deep_fields: str | None = None  # `fields=` for the GET that takes the pre-image
    # the references worth restoring side by side first (`prefetch`, with --with-dependencies)
    dependencies: Callable[[Body], list[Ref]] | None = None

    def object_path(self, dest_id: str) -> str:
        return f"{self.path}/{LookerClient.quote(dest_id)}"

    def source_id(self, content: Body) -> str:
        return str(content.get(self.key_field) or content.get("id") or content.get("name"))


# -- natural keys (adoption after a lost response, and cross-instance matching) -------------------
def _search(ctx: RestoreContext, path: str, params: dict[str, str], match: Body) -> Body | None:
    rows = ctx.client.get(path, params) or []
    hits = [r for r in rows if all(_eq(r.get(k), v) for k, v in match.items())]
    if not hits:
        return None
    return ctx.client.get_or_none(f"{path.rsplit('/search', 1)[0]}/{quote_id(hits[0]['id'])}")


def _eq(a: Any, b: Any) -> bool:
    return str(a).casefold() == str(b).casefold() if a is not None and b is not None else a == b


def _by_name(path: str) -> Callable[[RestoreContext, Body], Body | None]:
    def find(ctx: RestoreContext, content: Body) -> Body | None:
        name = content.get("name")
        return _search(ctx, f"{path}/search", {"name": name}, {"name": name}) if name else None

    return find


def _find_user(ctx: RestoreContext, content: Body) -> Body | None:
    email = user_email(content)
    if not email:
        return None
    retried = content.get("id") is None or ctx.attempted_before(CT.USER, str(content["id"]))
    # cached (an owner lookup may have asked already), except on a retry: an earlier attempt's
    # create may have gone through unseen after the lookup answered "none"
    found_id = find_user_by_email(ctx, email, fresh=retried)
    found = ctx.client.get_or_none(f"/users/{quote_id(found_id)}") if found_id else None
    if found is None and content.get("first_name") and retried:
        # A create whose response was lost on an instance that ignored the email in the body:
        # the same name and no email credentials yet (only an earlier attempt can have made it).
        names = {"first_name": content["first_name"], "last_name": content.get("last_name") or ""}
        rows = ctx.client.get("/users/search", names) or []
        orphans = [
            r
            for r in rows
            if all(_eq(r.get(k), v) for k, v in names.items())
            and not (r.get("credentials_email") or {}).get("email")
        ]
        if len(orphans) == 1:
            found = ctx.client.get_or_none(f"/users/{quote_id(orphans[0]['id'])}")
    return found


def _in_fresh_folder(ctx: RestoreContext, ct: ContentType, content: Body, folder: str) -> bool:
    """The folder was created by this run and the item never attempted before: a search by
    natural key in it cannot find anything (a migration saves a request or two per item)."""
    if folder not in ctx.fresh_folders:
        return False
    return content.get("id") is not None and not ctx.attempted_before(ct, str(content["id"]))


def _on_fresh_content(ctx: RestoreContext, ct: ContentType, target: str, plan: Body) -> bool:
    """The plan's look or dashboard was created by this run and the plan never attempted before:
    it has no schedules yet, so a search by name on it cannot find this one."""
    if (ct, str(target)) not in ctx.fresh_content:
        return False
    sid = plan.get("id")
    return sid is not None and not ctx.attempted_before(CT.SCHEDULED_PLAN, str(sid))


def _find_folder(ctx: RestoreContext, content: Body) -> Body | None:
    name = content.get("name")
    try:
        parent = ref(ctx, CT.FOLDER, content.get("parent_id"), "parent_id")
    except MissingDependencyError:
        return None  # nothing can be under a parent the destination does not have
    if not name or not parent or _in_fresh_folder(ctx, CT.FOLDER, content, parent):
        return None
    params = {"name": name, "parent_id": parent}
    return _search(ctx, "/folders/search", params, params)


def _by_title_in_folder(ct: ContentType) -> Callable[[RestoreContext, Body], Body | None]:
    path = f"/{ct.slug}s"

    def find(ctx: RestoreContext, content: Body) -> Body | None:
        title = content.get("title")
        folder = ref(ctx, CT.FOLDER, content.get("folder_id"), "folder_id")
        if not title or not folder or _in_fresh_folder(ctx, ct, content, folder):
            return None
        params = {"title": title, "folder_id": folder, "deleted": "false"}
        hit = _search(ctx, f"{path}/search", params, {"title": title, "folder_id": folder})
        if hit is None:  # a trashed copy is still the same object
            params["deleted"] = "true"
            hit = _search(ctx, f"{path}/search", params, {"title": title, "folder_id": folder})
        return hit

    return find


def _find_board(ctx: RestoreContext, content: Body) -> Body | None:
    title = content.get("title")
    return _search(ctx, "/boards/search", {"title": title}, {"title": title}) if title else None


def _find_lookml_model(ctx: RestoreContext, content: Body) -> Body | None:
    name = content.get("name")  # the name is the ID on every instance
    return ctx.client.get_or_none(f"/lookml_models/{LookerClient.quote(name)}") if name else None


def _find_plan(ctx: RestoreContext, content: Body) -> Body | None:
    for fname, ct in (("dashboard_id", CT.DASHBOARD), ("look_id", CT.LOOK)):
        target = ref(ctx, ct, content.get(fname), fname)
        if target and not str(target).startswith("("):
            if _on_fresh_content(ctx, ct, target, content):
                return None
            rows = ctx.client.get(
                f"/scheduled_plans/{fname[:-3]}/{quote_id(target)}", {"all_users": "true"}
            )
            hits = [r for r in rows or [] if r.get("name") == content.get("name")]
            return hits[0] if hits else None
    return None


# -- request bodies --------------------------------------------------------------------------------
def _user(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    body = writable("User", c, exclude=frozenset({"home_folder_id"}))
    home = later_ref(ctx, CT.FOLDER, c.get("home_folder_id"), "home_folder_id")
    if home is not None:
        body["home_folder_id"] = home
    email = user_email(c)
    if current is None and email:
        # in the create itself, so a user whose create response was lost is found by email
        body["credentials_email"] = {"email": email}
    return body


def _set_owner(ctx: RestoreContext, body: Body, c: Body) -> None:
    """The owner by the ID map / email / fallback; none found: the API user keeps it (reported)."""
    body.pop("user_id", None)
    user = owner(ctx, c.get("user_id"))
    if user is not None:
        body["user_id"] = user


def _plain(schema: str) -> Callable[[RestoreContext, Body, Body | None], Body]:
    return lambda ctx, c, current: writable(schema, c)


def _role(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    body = writable("Role", c)
    for field, ct in (("permission_set_id", CT.PERMISSION_SET), ("model_set_id", CT.MODEL_SET)):
        if field in c:
            body[field] = ref(ctx, ct, c.get(field), field)
    return body


def _held_refs(body: Body, c: Body, *fields: str) -> Body:
    """Absent is not empty: a reference the backup does not hold is not sent (never blanked)."""
    for name in fields:
        if name not in c:
            body.pop(name, None)
    return body


def _folder(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    body = writable("UpdateFolder", c)
    body["parent_id"] = cycle_ref(ctx, CT.FOLDER, c, "parent_id")
    if body["parent_id"] is None:
        body.pop("parent_id")  # only root folders have none, and they are never written
    return body


def _look(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    c = with_query(ctx, c)  # lookervault's looks hold a query_id only: the query from elsewhere
    body = writable("LookWithQuery", c, exclude=frozenset({"query_id"}))
    body["folder_id"] = ref(ctx, CT.FOLDER, c.get("folder_id"), "folder_id")
    drop_unresolved(body, c, "folder_id")
    _set_owner(ctx, body, c)
    if current is None and children.inline_query(ctx, c):
        body["query"] = query_body(c["query"])  # one request instead of create_query + create_look
    else:
        body["query_id"] = children.query_id_for(ctx, c, current)
    return _held_refs(body, c, "folder_id", "query_id")


def _dashboard(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    body = writable("Dashboard", c)
    body["folder_id"] = ref(ctx, CT.FOLDER, c.get("folder_id"), "folder_id")
    drop_unresolved(body, c, "folder_id")
    _set_owner(ctx, body, c)
    _held_refs(body, c, "folder_id")
    if current is not None and not ctx.same_instance:
        body.pop("slug", None)  # slugs are unique per instance: an existing one is kept
    return body  # a new dashboard keeps its slug, so old links work (see restore_item.create)


def _board(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    body = writable("Board", c)
    _set_owner(ctx, body, c)
    return body


def _plan(ctx: RestoreContext, c: Body, current: Body | None) -> Body:
    body = writable("ScheduledPlan", c)
    _set_owner(ctx, body, c)
    body["dashboard_id"] = ref(ctx, CT.DASHBOARD, c.get("dashboard_id"), "dashboard_id")
    body["look_id"] = ref(ctx, CT.LOOK, c.get("look_id"), "look_id")
    drop_unresolved(body, c, "dashboard_id", "look_id")
    if c.get("query_id") is not None and not ctx.same_instance:
        raise MissingDependencyError(
            "query_id: a schedule of a bare query cannot move to another instance"
        )
    if "scheduled_plan_destination" in c:
        body["scheduled_plan_destination"] = [
            {k: v for k, v in d.items() if k != "scheduled_plan_id"}
            for d in body.get("scheduled_plan_destination") or []
        ]
    _held_refs(body, c, "dashboard_id", "look_id")
    return body


def _content_refs(c: Body) -> list[Ref]:
    """A look's or dashboard's folder and owner, and its look tiles' looks."""
    refs: list[Ref] = [
        (CT.FOLDER, c.get("folder_id"), "folder_id"),
        (CT.USER, c.get("user_id"), "user_id"),
    ]
    for tile in c.get("dashboard_elements") or []:
        refs.append((CT.LOOK, tile.get("look_id"), f"tile {tile.get('id')}: look_id"))
    return refs


RESTORERS: dict[ContentType, TypeRestorer] = {
    r.ct: r
    for r in (
        TypeRestorer(
            CT.USER,
            "/users",
            "User",
            "User",
            _user,
            _find_user,
            children.sync_user,
            create_only=frozenset({"credentials_email"}),
        ),
        TypeRestorer(CT.GROUP, "/groups", "Group", "Group", _plain("Group"), _by_name("/groups")),
        TypeRestorer(
            CT.PERMISSION_SET,
            "/permission_sets",
            "PermissionSet",
            "PermissionSet",
            _plain("PermissionSet"),
            _by_name("/permission_sets"),
        ),
        TypeRestorer(
            CT.MODEL_SET,
            "/model_sets",
            "ModelSet",
            "ModelSet",
            _plain("ModelSet"),
            _by_name("/model_sets"),
        ),
        TypeRestorer(
            CT.ROLE, "/roles", "Role", "Role", _role, _by_name("/roles"), children.sync_role
        ),
        TypeRestorer(CT.FOLDER, "/folders", "CreateFolder", "UpdateFolder", _folder, _find_folder),
        TypeRestorer(
            CT.LOOKML_MODEL,
            "/lookml_models",
            "LookmlModel",
            "LookmlModel",
            _plain("LookmlModel"),
            _find_lookml_model,
            key_field="name",
            create_only=frozenset({"name"}),
        ),
        TypeRestorer(
            CT.LOOK,
            "/looks",
            "LookWithQuery",
            "LookWithQuery",
            _look,
            _by_title_in_folder(CT.LOOK),
            dependencies=_content_refs,
        ),
        TypeRestorer(
            CT.DASHBOARD,
            "/dashboards",
            "Dashboard",
            "Dashboard",
            _dashboard,
            _by_title_in_folder(CT.DASHBOARD),
            children.sync_dashboard,
            dependencies=_content_refs,
        ),
        TypeRestorer(
            CT.BOARD, "/boards", "Board", "Board", _board, _find_board, children.sync_board
        ),
        TypeRestorer(
            CT.SCHEDULED_PLAN,
            "/scheduled_plans",
            "ScheduledPlan",
            "ScheduledPlan",
            _plan,
            _find_plan,
        ),
    )
}
