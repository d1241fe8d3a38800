"""Sub-resources: dashboard filters/tiles/layouts, board sections/items, memberships, queries.

Each sync makes the destination match the backup through the dry-run-aware `ctx.write`: create what
is missing, PATCH what differs, delete what the backup does not have. Rows without an ID of their
own across instances (tiles, filters, layouts, board sections and items) pair with the destination's
on evidence, never on list order (`pairing.best_match`): the ID on the same instance, then what a
row shows, its title, its position. So tiles can be created in parallel, in whatever order their
IDs fall, and a second run still pairs them and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restore.engine.core.content_types import ContentType
from restore.engine.core.diffs import field_diff, same
from restore.engine.core.errors import MissingDependencyError, RestoreError
from restore.engine.item.context import RestoreContext
from restore.engine.item.fanout import run_all
from restore.engine.item.merge_tiles import merge_result_for
from restore.engine.item.pairing import (
    best_match,
    board_item_facets,
    board_section_facets,
    filter_facets,
    id_order,
    layout_facets,
    tile_facets,
)
from restore.engine.item.partial import TileFailure, incomplete_dashboard
from restore.engine.item.queries import find_query, with_query
from restore.engine.item.references import (
    drop_unresolved,
    later_ref,
    ref,
    remember_user_email,
    soft_ref,
)
from restore.engine.looker.client import quote_id
from restore.engine.looker.payloads import query_body, user_email, writable

CT = ContentType
Body = dict[str, Any]


def _by_id(rows: list[Body] | None) -> list[Body]:
    return sorted(rows or [], key=lambda r: id_order(r.get("id")))


def leftovers(pairs: list[tuple[Body, Body | None]], have: list[Body]) -> list[Body]:
    used = {id(h) for _, h in pairs if h is not None}
    return [h for h in have if id(h) not in used]


# -- queries ---------------------------------------------------------------------------------------
def query_id_for(ctx: RestoreContext, content: Body, current: Body | None) -> str | None:
    """The query ID a look or tile should point at; creates the query when it is not there yet."""
    query = content.get("query")
    if not query:
        return ref_query(ctx, content.get("query_id"))
    body = query_body(query)
    if current is not None and current.get("query") and same(body, current["query"]):
        return current.get("query_id")
    if ctx.same_instance and content.get("query_id"):
        return str(content["query_id"])  # queries are immutable and never deleted in Looker
    created = ctx.write("POST", "/queries", body)
    return str(created["id"])


def ref_query(ctx: RestoreContext, query_id: Any) -> str | None:
    """A query ID on the destination: the same one on the same instance; on another, the query
    created there from its definition (the backup's copy, else the source instance's)."""
    if query_id in (None, ""):
        return None
    if ctx.same_instance:
        return str(query_id)
    body = query_body(find_query(ctx, query_id))
    return str(ctx.write("POST", "/queries", body)["id"])


# -- users and roles -------------------------------------------------------------------------------
def _task(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def sync_user(ctx: RestoreContext, c: Body, dest_id: str, current: Body | None) -> None:
    if current is None and user_email(c) and not ctx.dry_run:
        remember_user_email(ctx, user_email(c), dest_id)  # owners' email lookups find it now
    fresh = _fresh_user(ctx, c, dest_id) if current is None else None
    _sync_email(ctx, c, dest_id, current, fresh)
    if current is None and c.get("personal_folder_id") is not None:
        _map_personal_folder(ctx, c, dest_id, fresh)
    for key, word in (("group_ids", "group memberships"), ("role_ids", "roles")):
        if key not in c:
            ctx.warn(f"the backup holds no {word} for this user: left as they are")
    groups = _memberships(ctx, CT.GROUP, c.get("group_ids"), "group_ids")
    roles = _memberships(ctx, CT.ROLE, c.get("role_ids"), "role_ids")
    if groups is None or roles is None:
        return  # memberships are set in the second pass, once groups and roles exist
    # Each membership is its own request, independent of the others: sent at once.
    tasks = []
    if "group_ids" in c:
        have = [str(g) for g in (current or {}).get("group_ids") or []]
        tasks += [
            _task(ctx.write, "POST", f"/groups/{quote_id(gid)}/users", {"user_id": dest_id})
            for gid in groups
            if gid not in have
        ]
        tasks += [
            _task(ctx.write, "DELETE", f"/groups/{quote_id(gid)}/users/{quote_id(dest_id)}")
            for gid in have
            # only memberships of groups the backup knows are ours to remove
            if gid not in groups and _ours(ctx, CT.GROUP, gid)
        ]
    if "role_ids" in c:
        have_roles = [str(r) for r in (current or {}).get("role_ids") or []]
        keep = [r for r in have_roles if not _ours(ctx, CT.ROLE, r)]
        wanted_roles = sorted(set(roles) | set(keep))
        if wanted_roles != sorted(have_roles):
            tasks.append(_task(ctx.write, "PUT", f"/users/{quote_id(dest_id)}/roles", wanted_roles))
    run_all(ctx, tasks)


def _ours(ctx: RestoreContext, ct: ContentType, dest_id: str) -> bool:
    """May this restore remove a membership of that group/role? Only of those the backup knows;
    in a rollback the pre-image is the whole truth."""
    return ctx.lenient or ctx.idmap.knows_destination(ct, dest_id)


def _memberships(ctx: RestoreContext, ct: ContentType, ids: Any, field: str) -> list[str] | None:
    """Destination IDs of a user's groups/roles; None while deferred. A group or role that is in
    neither the backup nor the destination cannot be joined: reported, and the rest restored."""
    out = []
    for source_id in ids or []:
        try:
            dest = later_ref(ctx, ct, source_id, field)
        except MissingDependencyError as exc:
            ctx.warn(f"membership not restored: {exc}")
            continue
        if dest is None:
            return None
        out.append(dest)
    return out


def _fresh_user(ctx: RestoreContext, c: Body, dest_id: str) -> Body | None:
    """A user just created: its email credentials and personal folder, from the create's answer
    when that holds both, otherwise from one GET."""
    email = user_email(c)
    if ctx.dry_run or not (email or c.get("personal_folder_id") is not None):
        return None
    created = getattr(ctx._local, "created", None) or {}
    have_email = ((created.get("credentials_email") or {}).get("email") or "").lower()
    complete = (not email or have_email == email.lower()) and (
        c.get("personal_folder_id") is None or created.get("personal_folder_id") is not None
    )
    if str(created.get("id")) == dest_id and complete:
        return created
    fields = "id,credentials_email,personal_folder_id"
    return ctx.client.get(f"/users/{quote_id(dest_id)}", {"fields": fields})


def _sync_email(
    ctx: RestoreContext, c: Body, dest_id: str, current: Body | None, fresh: Body | None
) -> None:
    email = user_email(c)
    if not email:
        return
    if current is None:
        # just created with the email in its body: add credentials only if they did not stick
        if ctx.dry_run:
            return
        current = fresh
    have = ((current or {}).get("credentials_email") or {}).get("email")
    if have is None:
        ctx.write("POST", f"/users/{quote_id(dest_id)}/credentials_email", {"email": email})
    elif have.lower() != email.lower():
        ctx.write(
            "PATCH",
            f"/users/{quote_id(dest_id)}/credentials_email",
            {"email": email},
            {"email": have},
        )


def _map_personal_folder(ctx: RestoreContext, c: Body, dest_id: str, user: Body | None) -> None:
    """Looker gives a new user a personal folder: the backup's personal folder maps to it."""
    if ctx.dry_run:
        ctx.idmap.record(CT.FOLDER, str(c["personal_folder_id"]), f"(personal folder of {dest_id})")
        return
    if user and user.get("personal_folder_id") is not None:
        folder = str(user["personal_folder_id"])
        ctx.idmap.record(CT.FOLDER, str(c["personal_folder_id"]), folder)
        ctx.fresh_folders.add(folder)  # Looker made it empty with the user: nothing to search in
        ctx.remember(("personal_folder", dest_id), folder)  # the folder level needs no GET


