"""What one item's restore needs: the client, the ID map, the options, and a dry-run-aware writer.

Every write goes through `RestoreContext.write`. In a dry run it records the change and returns a
stand-in object instead of sending anything, so the plan comes from the same code as the real run.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from restore.engine.core import documents, row_sql
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import ContentType
from restore.engine.core.diffs import field_diff
from restore.engine.core.errors import LookerApiError
from restore.engine.identity.idmap import IdMap
from restore.engine.limits.db_budget import release_idle
from restore.engine.limits.retries import describe_failure
from restore.engine.looker.client import LookerClient

RETRIES_KEPT = 50  # retried attempts kept per item; the session's tally counts them all


class SourceItem(Protocol):
    """A backup item as the backup reader yields it."""

    content_type: ContentType
    id: str
    content: dict[str, Any]


class ItemSource(Protocol):
    """Where `--with-dependencies` finds the items an item refers to."""

    def get_item(self, content_type: ContentType, item_id: str) -> SourceItem | None: ...


@dataclass
class ItemOutcome:
    """What `restore_item` did (or, in a dry run, would do) to one item."""

    action: str  # created, updated, unchanged, skipped, blocked (failures raise)
    content_type: ContentType
    source_id: str
    name: str = ""
    destination_id: str = ""
    message: str = ""
    changes: list[dict[str, Any]] = field(default_factory=list)
    pre_image: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    verify_diff: dict[str, Any] | None = None
    # References left for the second pass (to types restored later); non-empty → run it again.
    deferred: list[str] = field(default_factory=list)
    # The session whose result row for the item is, as yet, this attempt's create intent exactly
    # as written (no earlier attempt left one): its outcome is recorded without reading it back.
    intent_session: int | None = None


@dataclass
class Change:
    """One write the item needs: method, path, and the fields it changes."""

    method: str
    path: str
    body: Any
    fields: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.fields is not None:
            out["fields"] = self.fields
        elif self.body is not None:
            out["body"] = self.body
        return out


class WriteWhileProbing(Exception):
    """A write asked for while an item is compared against a page answer (`probing`): the item
    is not unchanged, and is read alone before anything is written."""


@dataclass
class RestoreContext:
    client: LookerClient
    idmap: IdMap
    config: RestoreConfig
    same_instance: bool
    # Types of which the session's sample found a backup object under its own ID in the
    # destination; on another instance, items of other types skip the lookup by their own ID
    # (a migration into a fresh instance saves a request per item). None: look up every type.
    ids_may_match: frozenset[str] | None = None
    source: ItemSource | None = None
    # Queries the backup carries anywhere, by query ID (`backup.queries.QueryIndex`), for looks and
    # tiles stored without their own query; None: none consulted.
    queries: Any = None
    # The instance the backup came from, read only (`looker.source.SourceInstance`), or None.
    origin: Any = None
    session: Any = None  # RestoreSession, when there is one (intents, results)
    # Restores a dependency on the way (--with-dependencies): `item.restore.restore_nested`, set
    # by whoever opens the context, so reference translation needs no import of the item restore.
    restore_nested: Callable[[RestoreContext, SourceItem], ItemOutcome] | None = None
    # Called with each dependency outcome restored on the way (--with-dependencies).
    on_dependency: Callable[[ItemOutcome], None] | None = None
    # First pass of a session: references to later types that are not mapped yet are deferred.
    first_pass: bool = False
    # (type, source ID) of items in a reference cycle: created without it, fixed in the second pass.
    cycle_members: set[tuple[ContentType, str]] = field(default_factory=set)
    compat: Any = None  # compat.Compatibility of the destination, once checked
    # Folders this run created: nothing of the backup can be in them yet, so items going there
    # skip the natural-key search on their first attempt (two requests for a look or dashboard).
    fresh_folders: set[str] = field(default_factory=set)
    # (type, destination ID) of the looks and dashboards this run created: no schedule is on them
    # yet, so a schedule of theirs skips the search by name on its first attempt.
    fresh_content: set[tuple[ContentType, str]] = field(default_factory=set)
    # Rollback: a reference to an object that no longer exists is left as it is (with a warning)
    # instead of failing the item; the pre-image may point at objects deleted before the restore.
    lenient: bool = False
    # Told of every transient error that is retried (the session's tally of retries).
    retry_listener: Callable[[BaseException], None] | None = None
    # The destination read in pages for "unchanged" detection (`item.paged.DestinationPages`), or
    # None: every object read alone. Every write below tells it which object it changes.
    pages: Any = None
    _fake_ids: Any = field(default_factory=lambda: itertools.count(1))
    _local: threading.local = field(default_factory=threading.local)
    _cache: dict[Any, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def dry_run(self) -> bool:
        return self.config.dry_run

    # -- per-item change log (thread-local: workers restore items in parallel) -------------------
    def begin_item(self) -> list[Change]:
        self._local.changes = []
        self._local.warnings = []
        self._local.deferred = []
        return self._local.changes

    def defer(self, what: str) -> None:
        if not hasattr(self._local, "deferred"):
            self._local.deferred = []
        self._local.deferred.append(what)

    @property
    def deferred(self) -> list[str]:
        return getattr(self._local, "deferred", [])

    @property
    def changes(self) -> list[Change]:
        return getattr(self._local, "changes", [])

    def warn(self, message: str) -> None:
        if not hasattr(self._local, "warnings"):
            self._local.warnings = []
        if message not in self._local.warnings:
            self._local.warnings.append(message)

    @property
    def warnings(self) -> list[str]:
        return getattr(self._local, "warnings", [])

    # -- retried errors ---------------------------------------------------------------------------
    def begin_retries(self) -> list[documents.Attempt]:
        """The current item's retried attempts, from here on (its sub-requests' too)."""
        self._local.retries = []
        return self._local.retries

    def note_retry(self, exc: BaseException) -> None:
        """A transient error that is retried: kept with the current item, told to the session."""
        attempts = getattr(self._local, "retries", None)
        if attempts is not None and len(attempts) < RETRIES_KEPT:
            attempts.append(describe_failure(exc))
        if self.retry_listener is not None:
            self.retry_listener(exc)

    # -- writes -----------------------------------------------------------------------------------
    def write(
        self, method: str, path: str, body: Any = None, current: dict[str, Any] | None = None
    ) -> Any:
        """Send a write (or record it in a dry run). PATCH bodies are diffed against `current`.

        A write Looker refused (a 4xx answer) changed nothing and is not kept among the item's
        changes: a rollback must not undo what was never written. One whose outcome is unknown
        (a 5xx, a dropped connection) is kept: it may have gone through."""
        if getattr(self._local, "probing", False):
            raise WriteWhileProbing(f"{method} {path}")
        if self.pages is not None:
            self.pages.forget(path)
        fields = field_diff(body, current) if method == "PATCH" and isinstance(body, dict) else None
        change = Change(method, path, body, fields)
        self.changes.append(change)
        if self.dry_run:
            return self._stand_in(method, body, current)
        verb = {"POST": self.client.post, "PATCH": self.client.patch, "PUT": self.client.put}
        try:
            if method == "DELETE":
                return self.client.delete(path)
            return verb[method](path, body)
        except LookerApiError as exc:
            if not exc.transient:
                self.changes.remove(change)
            raise

    @contextlib.contextmanager
    def probing(self) -> Iterator[None]:
        """While an item is compared against a page answer: a write raises `WriteWhileProbing`
        instead of being sent or recorded (restoring a dependency on the way lifts it)."""
        before = getattr(self._local, "probing", False)
        self._local.probing = True
        try:
            yield
        finally:
            self._local.probing = before

    @contextlib.contextmanager
    def not_probing(self) -> Iterator[None]:
        """A dependency restored on the way writes as it would anyway."""
        before = getattr(self._local, "probing", False)
        self._local.probing = False
        try:
            yield
        finally:
            self._local.probing = before

    def _stand_in(self, method: str, body: Any, current: dict[str, Any] | None) -> Any:
        if method == "POST" and isinstance(body, dict):
            return {**body, "id": f"(new {next(self._fake_ids)})"}
        if method == "PATCH" and isinstance(body, dict):
            return {**(current or {}), **body}
        return body

    def key_lock(self, key: Any) -> threading.RLock:
        """One lock per key (e.g. a dependency being restored), shared by all workers. The caller
        may wait on it: it holds no pooled database connection meanwhile (the holder may need one)."""
        release_idle()
        with self._lock:
            return self._cache.setdefault(("lock", key), threading.RLock())

    def active_dependencies(self) -> set[Any]:
        """Dependencies this thread is restoring right now (to refuse cycles, not recurse)."""
        if not hasattr(self._local, "active"):
            self._local.active = set()
        return self._local.active

    def attempted_before(self, ct: Any, source_id: str) -> bool:
        """Has this session tried the item before (a retry, a resume, a DLQ retry)? Then an earlier
        POST may have gone through unseen: the object must be looked up before creating it."""
        if self.session is None:
            return True
        if self.idmap.held_first(ct, source_id):
            return False  # held here for the first time by this attempt: no earlier POST
        from restore.models import RestoreItemResult

        key = {"session": self.session.pk, "content_type": int(ct), "source_id": source_id}
        return row_sql.exists(RestoreItemResult, key)

    def not_restored(self, ct: Any, source_id: str) -> str | None:
        """ "blocked" or "failed" when this session tried the item and could not restore it (a
        reference to it then says so, instead of "restore it first"); None otherwise."""
        if self.session is None:
            return None
        from restore.models import RestoreItemResult

        key = {"session": self.session.pk, "content_type": int(ct), "source_id": source_id}
        row = row_sql.select_one(RestoreItemResult, ["action"], key)
        action = row["action"] if row else None
        return action if action in ("blocked", "failed") else None

    # -- small shared caches (lookups by natural key, existence checks) ---------------------------
    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """`compute()` once per key, even when several workers ask at the same moment (the others
        wait for the first one's answer instead of sending the same lookup)."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        with self.key_lock(("cached", key)):
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            value = compute()
            with self._lock:
                self._cache[key] = value
                self._cache.pop(("lock", ("cached", key)), None)
        return value

    def cached_value(self, key: Any) -> Any:
        with self._lock:
            return self._cache.get(key)

    def remember(self, key: Any, value: Any) -> None:
        with self._lock:
            self._cache[key] = value
