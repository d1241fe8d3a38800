"""Dependency order inside one content type, built from the references in each object.

Only folders refer to their own type (`parent_id`); other types' references point at earlier levels
of RESTORE_ORDER. Parents come before children; a cycle (corrupt or hand-edited data) never loops:
its members follow in ID order, are created without the reference, and get it in a second pass.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

from restore.engine.content_types import ContentType

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


def dependency_order(ct: ContentType, items: list[Any]) -> tuple[list[Any], set[str]]:
    """Items of one type, each after the items of that type it refers to; and the cycle members.

    Cycle members come last; the restore creates them without the self-reference and sets it in
    the second pass (see `references.cycle_ref`).
    """
    refs = SELF_REFERENCES.get(ct)
    if refs is None:
        return items, set()
    by_id = {str(i.id): i for i in items}
    deps = {str(i.id): refs(_content(i)) for i in items}
    order, cyclic = topological(list(by_id), deps)
    return [by_id[i] for i in order + cyclic], set(cyclic)
