"""Which destination row is the counterpart of a backup row, for sub-resources that carry no ID of
their own across instances (dashboard tiles, filters and layouts, board sections and items).

Why not by list order: the destination lists rows in whatever order it likes, and rows created
concurrently get IDs in no particular order. Two untitled look tiles paired crosswise are then
"corrected" into each other's place: writes nobody asked for, shown in a plan, undone by a
rollback. So a row pairs on evidence, strongest first: its ID where the instance is the same, what
it shows (the look or dashboard it points at through the ID map, its query's content, its text),
its title, its position. Each kind of row describes itself as a tuple of such facets (`Facets`);
`best_match` pairs on them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any

from restore.engine.core.content_types import ContentType
from restore.engine.item.context import RestoreContext

Body = dict[str, Any]
Facets = tuple[Hashable, ...]
Pairs = list[tuple[Body, Body | None]]


def id_order(value: Any) -> tuple[int, str]:
    """Numeric IDs in numeric order, then the others as text: a canonical order of rows."""
    text = str(value)
    return (int(text), text) if text.isdigit() else (1 << 62, text)


def best_match(
    wanted: list[Body],
    have: list[Body],
    mine: Callable[[Body], Facets],
    theirs: Callable[[Body], Facets],
) -> Pairs:
    """Pair each backup row (`wanted`) with at most one destination row (`have`).

    `mine` and `theirs` describe a backup row and a destination row as facets, most telling
    first. A pair scores the tuple of which facets agree, compared lexicographically: agreeing on
    what a row shows outweighs any agreement on title or position. The best-scoring pairs are
    taken first; rows that agree on nothing still pair (the destination row is then updated
    rather than deleted and created again). Ties fall to the backup's order and the destination
    rows' ID order, never to the order the destination listed them in: the answer is the same
    whatever order either list comes in. Answers the pairs in `wanted`'s order.
    """
    ours = [mine(w) for w in wanted]
    hs = sorted(have, key=lambda h: id_order(h.get("id")))
    theirs_ = [theirs(h) for h in hs]
    found: dict[int, int] = _exact(ours, theirs_)
    free_w = [i for i in range(len(wanted)) if i not in found]
    free_h = sorted(set(range(len(hs))) - set(found.values()))
    candidates = [
        (tuple(a == b for a, b in zip(ours[i], theirs_[j], strict=True)), i, j)
        for i in free_w
        for j in free_h
    ]
    candidates.sort(key=lambda c: c[0], reverse=True)  # stable: ties stay in (i, j) order
    taken: set[int] = set()
    for _, i, j in candidates:
        if i not in found and j not in taken:
            found[i] = j
            taken.add(j)
    return [(w, hs[found[i]] if i in found else None) for i, w in enumerate(wanted)]


def _exact(ours: list[Facets], theirs: list[Facets]) -> dict[int, int]:
    """Rows equal in every facet, paired in order: the common case (a converged re-run) in linear
    time, with the same result as the general pass would give."""
    bucket: dict[Facets, list[int]] = {}
    for j, facets in enumerate(theirs):
        bucket.setdefault(facets, []).append(j)
    out = {}
    for i, facets in enumerate(ours):
        same = bucket.get(facets)
        if same:
            out[i] = same.pop(0)
    return out


# -- facets of each kind of row --------------------------------------------------------------------
def _text(value: Any) -> Any:
    """Looker answers "" and null interchangeably for unset strings."""
    return None if value == "" else value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


QUERY_SHAPE = (
    "model",
    "view",
    "fields",
    "pivots",
    "fill_fields",
    "filters",
    "filter_expression",
    "sorts",
    "limit",
    "column_limit",
    "dynamic_fields",
)
TEXT = ("title_text", "subtitle_text", "body_text")
POSITION = ("row", "column", "width", "height")


def _own_id(ctx: RestoreContext, row: Body) -> Facets:
    """The row's ID is evidence only on the instance the backup came from."""
    return (str(row.get("id")),) if ctx.same_instance else ()


def destination_of(ctx: RestoreContext, ct: ContentType, source_id: Any) -> str | None:
    """The destination ID a backup reference maps to, if known (no write, no restore)."""
    if source_id in (None, ""):
        return None
    mapped = ctx.idmap.get(ct, str(source_id))
    if mapped is None and ctx.same_instance:
        return str(source_id)
    return mapped


