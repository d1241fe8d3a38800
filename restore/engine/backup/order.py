"""Dependency order inside one content type, built from the references in each object.

Only folders refer to their own type (`parent_id`); other types' references point at earlier levels
of RESTORE_ORDER. Parents come before children; a cycle (corrupt or hand-edited data) never loops:
its members follow in ID order, are created without the reference, and get it in a second pass.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from restore.engine.core.content_types import ContentType

SELF_REFERENCES: dict[ContentType, Callable[[dict[str, Any]], list[str]]] = {
    ContentType.FOLDER: lambda c: [str(c["parent_id"])] if c.get("parent_id") else [],
}


def _content(item: Any) -> dict[str, Any]:
    try:
        return item.content or {}
    except Exception:  # a corrupt blob fails later, as its own item  # noqa: BLE001
        return {}


def topological(ids: Sequence[str], deps: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Kahn's algorithm: (ordered IDs, IDs left in cycles). Dependencies outside `ids` are ignored."""
    known = set(ids)
    children: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(ids, 0)
    for i in ids:
        for d in deps.get(i, []):
            if d in known and d != i:
                children[d].append(i)
                indegree[i] += 1
    queue = deque(i for i in ids if indegree[i] == 0)
    order = []
    while queue:
        node = queue.popleft()
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    cyclic = [i for i in ids if indegree[i] > 0]
    return order, cyclic


class ItemReader(Protocol):
    def iter_items(self, selection: Any) -> Iterable[Any]: ...

    def items_by_stored_ids(self, ct: ContentType, stored_ids: Sequence[str]) -> Iterator[Any]: ...


def ordered_items(
    reader: ItemReader, ct: ContentType, selection: Any
) -> tuple[Iterator[Any], set[str]]:
    """A self-referencing level's items, parents first, and its cycle members.

    Only the IDs and references are held while ordering, then the items are read again in that
    order: a backup with 7,000 folders held all of them (~14 MB) for the whole level.
    """
    refs = SELF_REFERENCES[ct]
    stored: dict[str, str] = {}
    deps: dict[str, list[str]] = {}
    for item in reader.iter_items(selection):
        stored[str(item.id)] = item.raw_id
        deps[str(item.id)] = refs(_content(item))
    order, cyclic = topological(list(stored), deps)
    return reader.items_by_stored_ids(ct, [stored[i] for i in order + cyclic]), set(cyclic)
