"""The persistent source→destination ID map, with a per-session cache in front of the database.

Keyed by (source instance, destination, content type, source ID). Same-instance restores record
identity rows too, so an object recreated under a new ID is followed by everything that refers to it.
"""

from __future__ import annotations

import threading
import urllib.parse

from restore.engine import row_sql
from restore.engine.content_types import ContentType


def instance_key(url: str) -> str:
    """Normalise a Looker URL to scheme://host[:port] (what identifies an instance)."""
    text = (url or "").strip()
    if "://" not in text:
        text = "https://" + text
    parts = urllib.parse.urlsplit(text)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}" if host else ""


def same_instance(source_instance: str, destination_url: str) -> bool:
    src = instance_key(source_instance)
    return bool(src) and src == instance_key(destination_url)


# Entries kept in memory when the database has them all: beyond it the oldest are dropped (and read
# again if needed), so a 50,000-item session uses no more memory than a 5,000-item one.
CACHE_LIMIT = 10_000
UNIQUE_FIELDS = ["source_instance", "destination_instance", "content_type", "source_id"]


class IdMap:
    """Lookups and records against IDMapping.

    `persist=False` keeps it in memory only (rollback, tests). `write=False` (dry runs) reads the
    database but keeps what the plan would map in memory, so later items resolve like in a real run.
    """

    def __init__(
        self,
        source_instance: str,
        destination,
        session=None,
        *,
        persist: bool = True,
        write: bool = True,
    ):
        self.source_instance = source_instance
        self.destination = destination
        self.session = session
        self.persist = persist
        self.write = write
        self._cache: dict[tuple[int, str], str] = {}
        self._targets: dict[int, set[str]] = {}  # destination IDs per type, for reverse lookups
        self._lock = threading.Lock()

    def get(self, ct: ContentType, source_id: str) -> str | None:
        key = (int(ct), str(source_id))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        if not self.persist:
            return None
        from restore.models import IDMapping

        found = row_sql.select_one(IDMapping, ["destination_id"], self._key(ct, source_id))
        row = found["destination_id"] if found else None
        if row is not None:
            with self._lock:
                self._remember(key, row)
        return row

    def _remember(self, key: tuple[int, str], destination_id: str) -> None:
        """Cache an entry (under the lock); bounded only when the database holds every entry."""
        self._cache[key] = destination_id
        targets = self._targets.setdefault(key[0], set())
        targets.add(destination_id)
        if not (self.persist and self.write):
            return
        while len(self._cache) > CACHE_LIMIT:
            del self._cache[next(iter(self._cache))]
        if len(targets) > CACHE_LIMIT:
            targets.clear()  # knows_destination asks the database instead

    def record(self, ct: ContentType, source_id: str, destination_id: str) -> None:
        key = (int(ct), str(source_id))
        with self._lock:
            if self._cache.get(key) == str(destination_id):
                return
            self._remember(key, str(destination_id))
        if not (self.persist and self.write):
            return
        from restore.models import IDMapping

        # One upsert (INSERT ... ON CONFLICT DO UPDATE) instead of SELECT + INSERT/UPDATE.
        row_sql.insert(
            IDMapping,
            {
                **self._key(ct, source_id),
                "destination_id": str(destination_id),
                "session": getattr(self.session, "pk", None),
            },
            conflict=UNIQUE_FIELDS,
            update=["destination_id", "session", "updated_at"],
        )

    def _key(self, ct: ContentType, source_id: str) -> dict[str, object]:
        return {
            "source_instance": self.source_instance,
            "destination_instance": getattr(self.destination, "pk", self.destination),
            "content_type": int(ct),
            "source_id": str(source_id),
        }

    def knows_destination(self, ct: ContentType, destination_id: str) -> bool:
        """Is this destination object the counterpart of some backup object (any session)?"""
        with self._lock:
            if str(destination_id) in self._targets.get(int(ct), set()):
                return True
        if not self.persist:
            return False
        from restore.models import IDMapping

        return IDMapping.objects.filter(
            source_instance=self.source_instance,
            destination_instance=self.destination,
            content_type=int(ct),
            destination_id=str(destination_id),
        ).exists()
