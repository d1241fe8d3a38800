"""A restore's "unchanged" detection from the destination read in pages, as the drift check reads it.

Finding a backup item's destination object costs a GET per item; on the instance the backup came
from most items are unchanged, so that GET is most of a no-op restore's requests. When a session
restores many items of a type, the type's destination objects are read once a page at a time
(`looker.pages`: `search_*` / `all_*` with `fields`, 100–500 objects per request) into a per-session
index the worker threads share. `item.restore.locate` takes an object from the index as it takes a
GET's answer (`PageAnswer`): the same identity checks, the same evidence.

Only an item the page answer shows unchanged (or left alone: built-in, modified since) is answered
from it. An item that needs a write, or whose page answer lacks a field the comparison reads, is
read again alone before anything is written, so every write starts from a fresh, complete
pre-image. Objects of types with sub-resources (users, roles, dashboards, boards) are always read
alone. An object this session wrote (any write through `RestoreContext.write` to its path, nested
dependencies and second passes included) is never answered from the index again, and an object
the pages did not list is read alone: "does not exist" is only ever a GET's 404.

Each process of a distributed run builds its own index (one per type and process).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from restore.engine.backup.compare import item_content
from restore.engine.core.content_types import ContentType
from restore.engine.identity.evidence import EVIDENCE_FIELDS, WITHOUT_EVIDENCE
from restore.engine.limits.db_budget import release_idle
from restore.engine.looker.pages import LIST_ENDPOINTS, read_pages

Body = dict[str, Any]
CT = ContentType
PAGE_MIN_ITEMS = 20  # a type with fewer selected items keeps its GET per item
PAGE_COST = 5  # pages read per type at most: selected items / PAGE_COST (≤ 0.2 requests/item)
MAX_AGE_S = 600.0  # a type's pages are read again after this long (a long level, a second pass)
FIELDS_SAMPLED = 200  # backup items whose fields make up a type's `fields=`
KEYED_BY = {CT.LOOKML_MODEL: "name"}  # a LookML model's ID is its name
# What the restore reads of the destination object beyond the backup item's own fields.
ALSO_READ = ("id", "updated_at", "built_in")


class PageAnswer(dict):  # type: ignore[type-arg]
    """A destination object as a page answered it (only the `fields` asked for): evidence like a
    GET's answer, but never a pre-image."""


class DestinationPages:
    """The destination objects of the session's large types, read in pages on first use."""

    def __init__(self, selected: Mapping[ContentType, int], source: Any = None) -> None:
        self.selected = {ct: n for ct, n in selected.items() if n >= PAGE_MIN_ITEMS}
        self.source = source  # the backup reader: a sample of its items makes up `fields=`
        self._index: dict[ContentType, tuple[float, dict[str, Body]]] = {}
        self._written: set[str] = set()
        self._lock = threading.Lock()
        self._reading: dict[ContentType, threading.Lock] = {}

    def pages_type(self, ct: ContentType, has_children: bool) -> bool:
        """Is `ct` read in pages? Many items selected, a list endpoint, no sub-resources."""
        return ct in self.selected and ct in LIST_ENDPOINTS and not has_children

    def lookup(self, client: Any, ct: ContentType, path: str, dest_id: str, content: Body) -> Body:
        """The page answer for `dest_id` (at `path`), or {} when it must be read alone: not
        listed, written by this session, or lacking a field identity compares."""
        if self.written(path):
            return {}
        found = self._objects(client, ct).get(str(dest_id))
        if found is None or not holds_evidence(ct, content, found):
            return {}
        return PageAnswer(found)

    def written(self, path: str) -> bool:
        with self._lock:
            return object_key(path) in self._written

    def forget(self, path: str) -> None:
        """A write to `path` (before it is sent): its object is read alone from now on."""
        key = object_key(path)
        if key:
            with self._lock:
                self._written.add(key)

    def _objects(self, client: Any, ct: ContentType) -> dict[str, Body]:
        """The type's index, read once (the other workers wait for it rather than read it too;
        holding no pooled database connection meanwhile) and again once it is `MAX_AGE_S` old."""
        with self._lock:
            if (kept := self._fresh(ct)) is not None:
                return kept
            reading = self._reading.setdefault(ct, threading.Lock())
        release_idle()
        with reading:
            with self._lock:
                if (kept := self._fresh(ct)) is not None:
                    return kept
            objects = self._read(client, ct)
            with self._lock:
                self._index[ct] = (time.monotonic(), objects)
        return objects

    def _fresh(self, ct: ContentType) -> dict[str, Body] | None:
        read_at, objects = self._index.get(ct, (0.0, None))
        return objects if objects is not None and time.monotonic() - read_at < MAX_AGE_S else None

    def _read(self, client: Any, ct: ContentType) -> dict[str, Body]:
        key = KEYED_BY.get(ct, "id")
        max_pages = max(1, math.ceil(self.selected[ct] / PAGE_COST))
        pages = read_pages(client, ct, self.fields(ct), max_pages=max_pages)
        return {
            str(obj[key]): obj
            for obj in pages
            if isinstance(obj, dict) and obj.get(key) is not None
        }

    def fields(self, ct: ContentType) -> list[str]:
        """`fields=`: what a sample of the backup's items holds that counts, what identity
        compares, and what deciding to leave an object alone reads."""
        names = {KEYED_BY.get(ct, "id"), *ALSO_READ, *evidence_names(ct)}
        for content in self._sample(ct):
            names.update(item_content(ct, content))
        names.discard("")
        return sorted(names)

    def _sample(self, ct: ContentType) -> Iterable[Body]:
        if self.source is None or not hasattr(self.source, "iter_items"):
            return []
        from restore.engine.backup.reader import Selection

        out = []
        for item in self.source.iter_items(Selection(content_types=[ct])):
            if item.error is None:
                out.append(item.content)
            if len(out) >= FIELDS_SAMPLED:
                break
        return out


def evidence_names(ct: ContentType) -> set[str]:
    """The top-level fields identity reads of a destination object of type `ct`."""
    if ct in WITHOUT_EVIDENCE:
        return {"name"}
    return set(EVIDENCE_FIELDS.get(ct, "").split(",")) - {""}


def holds_evidence(ct: ContentType, content: Body, found: Body) -> bool:
    """Does the page answer hold every field identity compares (that the backup item holds)?
    Without them the evidence would be missing, not different: such an object is read alone."""
    return all(name in found for name in evidence_names(ct) if name in content)


def holds(found: Body, names: Iterable[str]) -> bool:
    return all(name in found for name in names)


def object_key(path: str) -> str:
    """`/looks/12` of `/looks/12` or `/looks/12/...`; "" for a path that names no object."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    return f"/{parts[0]}/{parts[1]}" if len(parts) >= 2 and parts[1] else ""