def sync_role(ctx: RestoreContext, c: Body, dest_id: str, current: Body | None) -> None:
    if "group_ids" not in c:
        return  # lookervault's role rows do not carry groups: leave them as they are
    groups = [ref(ctx, CT.GROUP, g, "group_ids") for g in c.get("group_ids") or []]
    have = ctx.client.get(f"/roles/{quote_id(dest_id)}/groups", {"fields": "id"}) if current else []
    if sorted(groups) != sorted(str(g["id"]) for g in have or []):
        ctx.write("PUT", f"/roles/{quote_id(dest_id)}/groups", groups)


# -- dashboards ------------------------------------------------------------------------------------
def sync_dashboard(ctx: RestoreContext, c: Body, dest_id: str, current: Body | None) -> None:
    """Filters and tiles at once, then layout positions.

    The filters, the tiles' deletions and each tile (its query or look first where it needs one,
    with --with-dependencies the look restored, then the tile) are independent of each other and
    run concurrently: a tile names the filters it listens to, it does not need them to exist. New
    tiles get IDs in no particular order, which is fine: the next run pairs them with the backup's
    by what they show (`pairing.tile_facets`).

    A dashboard is never left half made: a tile that cannot be written does not stop the others,
    the filters or the layout positions of every tile that exists; the item then fails (or is
    blocked) naming that tile, and a retry adds only it (the others pair by content).
    """
    held = {
        key: key in c for key in ("dashboard_elements", "dashboard_filters", "dashboard_layouts")
    }
    _note_absent(ctx, c, current, held)
    have = _by_id((current or {}).get("dashboard_elements"))
    wanted = _by_id(c.get("dashboard_elements")) if held["dashboard_elements"] else []
    wanted = [with_query(ctx, e, required=False) for e in wanted]  # pairs by its query's shape
    if not ctx.same_instance and ctx.origin is None:
        have = [e for e in have if not e.get("merge_result_id")]  # never ours to delete
    pairs = []
    if held["dashboard_elements"]:
        mine, theirs = tile_facets(ctx, c, backup=True), tile_facets(ctx, current, backup=False)
        pairs = best_match(wanted, have, mine, theirs)
    first = []
    if held["dashboard_filters"]:
        first += _filter_tasks(ctx, c.get("dashboard_filters") or [], dest_id, current)
    if held["dashboard_elements"]:
        first += [
            _task(ctx.write, "DELETE", f"/dashboard_elements/{quote_id(x['id'])}")
            for x in leftovers(pairs, have)
        ]
    tiles = [_task(_guarded_element, ctx, w, dest_id, existing) for w, existing in pairs]
    written = run_all(ctx, first + tiles)[len(first) :]
    element_ids = {
        str(w.get("id")): str(d["id"])
        for (w, _), d in zip(pairs, written, strict=True)
        if isinstance(d, dict)
    }
    if held["dashboard_layouts"]:
        created = any(existing is None for _, existing in pairs)
        _sync_layouts(ctx, c.get("dashboard_layouts") or [], dest_id, current, element_ids, created)
    failures = [d for d in written if isinstance(d, TileFailure)]
    if failures:
        raise incomplete_dashboard(failures)


