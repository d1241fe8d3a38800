"""Merged-results tiles on another instance: their merge query recreated there, read from the source.

A merged-results tile names a merge query (`merge_result_id`) of the instance the backup came
from; lookervault backs no merge query up, and the ID means nothing elsewhere. With the source
instance named, the merge query is read from it (read only), each of its source queries is created
in the destination (its definition from the backup where it holds it, else from the source), then
the merge query, then the tile points at it. Merge queries are immutable: one is created per
session and source merge query, however many tiles show it.
"""

from __future__ import annotations

from typing import Any

from restore.engine.core.errors import MissingDependencyError
from restore.engine.item.context import RestoreContext
from restore.engine.item.queries import NOT_IN_BACKUP, find_query
from restore.engine.looker.payloads import query_body, writable

Body = dict[str, Any]


class MergeQueryNotInBackup(MissingDependencyError):
    """A merged-results tile on another instance, with no source instance to read its merge from."""


def tile_title(tile: Body) -> str:
    return str(tile.get("title") or tile.get("title_text") or tile.get("id"))


def merge_result_for(ctx: RestoreContext, tile: Body, existing: Body | None) -> str | None:
    """The destination merge query a merged-results tile should show (None for other tiles)."""
    merge_id = tile.get("merge_result_id")
    if merge_id in (None, "") or ctx.same_instance:
        return None if merge_id in (None, "") else str(merge_id)
    if existing is not None and existing.get("merge_result_id"):
        return str(existing["merge_result_id"])  # paired by content; merge queries are immutable
    if ctx.origin is None:
        raise MergeQueryNotInBackup(
            f"merge query {merge_id}: the merge query is not in this backup (lookervault backs "
            "none up); name the source instance to read it"
        )
    return ctx.cached(("merge query", str(merge_id)), lambda: _create_merge(ctx, str(merge_id)))


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
