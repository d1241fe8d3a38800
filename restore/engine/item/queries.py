"""Where a look's or tile's query comes from when the object itself holds only its `query_id`.

On another instance a query ID means nothing: the query must be created there from its definition.
The definition is taken, in this order, from anywhere in the backup (`backup.queries.QueryIndex`:
queries are immutable, so a copy embedded in a dashboard tile is exactly that look's query), then
from the source instance when the user named one (read only, `looker.source.SourceInstance`).
Neither: the item is blocked with a reason that says what unblocks it.
"""

from __future__ import annotations

from typing import Any

from restore.engine.core.errors import MissingDependencyError
from restore.engine.item.context import RestoreContext

Body = dict[str, Any]

# The blocked reason when neither the backup nor a source instance gives the query. Kept stable:
# the plan and the session page group blocked items by it (`restore.engine.run.blocked`).
NOT_IN_BACKUP = "the query is not in this backup; name the source instance to read it"


class QueryNotInBackup(MissingDependencyError):
    """A query the backup holds nowhere, and no source instance was named to read it from."""


def backup_query(ctx: RestoreContext, query_id: Any) -> Body | None:
    """The backup's copy of query `query_id`, wherever it is stored; None when it has none."""
    if ctx.queries is None or query_id in (None, ""):
        return None
    return ctx.queries.get(query_id)


def find_query(ctx: RestoreContext, query_id: Any) -> Body:
    """Query `query_id`'s definition: from the backup, else read from the source instance."""
    found = backup_query(ctx, query_id)
    if found is not None:
        return found
    if ctx.origin is not None:
        return ctx.origin.query(query_id)  # SourceUnavailable (blocked) when it cannot
    raise QueryNotInBackup(f"query_id {query_id}: {NOT_IN_BACKUP}")


def with_query(ctx: RestoreContext, content: Body, *, required: bool = True) -> Body:
    """A look or tile with its query filled in when it holds only a `query_id`, on another
    instance (on the same one the ID is used as it is). Not `required`: left as it is when the
    query cannot be found (to pair tiles; the tile's own restore then says why)."""
    if ctx.same_instance or content.get("query") or content.get("query_id") in (None, ""):
        return content
    try:
        return {**content, "query": find_query(ctx, content["query_id"])}
    except MissingDependencyError:
        if required:
            raise
        return content