def _guarded_element(
    ctx: RestoreContext, e: Body, dest_id: str, existing: Body | None
) -> Body | TileFailure | None:
    """One tile; its failure is kept (not raised) so the rest of the dashboard is restored."""
    try:
        return _sync_element(ctx, e, dest_id, existing)
    except RestoreError as exc:
        return TileFailure(e, exc)


ABSENT_WORDS = {
    "dashboard_elements": "tiles",
    "dashboard_filters": "filters",
    "dashboard_layouts": "layouts",
}


def _note_absent(ctx: RestoreContext, c: Body, current: Body | None, held: dict[str, bool]) -> None:
    """Absent is not empty: say what the backup does not hold and was therefore left alone."""
    for key, present in held.items():
        if present:
            continue
        word = ABSENT_WORDS[key]
        if current is None:
            ctx.warn(f"the backup holds no {word} for this dashboard: it is created without them")
            continue
        n = len(current.get(key) or [])
        ctx.warn(f"the backup holds no {word} for this dashboard: its {n} {word} were not touched")


def _filter_tasks(
    ctx: RestoreContext, wanted: list[Body], dest_id: str, cur: Body | None
) -> list[Callable[[], Any]]:
    """The filter writes (paired by name first, see `filter_facets`)."""
    have = _by_id((cur or {}).get("dashboard_filters"))
    pairs = best_match(wanted, have, filter_facets(ctx), filter_facets(ctx))
    tasks = []
    for f, existing in pairs:
        body = writable("DashboardFilter", f)
        if existing is None:
            create = writable("CreateDashboardFilter", {**f, "dashboard_id": dest_id})
            tasks.append(_task(ctx.write, "POST", "/dashboard_filters", create))
        elif field_diff(body, existing):
            delta = {k: body[k] for k in field_diff(body, existing)}
            path = f"/dashboard_filters/{quote_id(existing['id'])}"
            tasks.append(_task(ctx.write, "PATCH", path, delta, existing))
    for extra in leftovers(pairs, have):
        tasks.append(_task(ctx.write, "DELETE", f"/dashboard_filters/{quote_id(extra['id'])}"))
    return tasks