def tile_shows(tile: Body, look_id: str | None) -> Hashable:
    """What a tile shows: its merged results, its look, its query's content, or its text."""
    if tile.get("merge_result_id"):
        return ("merge", str(tile["merge_result_id"]))
    if tile.get("look_id"):
        return ("look", look_id or "(unknown look)")
    query = tile.get("query")
    if query:
        return ("query", _canonical({k: _text(query.get(k)) for k in QUERY_SHAPE}))
    if tile.get("query_id"):
        return ("query_id", str(tile["query_id"]))
    return ("text", tile.get("type"), *(_text(tile.get(k)) for k in TEXT))


def tile_positions(dashboard: Body | None) -> dict[str, Facets]:
    """Each tile's place on the dashboard's active layout (else its first)."""
    layouts = (dashboard or {}).get("dashboard_layouts") or []
    layout = next((lay for lay in layouts if lay.get("active")), layouts[0] if layouts else {})
    return {
        str(c.get("dashboard_element_id")): tuple(c.get(k) for k in POSITION)
        for c in layout.get("dashboard_layout_components") or []
    }


def tile_facets(
    ctx: RestoreContext, dashboard: Body | None, *, backup: bool
) -> Callable[[Body], Facets]:
    """A tile's facets: ID (same instance), what it shows, title, place, kind."""
    places = tile_positions(dashboard)

    def facets(tile: Body) -> Facets:
        look = tile.get("look_id")
        look_id = destination_of(ctx, ContentType.LOOK, look) if backup else look
        shows = tile_shows(tile, None if look_id is None else str(look_id))
        place = places.get(str(tile.get("id")))
        kind = (tile.get("type"), shows[0])
        return (*_own_id(ctx, tile), shows, _text(tile.get("title")), place, kind)

    return facets


def filter_facets(ctx: RestoreContext) -> Callable[[Body], Facets]:
    """A dashboard filter's facets: ID (same instance), name (what tiles listen to), what it
    filters, title, place."""

    def facets(f: Body) -> Facets:
        target = tuple(_text(f.get(k)) for k in ("type", "model", "explore", "dimension"))
        return (*_own_id(ctx, f), f.get("name"), target, _text(f.get("title")), f.get("row"))

    return facets


def layout_facets(ctx: RestoreContext) -> Callable[[Body], Facets]:
    """A dashboard layout's facets: ID (same instance), active or not, its kind and widths."""

    def facets(layout: Body) -> Facets:
        shape = tuple(layout.get(k) for k in ("type", "column_width", "width"))
        return (*_own_id(ctx, layout), bool(layout.get("active")), shape)

    return facets


def board_item_shows(ctx: RestoreContext, item: Body, *, backup: bool) -> Hashable:
    """What a board item shows: the dashboard or look it points at, or its custom URL."""
    for field, ct in (("dashboard_id", ContentType.DASHBOARD), ("look_id", ContentType.LOOK)):
        source = item.get(field)
        if source not in (None, ""):
            target = destination_of(ctx, ct, source) if backup else str(source)
            return (field, target or "(unknown)")
    if item.get("lookml_dashboard_id"):
        return ("lookml_dashboard_id", str(item["lookml_dashboard_id"]))
    return ("url", _text(item.get("custom_url")))


def board_item_facets(
    ctx: RestoreContext, items: list[Body], *, backup: bool
) -> Callable[[Body], Facets]:
    """A board item's facets: ID (same instance), what it shows, its custom title, its place in
    the section's item order (`items` as ordered)."""
    place = {id(item): n for n, item in enumerate(items)}

    def facets(item: Body) -> Facets:
        shows = board_item_shows(ctx, item, backup=backup)
        title = _text(item.get("custom_title"))
        return (*_own_id(ctx, item), shows, title, place.get(id(item)))

    return facets


def board_section_facets(
    ctx: RestoreContext, sections: list[Body], *, backup: bool
) -> Callable[[Body], Facets]:
    """A board section's facets: ID (same instance), what its items show, its title and
    description, its place in the board's section order (`sections` as ordered)."""
    place = {id(s): n for n, s in enumerate(sections)}

    def facets(section: Body) -> Facets:
        items = section.get("board_items") or []
        shows = tuple(sorted(_canonical(board_item_shows(ctx, i, backup=backup)) for i in items))
        words = (_text(section.get("title")), _text(section.get("description")))
        return (*_own_id(ctx, section), shows, words, place.get(id(section)))

    return facets
