"""Read a whole Looker instance through the API into backup-shaped items (what lookervault stores).

Used by tests to compare an instance with a backup, and as an item source before a SQLite backup exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from restore.engine.core.content_types import API_PATHS, RESTORE_ORDER, ContentType
from restore.engine.looker.client import LookerClient

CT = ContentType

LIST_PATHS = API_PATHS
DEEP = {CT.LOOK, CT.DASHBOARD}


@dataclass
class Item:
    content_type: ContentType
    id: str
    content: dict[str, Any]
    name: str = ""


def snapshot(client: LookerClient, types: tuple[ContentType, ...] = RESTORE_ORDER) -> list[Item]:
    items = []
    for ct in types:
        params = {"all_users": "true"} if ct == CT.SCHEDULED_PLAN else None
        for row in client.get(LIST_PATHS[ct], params) or []:
            key = row.get("name") if ct == CT.LOOKML_MODEL else row.get("id")
            content = client.get(f"{LIST_PATHS[ct]}/{key}") if ct in DEEP else row
            items.append(
                Item(ct, str(key), content, content.get("title") or content.get("name") or "")
            )
    return items


class MemorySource:
    """An item source over a list of items (the backup reader's get_item/iter_items contract)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self._by_key = {(int(i.content_type), str(i.id)): i for i in items}

    def get_item(self, content_type: ContentType, item_id: str) -> Item | None:
        return self._by_key.get((int(content_type), str(item_id).split("::")[-1]))

    def iter_items(self, content_type: ContentType | None = None):
        for i in self.items:
            if content_type is None or i.content_type == content_type:
                yield i