def _sync_element(ctx: RestoreContext, e: Body, dest_id: str, existing: Body | None) -> Body | None:
    """One tile: POST a new one, PATCH an existing one that differs; answers the tile."""
    body = _element_body(ctx, e, dest_id, existing)
    if existing is None:
        return ctx.write("POST", "/dashboard_elements", body)
    diff = field_diff(body, existing)
    if diff:
        delta = {k: body[k] for k in diff}
        ctx.write("PATCH", f"/dashboard_elements/{quote_id(existing['id'])}", delta, existing)
    return existing


def _element_body(ctx: RestoreContext, e: Body, dest_id: str, existing: Body | None) -> Body:
    body = writable("DashboardElement", e, exclude=frozenset({"dashboard_layout_id", "query_id"}))
    body["dashboard_id"] = dest_id
    body["look_id"] = soft_ref(ctx, CT.LOOK, e.get("look_id"), f"tile {e.get('id')}: look_id")
    if e.get("merge_result_id"):
        body["merge_result_id"] = merge_result_for(ctx, e, existing)
    if existing is None and _inline_query(ctx, e, body):
        # create_dashboard_element takes the query itself: one request instead of two
        body["query"] = query_body(e["query"])
    elif e.get("query") or e.get("query_id"):
        body["query_id"] = query_id_for(ctx, e, existing)
    elif "query_id" in e or "query" in e:
        body["query_id"] = None  # a text tile: present and empty means empty
    wanted = listeners(e)
    if wanted is not None and (existing is None or listeners(existing) != wanted):
        body["result_maker"] = {"filterables": _filterables(e["result_maker"]["filterables"])}
    return drop_unresolved(body, e, "look_id")


def listeners(tile: Body) -> list[tuple[Any, ...]] | None:
    """Which dashboard filters a tile listens to, on which fields; None when the backup holds no
    `result_maker.filterables` (then the destination's are left as they are)."""
    maker = tile.get("result_maker")
    if not isinstance(maker, dict) or "filterables" not in maker:
        return None
    out = [
        (
            f.get("model"),
            f.get("view"),
            f.get("name"),
            x.get("dashboard_filter_name"),
            x.get("field"),
        )
        for f in maker.get("filterables") or []
        for x in f.get("listen") or []
    ]
    return sorted(out, key=str)


