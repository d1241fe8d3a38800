"""Merged-results tiles on another instance: their merge query recreated there, read from the source.

A merged-results tile names a merge query (`merge_result_id`) of the instance the backup came
from; lookervault backs no merge query up, and the ID means nothing elsewhere. With the source
instance named, the merge query is read from it (read only), each of its source queries is created
in the destination (its definition from the backup where it holds it, else from the source), then
the merge query, then the tile points at it. Merge queries are immutable: one is created per
session and source merge query, however many tiles show it.

A tile already in the destination keeps its merge query only on evidence that it shows the same
merged results: the merge query this session made for it, or one whose definition (each source
query's name, merge fields and query) equals the source's. Its title or place proves nothing.
"""

from __future__ import annotations

from typing import Any

from restore.engine.core.errors import MissingDependencyError
from restore.engine.item.context import RestoreContext
from restore.engine.item.queries import NOT_IN_BACKUP, find_query
from restore.engine.looker.client import LookerClient
from restore.engine.looker.payloads import query_body, writable

Body = dict[str, Any]
# A query's fields that name the instance it is on, not what it shows.
INSTANCE_OWN = frozenset({"client_id", "slug"})


class MergeQueryNotInBackup(MissingDependencyError):
    """A merged-results tile on another instance, with no source instance to read its merge from."""


def tile_title(tile: Body) -> str:
    return str(tile.get("title") or tile.get("title_text") or tile.get("id"))


def merge_result_for(ctx: RestoreContext, tile: Body, existing: Body | None) -> str | None:
    """The destination merge query a merged-results tile should show (None for other tiles)."""
    merge_id = tile.get("merge_result_id")
    if merge_id in (None, "") or ctx.same_instance:
        return None if merge_id in (None, "") else str(merge_id)
    if ctx.origin is None:
        raise MergeQueryNotInBackup(
            f"merge query {merge_id}: the merge query is not in this backup (lookervault backs "
            "none up); name the source instance to read it"
        )
    kept = (existing or {}).get("merge_result_id")
    if kept not in (None, "") and _shows_the_same(ctx, str(merge_id), str(kept)):
        return str(kept)
    return ctx.cached(("merge query", str(merge_id)), lambda: _create_merge(ctx, str(merge_id)))


def _shows_the_same(ctx: RestoreContext, merge_id: str, kept: str) -> bool:
    """Does the tile's destination merge query merge the same queries, the same way, as the
    source's? A tile paired on its title or place proves nothing about what it shows; merge
    queries and queries are immutable, so an equal definition is the same merged results."""
    if ctx.cached_value(("merge query", merge_id)) == kept:
        return True  # this session made it from that merge query

    def compare() -> bool:
        want = ctx.origin.merge_query(merge_id)
        have = ctx.client.get_or_none(f"/merge_queries/{LookerClient.quote(kept)}")
        ours, theirs = want.get("source_queries") or [], (have or {}).get("source_queries") or []
        if have is None or len(ours) != len(theirs):
            return False
        return all(_same_source(ctx, w, h) for w, h in zip(ours, theirs, strict=True))

    return ctx.cached(("same merge", merge_id, kept), compare)


def _same_source(ctx: RestoreContext, ours: Body, theirs: Body) -> bool:
    """One source query of a merge: same name, merge fields and query definition."""
    if (ours.get("name"), ours.get("merge_fields") or []) != (
        theirs.get("name"),
        theirs.get("merge_fields") or [],
    ):
        return False
    if ours.get("query_id") in (None, "") or theirs.get("query_id") in (None, ""):
        return False
    want = query_body(find_query(ctx, ours["query_id"]))
    have = ctx.client.get_or_none(f"/queries/{LookerClient.quote(theirs['query_id'])}") or {}
    return all(have.get(k) == v for k, v in want.items() if v is not None and k not in INSTANCE_OWN)


def _create_merge(ctx: RestoreContext, merge_id: str) -> str:
    merge = ctx.origin.merge_query(merge_id)
    body = writable("MergeQuery", merge)
    body["source_queries"] = [
        {**source, "query_id": _destination_query(ctx, source.get("query_id"))}
        for source in body.get("source_queries") or []
    ]
    for source in body["source_queries"]:
        source.pop("query_slug", None)  # the slug names the source instance's query
    return str(ctx.write("POST", "/merge_queries", body)["id"])


def _destination_query(ctx: RestoreContext, query_id: Any) -> str:
    """A merge's source query, created in the destination once per session."""
    if query_id in (None, ""):
        raise MissingDependencyError(
            f"a source query of the merge has no query_id ({NOT_IN_BACKUP})"
        )

    def create() -> str:
        body = query_body(find_query(ctx, query_id))
        return str(ctx.write("POST", "/queries", body)["id"])

    return ctx.cached(("destination query", str(query_id)), create)
