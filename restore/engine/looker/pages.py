"""Read a whole type from Looker a page at a time: `search_*` / `all_*` with `fields`.

One GET per object costs a round trip per item (10,000 dashboards: 10,000 requests). The list
endpoints answer many objects at once and, asked for `fields`, only what a comparison needs.
`LIST_ENDPOINTS` says which endpoint serves each type and whether it pages (`limit`/`offset` in
Looker's spec; `all_scheduled_plans` has none and answers everything at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from restore.engine.core.content_types import ContentType

CT = ContentType
PAGE_SIZE = 500
NESTED_PAGE_SIZE = 100  # dashboards and boards carry their tiles/sections: smaller pages


@dataclass(frozen=True)
class ListEndpoint:
    path: str
    paged: bool  # limit/offset in the spec; else one request answers all
    params: tuple[tuple[str, str], ...] = ()


LIST_ENDPOINTS: dict[ContentType, ListEndpoint] = {
    CT.DASHBOARD: ListEndpoint("/dashboards/search", True),
    CT.LOOK: ListEndpoint("/looks/search", True),
    CT.FOLDER: ListEndpoint("/folders/search", True),
    CT.BOARD: ListEndpoint("/boards/search", True),
    CT.USER: ListEndpoint("/users/search", True),
    CT.GROUP: ListEndpoint("/groups/search", True),
    CT.ROLE: ListEndpoint("/roles/search", True),
    CT.PERMISSION_SET: ListEndpoint("/permission_sets/search", True),
    CT.MODEL_SET: ListEndpoint("/model_sets/search", True),
    CT.LOOKML_MODEL: ListEndpoint("/lookml_models", True),
    # all_scheduled_plans has no paging in the spec; all_users=true: everyone's, not only ours
    CT.SCHEDULED_PLAN: ListEndpoint("/scheduled_plans", False, (("all_users", "true"),)),
}
NESTED_TYPES = frozenset({CT.DASHBOARD, CT.BOARD})


def read_pages(
    client: Any,
    ct: ContentType,
    fields: list[str],
    *,
    page_size: int | None = None,
    max_pages: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every object of a type the destination answers, `fields` only, page after page (sorted
    by ID, so a page boundary is stable). Stops at the first short page, or after `max_pages`
    (a caller that reads the rest alone bounds what pages may cost it)."""
    endpoint = LIST_ENDPOINTS[ct]
    params: dict[str, Any] = dict(endpoint.params)
    if fields:
        params["fields"] = ",".join(fields)
    if not endpoint.paged:
        yield from client.get(endpoint.path, params) or []
        return
    size = page_size or (NESTED_PAGE_SIZE if ct in NESTED_TYPES else PAGE_SIZE)
    if ct != CT.LOOKML_MODEL:
        params["sorts"] = "id"
    offset, read = 0, 0
    while max_pages is None or read < max_pages:
        page = client.get(endpoint.path, {**params, "limit": size, "offset": offset}) or []
        read += 1
        yield from page
        if len(page) < size:
            return
        offset += size