def _filterables(rows: list[Body] | None) -> list[Body]:
    """`result_maker.filterables` as create/update_dashboard_element take them. `listen` is marked
    read-only in the spec, but Looker accepts and needs it to bind a tile to dashboard filters
    (github.com/looker-open-source/sdk-codegen/issues/926: "an API mapper bug"): sent as the one
    known exception."""
    out = []
    for f in rows or []:
        row = {k: f[k] for k in ("model", "view", "name") if f.get(k) is not None}
        row["listen"] = [
            {k: x[k] for k in ("dashboard_filter_name", "field") if x.get(k) is not None}
            for x in f.get("listen") or []
        ]
        out.append(row)
    return out


def _inline_query(ctx: RestoreContext, e: Body, body: Body) -> bool:
    """A new query tile gets its query inline in the POST. A look tile keeps its separate query (as
    before: Looker creates no query inline next to a look_id). A PATCH keeps create_query +
    query_id."""
    return body.get("look_id") is None and inline_query(ctx, e)


def inline_query(ctx: RestoreContext, content: Body) -> bool:
    """May a create of this look or tile carry its query itself (create_look and
    create_dashboard_element take one), instead of a create_query first? Yes when the backup holds
    the query, unless on the same instance its query_id is reused as it is (queries are
    immutable)."""
    if not content.get("query"):
        return False
    return not (ctx.same_instance and content.get("query_id"))


def _sync_layouts(
    ctx: RestoreContext,
    wanted: list[Body],
    dest_id: str,
    current: Body | None,
    element_ids: dict[str, str],
    tiles_created: bool,
) -> None:
    have = _by_id(_current_layouts(ctx, dest_id, current, tiles_created))
    pairs = best_match(_by_id(wanted), have, layout_facets(ctx), layout_facets(ctx))
    for w, existing in pairs:
        body = writable("DashboardLayout", w, exclude=frozenset({"dashboard_id"}))
        existing = _post_or_patch(
            ctx, "dashboard_layouts", body, {"dashboard_id": dest_id}, existing
        )
        run_all(ctx, _component_tasks(ctx, w, existing, element_ids))
    for extra in leftovers(pairs, have):
        if not extra.get("active"):
            ctx.write("DELETE", f"/dashboard_layouts/{quote_id(extra['id'])}")


def _post_or_patch(
    ctx: RestoreContext, collection: str, body: Body, parent: Body, existing: Body | None
) -> Body:
    """POST the object under its `parent` when the destination has none, else PATCH the fields
    that differ (nothing when none does); answers the destination's object."""
    if existing is None:
        return ctx.write("POST", f"/{collection}", {**body, **parent})
    if diff := field_diff(body, existing):
        delta = {k: body[k] for k in diff}
        ctx.write("PATCH", f"/{collection}/{quote_id(existing['id'])}", delta, existing)
    return existing


def _current_layouts(
    ctx: RestoreContext, dest_id: str, current: Body | None, tiles_created: bool
) -> list[Body]:
    """The dashboard GET already holds its layouts; read them again only when new tiles were
    written (Looker gave each one a layout component whose ID the run needs)."""
    if dest_id.startswith("("):  # a dashboard that a dry run would create
        return []
    known = (current or {}).get("dashboard_layouts")
    if known is not None and (ctx.dry_run or not tiles_created):
        return known
    return ctx.client.get(f"/dashboards/{quote_id(dest_id)}/dashboard_layouts") or []


POSITION = ("row", "column", "width", "height", "deleted")
GRANULAR = ("granular_row", "granular_column", "granular_width", "granular_height")


