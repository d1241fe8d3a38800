"""The persistent source→destination ID map, trusted only on evidence, with a per-session cache.

Keyed by (destination, content type, source ID). lookervault records no source instance, so the
map cannot be keyed by one; instead every entry keeps the destination object's immutable fields
(`identity.evidence`) as they were when it was recorded, and an entry from an earlier session is
used only after the destination object has been checked against them: an entry whose object was
deleted, or whose ID now holds something else (the instance was reset), is not trusted. Types
without immutable fields (groups, roles, permission and model sets) keep their name at recording
time as weak evidence: the entry holds while the object still bears that name or the backup's.
Within one session an object is the counterpart of one backup item only (`claim`); across
sessions writing into one destination at once, a backup item is restored by one of them only
(`hold`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from restore.engine.core import row_sql
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import RestoreError

# The source key of every entry: backups carry no trustworthy source identity (see above).
SOURCE_KEY = ""

# Entries kept in memory when the database has them all: beyond it the oldest are dropped (and read
# again if needed), so a 50,000-item session uses no more memory than a 5,000-item one.
CACHE_LIMIT = 10_000
UNIQUE_FIELDS = ["source_instance", "destination_instance", "content_type", "source_id"]
CLAIM_KEY = ["destination", "content_type", "source_id"]  # ItemClaim's unique constraint

# verifier(type, source ID, destination ID, recorded evidence) → is the entry still true?
Verifier = Callable[[ContentType, str, str, dict[str, Any] | None], bool]


class IdMap:
    """Lookups and records against IDMapping.

    `persist=False` keeps it in memory only (rollback, tests). `write=False` (dry runs) reads the
    database but keeps what the plan would map in memory, so later items resolve like in a real run.
    `verifier` checks entries of earlier sessions (None: trusted as they are, e.g. in a rollback,
    whose entries are the session's own).
    """

    def __init__(
        self,
        destination,
        session=None,
        *,
        persist: bool = True,
        write: bool = True,
        verifier: Verifier | None = None,
    ):
        self.destination = destination
        self.session = session
        self.persist = persist
        self.write = write
        self.verifier = verifier
        # (type, source ID) → destination ID, for entries recorded or verified in this session
        self._cache: dict[tuple[int, str], str] = {}
        self._rejected: set[tuple[int, str, str]] = set()  # (type, source ID, destination ID)
        self._claims: dict[tuple[int, str], str] = {}  # (type, destination ID) → source ID
        self._held: set[tuple[int, str]] = set()  # (type, source ID) held for this session
        self._lock = threading.Lock()
        self._thread = threading.local()  # `.first`: the item this thread's last hold claimed first

    # -- lookups ------------------------------------------------------------------------------------
    def get(self, ct: ContentType, source_id: str) -> str | None:
        """The destination ID of a backup object, only when the entry is trusted."""
        key = (int(ct), str(source_id))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        entry = self.stored(ct, source_id)
        if entry is None:
            return None
        dest_id, recorded, ours = entry
        if (key[0], key[1], dest_id) in self._rejected:
            return None
        checked = ours or self.verifier is None
        if not checked and not self.verifier(ct, key[1], dest_id, recorded):
            self.reject(ct, key[1], dest_id)
            return None
        if not self.claim(ct, dest_id, key[1]):
            self.reject(ct, key[1], dest_id)
            return None
        with self._lock:
            self._remember(key, dest_id)
        return dest_id

    def get_cached(self, ct: ContentType, source_id: str) -> str | None:
        """An entry recorded or verified in this session (no database, no check)."""
        with self._lock:
            return self._cache.get((int(ct), str(source_id)))

    def is_rejected(self, ct: ContentType, source_id: str, destination_id: str) -> bool:
        with self._lock:
            return (int(ct), str(source_id), str(destination_id)) in self._rejected

    def stored(
        self, ct: ContentType, source_id: str
    ) -> tuple[str, dict[str, Any] | None, bool] | None:
        """The entry as the database holds it (unverified): destination ID, its evidence, and
        whether this session recorded it (then it needs no check)."""
        if not self.persist:
            return None
        from restore.models import IDMapping

        row = row_sql.select_one(
            IDMapping, ["destination_id", "evidence", "session"], self._key(ct, source_id)
        )
        if row is None:
            return None
        return (
            row["destination_id"],
            row["evidence"],
            row["session"] == getattr(self.session, "pk", False),
        )

    def trust(self, ct: ContentType, source_id: str, destination_id: str) -> bool:
        """Accept an entry checked by the caller (it fetched the object anyway)."""
        if not self.claim(ct, destination_id, source_id):
            self.reject(ct, source_id, destination_id)
            return False
        with self._lock:
            self._remember((int(ct), str(source_id)), str(destination_id))
        return True

    def reject(self, ct: ContentType, source_id: str, destination_id: str) -> None:
        with self._lock:
            self._rejected.add((int(ct), str(source_id), str(destination_id)))

    def claim(self, ct: ContentType, destination_id: str, source_id: str) -> bool:
        """Make `destination_id` the counterpart of `source_id` for this session; False when
        another backup item holds it already (two items never map onto one live object)."""
        with self._lock:
            holder = self._claims.setdefault((int(ct), str(destination_id)), str(source_id))
        return holder == str(source_id)

    def hold(self, ct: ContentType, source_id: str) -> int | None:
        """Hold a backup item for this session before it is looked up and written; None when it
        is this session's, else the ID of the active session writing it into this destination.
        Dry runs and in-memory maps write nothing and hold nothing."""
        self._thread.first = None
        if not (self.persist and self.write) or self.session is None:
            return None
        key = (int(ct), str(source_id))
        with self._lock:
            if key in self._held:
                return None
        destination = getattr(self.destination, "pk", self.destination)
        holder, first = hold_item(destination, self.session.pk, key)
        if holder is None:
            with self._lock:
                self._held.add(key)
            if first:
                self._thread.first = key
        return holder

    def held_first(self, ct: ContentType, source_id: str) -> bool:
        """Did this thread's last `hold` claim the item in this destination for the first time?
        Then no session (still recorded) ever held it there, so none can have written it: no
        earlier POST of it can have gone through unseen. Asked within the attempt that held it:
        any later hold by this thread (a retry, a dependency restored on the way) answers for
        its own item."""
        return getattr(self._thread, "first", None) == (int(ct), str(source_id))

    def claimed_by_other(self, ct: ContentType, destination_id: str, source_id: str) -> bool:
        """Is this destination object another backup item's counterpart (this session, or a
        trusted entry of an earlier one)?"""
        with self._lock:
            holder = self._claims.get((int(ct), str(destination_id)))
        if holder is not None:
            return holder != str(source_id)
        for other in self._sources_of(ct, destination_id):
            if other != str(source_id) and self.get(ct, other) == str(destination_id):
                return True
        return False

    def _sources_of(self, ct: ContentType, destination_id: str) -> list[str]:
        if not self.persist:
            return []
        from restore.models import IDMapping

        return list(
            IDMapping.objects.filter(
                source_instance=SOURCE_KEY,
                destination_instance=self.destination,
                content_type=int(ct),
                destination_id=str(destination_id),
            ).values_list("source_id", flat=True)[:10]
        )

    def _remember(self, key: tuple[int, str], destination_id: str) -> None:
        """Cache an entry (under the lock); bounded only when the database holds every entry."""
        self._cache[key] = destination_id
        if not (self.persist and self.write):
            return
        while len(self._cache) > CACHE_LIMIT:
            del self._cache[next(iter(self._cache))]

    # -- records ------------------------------------------------------------------------------------
    def record(
        self,
        ct: ContentType,
        source_id: str,
        destination_id: str,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        """Map a backup object to its destination counterpart, with the destination object's
        immutable fields (what a later session checks before trusting the entry)."""
        key = (int(ct), str(source_id))
        with self._lock:
            self._claims.setdefault((key[0], str(destination_id)), key[1])
            if self._cache.get(key) == str(destination_id) and evidence is None:
                return
            self._remember(key, str(destination_id))
        if not (self.persist and self.write) or str(destination_id).startswith("("):
            return
        from restore.models import IDMapping

        # One upsert (INSERT ... ON CONFLICT DO UPDATE) instead of SELECT + INSERT/UPDATE.
        row_sql.insert(
            IDMapping,
            {
                **self._key(ct, source_id),
                "destination_id": str(destination_id),
                "evidence": evidence or None,
                "session": getattr(self.session, "pk", None),
            },
            conflict=UNIQUE_FIELDS,
            update=["destination_id", "evidence", "session", "updated_at"],
        )

    def forget(self, ct: ContentType, destination_id: str) -> int:
        """Remove the entries that point at a destination object (it was deleted)."""
        with self._lock:
            for key in [
                k for k, v in self._cache.items() if k[0] == int(ct) and v == destination_id
            ]:
                del self._cache[key]
            self._claims.pop((int(ct), str(destination_id)), None)
        if not (self.persist and self.write):
            return 0
        from restore.models import IDMapping

        deleted, _ = IDMapping.objects.filter(
            destination_instance=self.destination,
            content_type=int(ct),
            destination_id=str(destination_id),
        ).delete()
        return deleted

    def _key(self, ct: ContentType, source_id: str) -> dict[str, object]:
        return {
            "source_instance": SOURCE_KEY,
            "destination_instance": getattr(self.destination, "pk", self.destination),
            "content_type": int(ct),
            "source_id": str(source_id),
        }

    def knows_destination(self, ct: ContentType, destination_id: str) -> bool:
        """Is this destination object the counterpart of some backup object (any session)?"""
        with self._lock:
            if (int(ct), str(destination_id)) in self._claims:
                return True
        if not self.persist:
            return False
        from restore.models import IDMapping

        return IDMapping.objects.filter(
            destination_instance=self.destination,
            content_type=int(ct),
            destination_id=str(destination_id),
        ).exists()


def hold_item(
    destination_id: int, session_id: int, key: tuple[int, str]
) -> tuple[int | None, bool]:
    """The item's claim row, made or taken over for `session_id` (its holder ended) by statements
    a concurrent session cannot interleave with: the unique row, and a conditional UPDATE.

    Returns the session holding it instead (None: `session_id` holds it now) and whether the row
    was made just now (no session held it in this destination before)."""
    from restore.models import ItemClaim, RestoreSession

    fields = {"destination_id": destination_id, "content_type": key[0], "source_id": key[1]}
    claim = {"destination": destination_id, "content_type": key[0], "source_id": key[1]}
    for _ in range(5):
        # The usual case, a new claim, in one statement (an ORM lookup and create per written
        # item were a sixth of a restore's CPU); a kept row is read below.
        if row_sql.insert(ItemClaim, {**claim, "session": session_id}, conflict=CLAIM_KEY):
            return None, True
        row = (
            ItemClaim.objects.filter(**fields)
            .values_list("pk", "session_id", "session__status")
            .first()
        )
        if row is None:
            continue  # its holder's session was deleted in between: make it again
        pk, holder, status = row
        if holder == session_id:
            return None, False
        if status == RestoreSession.Status.RUNNING:  # a pending one restores nothing yet
            return holder, False
        if ItemClaim.objects.filter(pk=pk, session_id=holder).update(session_id=session_id):
            return None, False
    raise RestoreError(f"could not hold item {key[1]}: other sessions kept taking it")