def _component_tasks(
    ctx: RestoreContext, layout: Body, existing: Body, element_ids: dict[str, str]
) -> list[Callable[[], Any]]:
    """PATCHes that put each tile's layout component where the backup has it."""
    by_element = {
        str(c.get("dashboard_element_id")): c
        for c in existing.get("dashboard_layout_components") or []
    }
    tasks = []
    for comp in layout.get("dashboard_layout_components") or []:
        element = element_ids.get(str(comp.get("dashboard_element_id")), "")
        target = by_element.get(element)
        if target is None and ctx.dry_run and element.startswith("("):
            # Looker creates a component with each new tile; the run positions it afterwards.
            target = {"id": f"(component of tile {element})"}
        if target is None:
            continue
        fields = POSITION + tuple(g for g in GRANULAR if comp.get(g) is not None)
        body = {k: comp.get(k) for k in fields if k in comp}
        diff = field_diff(body, target)
        if diff:
            delta = {k: body[k] for k in diff}
            path = f"/dashboard_layout_components/{quote_id(target['id'])}"
            tasks.append(_task(ctx.write, "PATCH", path, delta, target))
    return tasks


# -- boards ----------------------------------------------------------------------------------------
def sync_board(ctx: RestoreContext, c: Body, dest_id: str, current: Body | None) -> None:
    if "board_sections" not in c:
        n = len((current or {}).get("board_sections") or [])
        ctx.warn(f"the backup holds no sections for this board: its {n} sections were not touched")
        return
    wanted = _ordered(c.get("board_sections") or [], c.get("section_order"))
    have = _ordered(
        (current or {}).get("board_sections") or [], (current or {}).get("section_order")
    )
    mine = board_section_facets(ctx, wanted, backup=True)
    pairs = best_match(wanted, have, mine, board_section_facets(ctx, have, backup=False))
    for extra in leftovers(pairs, have):
        ctx.write("DELETE", f"/board_sections/{quote_id(extra['id'])}")
    order = []
    for w, existing in pairs:
        body = writable("BoardSection", w, exclude=frozenset({"board_id"}))
        existing = _post_or_patch(ctx, "board_sections", body, {"board_id": dest_id}, existing)
        order.append(str(existing["id"]))
        _sync_items(
            ctx, w, existing, fresh=current is None or existing.get("id", "").startswith("(")
        )
    if current is not None and [str(i) for i in current.get("section_order") or []] != order:
        ctx.write("PATCH", f"/boards/{quote_id(dest_id)}", {"section_order": order}, current)


def _ordered(rows: list[Body], order: list[Any] | None) -> list[Body]:
    rank = {str(i): n for n, i in enumerate(order or [])}
    return sorted(
        rows, key=lambda r: (rank.get(str(r.get("id")), len(rank)), id_order(r.get("id")))
    )


def _sync_items(ctx: RestoreContext, section: Body, existing: Body, *, fresh: bool) -> None:
    if "board_items" not in section:
        ctx.warn(
            f"the backup holds no items for board section {section.get('id')}: left as they are"
        )
        return
    wanted = _ordered(section.get("board_items") or [], section.get("item_order"))
    have = _ordered(existing.get("board_items") or [], existing.get("item_order"))
    mine = board_item_facets(ctx, wanted, backup=True)
    pairs = best_match(wanted, have, mine, board_item_facets(ctx, have, backup=False))
    for extra in leftovers(pairs, have):
        ctx.write("DELETE", f"/board_items/{quote_id(extra['id'])}")
    order = []
    for w, item in pairs:
        body = writable("BoardItem", w, exclude=frozenset({"board_section_id"}))
        where = f"board item {w.get('id')}"
        body["dashboard_id"] = soft_ref(
            ctx, CT.DASHBOARD, w.get("dashboard_id"), f"{where}: dashboard_id"
        )
        body["look_id"] = soft_ref(ctx, CT.LOOK, w.get("look_id"), f"{where}: look_id")
        drop_unresolved(body, w, "dashboard_id", "look_id")
        item = _post_or_patch(ctx, "board_items", body, {"board_section_id": existing["id"]}, item)
        order.append(str(item["id"]))
    if not fresh and [str(i) for i in existing.get("item_order") or []] != order:
        ctx.write(
            "PATCH", f"/board_sections/{quote_id(existing['id'])}", {"item_order": order}, existing
        )
