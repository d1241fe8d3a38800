"""Read lookervault backups: the project's input. Read-only, verified, streamed in bounded memory.

    with open_backup("backup.db") as reader:          # BackupError subclasses if unusable
        report = reader.verify()                        # VerificationReport(ok, problems, counts…)
        reader.counts()                                 # {ContentType: n}
        for item in reader.iter_items(Selection(content_types=["dashboard"], search="sales")):
            if item.error:                              # this blob does not decode: DLQ it
                ...
            item.content                                # the API object (dict), decoded lazily
        reader.get_item(ContentType.DASHBOARD, "42")    # BackupItem | None; "dashboard::42" works too
        reader.source_instance()                        # "https://…" from extraction_sessions.config

Opening: the file is opened through a `file:…?mode=ro` URI, and `immutable=1` when no un-checkpointed
WAL file sits next to it (then SQLite needs no -shm file, so read-only directories work, and nothing
can change under us). Fatal problems raise at `open_backup`: `BackupNotFound`, `NotSQLiteFile`,
`NotLookervaultBackup` (missing table or column X), `UnsupportedSchemaVersion`, and
`BackupIntegrityError` for a damaged file (also raised by any read that runs into damage).
`verify()` never raises for content problems: it reports them (`report.raise_if_failed()` turns
them into `BackupIntegrityError`).

IDs: lookervault's parallel extractor (its default) stores plain IDs (`42`, `thelook`, explores
`thelook::products`), its sequential one composite IDs (`dashboard::42`, `lookml_model::thelook`,
`explore::thelook::products`). `BackupItem.id` is always the plain ID, `raw_id` the stored one; every
lookup accepts either form.

A corrupt blob fails only its item: the item is still yielded, `item.error` says why and
`item.content` raises `CorruptItemError` (a `BackupError`), so the caller sends it to the DLQ and
goes on.

Soft-deleted means `deleted_at` is set (lookervault's own meaning; our extractor also sets it for
dashboards and looks that were in Looker's trash); selections leave them out unless
`include_deleted`. Selection filters are ANDed; see `Selection`.

Memory: rows are fetched `batch_size` at a time and an item holds only its own blob (plus its
decoded object once `.content` is used), so memory is bounded by what the caller keeps: keep
(type, id) keys and re-read with `get_item` rather than lists of items. A reader may be shared by
threads (Python's sqlite3 is in serialized mode; each `iter_items` runs its own cursor).
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from restore.engine.core.content_types import ContentType
from restore.engine.core.words import plural

SQLITE_HEADER = b"SQLite format 3\x00"
SUPPORTED_SCHEMA_VERSIONS = frozenset({2, 3, 4})
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "content_items": frozenset(
        {
            "id",
            "content_type",
            "name",
            "owner_id",
            "owner_email",
            "created_at",
            "updated_at",
            "synced_at",
            "deleted_at",
            "content_size",
            "content_data",
            "folder_id",
        }
    ),
    "schema_version": frozenset({"version"}),
}
# Tables every lookervault backup of schema version 3 or later has besides the two above.
EXPECTED_TABLES = (
    "extraction_sessions",
    "sync_checkpoints",
    "restoration_sessions",
    "restoration_checkpoints",
    "id_mappings",
    "dead_letter_queue",
)
MAX_LISTED_PROBLEMS = 50
MAX_SQL_VALUES = 400
# The columns before the blob: lookervault's schema puts folder_id after content_data, so reading
# it (or the blob) walks the blob's overflow pages; these are in the row's first page.
_META_COLUMNS = (
    "content_type, id, name, owner_id, owner_email, created_at, updated_at, synced_at,"
    " deleted_at, content_size"
)
_COLUMNS = f"{_META_COLUMNS}, content_data, folder_id"
_decoder = msgspec.msgpack.Decoder()


# -- errors -----------------------------------------------------------------------------------------
class BackupError(Exception):
    """A backup cannot be used; the message says what is wrong, for a human."""


class BackupNotFound(BackupError):
    pass


class NotSQLiteFile(BackupError):
    pass


class NotLookervaultBackup(BackupError):
    pass


class UnsupportedSchemaVersion(BackupError):
    pass


class BackupIntegrityError(BackupError):
    pass


class CorruptItemError(BackupError):
    """One item's stored object cannot be decoded. Only that item fails."""


# -- IDs ------------------------------------------------------------------------------------------
def plain_id(content_type: ContentType, raw_id: str) -> str:
    """`dashboard::42` -> `42`, `explore::thelook::products` -> `thelook::products`; plain IDs pass."""
    prefix = f"{content_type.slug}::"
    return raw_id[len(prefix) :] if raw_id.startswith(prefix) else raw_id


def stored_id_forms(content_type: ContentType, user_id: str | int) -> tuple[str, str]:
    """Both ways an ID a user typed may be stored: plain and composite."""
    plain = plain_id(content_type, str(user_id).strip())
    return plain, f"{content_type.slug}::{plain}"


# -- items ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupItem:
    """One `content_items` row. `content` is decoded on first use (and then kept)."""

    content_type: ContentType
    id: str
    raw_id: str
    name: str
    owner_id: int | None
    owner_email: str | None
    folder_id: str | None
    created_at: str | None
    updated_at: str | None
    synced_at: str | None
    deleted_at: str | None
    size: int
    data: bytes = field(repr=False)

    @property
    def plain_id(self) -> str:
        return self.id

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @cached_property
    def _decoded(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            value = _decoder.decode(self.data)
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            return None, f"stored object does not decode as msgpack: {exc}"
        if not isinstance(value, dict):
            return None, f"stored object is a {type(value).__name__}, not a map"
        return value, None

    @property
    def error(self) -> str | None:
        """Why this item's object cannot be read, or None when it can."""
        return self._decoded[1]

    @property
    def content(self) -> dict[str, Any]:
        """The API object as lookervault stored it. Raises CorruptItemError for a bad blob."""
        value, problem = self._decoded
        if problem is not None:
            raise CorruptItemError(f"{self.content_type.slug} {self.id}: {problem}")
        return value  # type: ignore[return-value]

    @property
    def label(self) -> str:
        return f"{self.content_type.slug} {self.id}"


@dataclass(frozen=True)
class _Query:
    """One type's part of a selection: SQL filters, and a check of what SQL cannot filter."""

    where: str
    params: list[Any]
    check: Callable[[BackupItem], bool] | None
    needs_folder: bool


# -- selection ------------------------------------------------------------------------------------
class Selection(BaseModel):
    """Which items to read. Every filter is optional; all given filters must hold (AND)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_types: list[ContentType] | None = Field(
        None, validation_alias=AliasChoices("content_types", "types")
    )
    ids: list[str] | None = None  # plain or composite; matched against each selected type
    search: str | None = None  # case-insensitive substring of the name/title
    owner: str | None = None  # owner user ID or email
    folder_id: str | None = None
    include_subfolders: bool = False
    updated_after: datetime | date | None = Field(
        None, validation_alias=AliasChoices("updated_after", "updated_from")
    )
    updated_before: datetime | date | None = Field(
        None, validation_alias=AliasChoices("updated_before", "updated_to")
    )
    include_deleted: bool = False

    @field_validator("content_types", mode="before")
    @classmethod
    def _parse_types(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | int):
            value = [value]
        return [ContentType.parse(v) for v in value]

    @field_validator("ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | int):
            value = str(value).replace(",", " ").split()
        return [str(v).strip() for v in value if str(v).strip()]

    @field_validator("search", "owner", "folder_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if value is None:
            return None
        text = str(value).strip()
        return text or None

    @field_validator("updated_after", "updated_before", mode="before")
    @classmethod
    def _bare_date(cls, value: Any) -> Any:
        # "2025-12-10" means the whole day, so keep it a date (pydantic would make it midnight).
        if isinstance(value, str) and len(value.strip()) == 10:
            return date.fromisoformat(value.strip())
        return value or None

    def types(self) -> list[ContentType]:
        return list(self.content_types) if self.content_types else list(ContentType)


def _as_utc(value: datetime | date, *, end: bool) -> datetime:
    """A bound of the range, as a half-open [start, end) pair; a bare date covers its whole day."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment + timedelta(microseconds=1) if end else moment
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- verification ---------------------------------------------------------------------------------
@dataclass
class VerificationReport:
    ok: bool
    schema_version: int
    counts: dict[ContentType, int]
    problems: list[str]
    id_style: str  # "plain", "composite", "mixed" or "empty"
    corrupt_items: int = 0
    checked_items: int = 0

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise BackupIntegrityError("backup verification failed: " + "; ".join(self.problems))


# -- the reader -----------------------------------------------------------------------------------
class BackupReader:
    """An open, read-only backup. Use `open_backup()`; close it (or use `with`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_file(self.path)
        self._conn = _connect(self.path)
        try:
            self.schema_version = self._check_schema()
        except BaseException:
            self._conn.close()
            raise

    # -- lifecycle
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> BackupReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- structure
    def _check_schema(self) -> int:
        try:
            tables = self._tables()
        except sqlite3.DatabaseError as exc:
            raise NotSQLiteFile(
                f"{self.path.name} is not a readable SQLite database: {exc}"
            ) from exc
        for table, needed in REQUIRED_COLUMNS.items():
            if table not in tables:
                raise NotLookervaultBackup(
                    f"{self.path.name} is not a lookervault backup: missing table {table}"
                )
            have = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            missing = sorted(needed - have)
            if missing:
                raise NotLookervaultBackup(
                    f"{self.path.name} is not a lookervault backup: table {table} has no "
                    f"column {', '.join(missing)}"
                )
        row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] if row else None
        if version is None:
            raise NotLookervaultBackup(
                f"{self.path.name} is not a lookervault backup: schema_version is empty"
            )
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            supported = ", ".join(str(v) for v in sorted(SUPPORTED_SCHEMA_VERSIONS))
            raise UnsupportedSchemaVersion(
                f"unsupported schema version {version} in {self.path.name} "
                f"(this tool reads lookervault schema versions {supported})"
            )
        return int(version)

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}

    def source_instance(self) -> str | None:
        """The Looker URL the backup was taken from, when lookervault recorded it."""
        try:
            rows = self._conn.execute(
                "SELECT config FROM extraction_sessions ORDER BY started_at DESC"
            ).fetchall()
        except sqlite3.DatabaseError:
            return None
        for (config,) in rows:
            try:
                source = json.loads(config or "null")
            except ValueError:
                continue
            if isinstance(source, dict) and source.get("source"):
                return str(source["source"])
        return None

    def extracted_at(self) -> datetime | None:
        """When the backup was taken: the start of its last extraction session (lookervault
        records it, naive times being UTC), else the newest `synced_at` of its items."""
        for sql in (
            "SELECT max(started_at) FROM extraction_sessions",
            "SELECT max(synced_at) FROM content_items",
        ):
            try:
                (value,) = self._conn.execute(sql).fetchone()
            except sqlite3.DatabaseError:
                continue
            moment = _parse_ts(str(value)) if value else None
            if moment is not None:
                return moment
        return None

    def counts(self, *, include_deleted: bool = True) -> dict[ContentType, int]:
        """Items per known content type."""
        where = "" if include_deleted else " WHERE deleted_at IS NULL"
        out: dict[ContentType, int] = {}
        for code, n in self._rows(
            f"SELECT content_type, count(*) FROM content_items{where} GROUP BY content_type"
        ):
            if code in ContentType._value2member_map_:
                out[ContentType(code)] = n
        return out

    def id_style(self) -> str:
        plain = composite = 0
        for ct in ContentType:
            (n,) = self._conn.execute(
                "SELECT count(*) FROM content_items WHERE content_type = ? AND substr(id, 1, ?) = ?",
                (ct.value, len(ct.slug) + 2, f"{ct.slug}::"),
            ).fetchone()
            (total,) = self._conn.execute(
                "SELECT count(*) FROM content_items WHERE content_type = ?", (ct.value,)
            ).fetchone()
            composite += n
            plain += total - n
        if plain and composite:
            return "mixed"
        return "composite" if composite else ("plain" if plain else "empty")

    def verify(self, *, full: bool = False, batch_size: int = 500) -> VerificationReport:
        """SQLite's own check, then every row: known type, size, blob decodes to a map.

        `full=True` runs `PRAGMA integrity_check` (slower: also cross-checks indexes) instead of
        `quick_check`. Streams rows, so memory stays bounded whatever the backup's size.
        """
        problems: list[str] = []
        pragma = "integrity_check" if full else "quick_check"
        try:
            results = [r[0] for r in self._conn.execute(f"PRAGMA {pragma}(20)")]
        except sqlite3.DatabaseError as exc:
            results = [str(exc)]
        if results != ["ok"]:
            problems.append("integrity check failed: " + "; ".join(str(r) for r in results))
        if self.schema_version >= 3:
            missing = [t for t in EXPECTED_TABLES if t not in self._tables()]
            if missing:
                problems.append(
                    f"not a complete lookervault backup: missing {'table' if len(missing) == 1 else 'tables'} {', '.join(missing)}"
                )
        corrupt, checked, unknown = self._check_rows(problems, batch_size)
        for code, n in sorted(unknown.items()):
            problems.append(f"{plural(n, 'row')} of unknown content_type {code}")
        if corrupt > MAX_LISTED_PROBLEMS:
            problems.append(f"… {corrupt} unreadable items in all")
        try:
            counts, style = self.counts(), self.id_style()
        except sqlite3.DatabaseError as exc:
            problems.append(f"counting items failed: {exc}")
            counts, style = {}, "empty"
        return VerificationReport(
            ok=not problems,
            schema_version=self.schema_version,
            counts=counts,
            problems=problems,
            id_style=style,
            corrupt_items=corrupt,
            checked_items=checked,
        )

    def _check_rows(self, problems: list[str], batch_size: int) -> tuple[int, int, dict[int, int]]:
        """Every row, streamed: (unreadable rows, rows checked, rows per unknown content type);
        the first unreadable ones are listed in `problems`."""
        corrupt = checked = 0
        unknown: dict[int, int] = {}
        try:
            cursor = self._conn.execute(
                "SELECT content_type, id, content_size, content_data FROM content_items"
            )
            while rows := cursor.fetchmany(batch_size):
                for code, raw_id, size, data in rows:
                    checked += 1
                    problem = _row_problem(code, size, data, unknown)
                    if problem:
                        corrupt += 1
                        if len(problems) < MAX_LISTED_PROBLEMS:
                            problems.append(f"{_label(code, raw_id)}: {problem}")
        except sqlite3.DatabaseError as exc:
            problems.append(f"reading content_items failed after {checked} rows: {exc}")
        return corrupt, checked, unknown

    # -- items
    def get_item(
        self, content_type: ContentType | str | int, item_id: str | int
    ) -> BackupItem | None:
        """One item by type and ID (plain or composite), deleted or not; None when absent."""
        ct = ContentType.parse(content_type)
        plain, composite = stored_id_forms(ct, item_id)
        sql = (
            f"SELECT {_COLUMNS} FROM content_items WHERE content_type = ? AND id IN (?, ?)"
            " ORDER BY id = ? DESC LIMIT 1"
        )
        row = next(self._rows(sql, (ct.value, plain, composite, plain)), None)
        return _item(row) if row else None

    def items_by_stored_ids(
        self, content_type: ContentType | str | int, stored_ids: Sequence[str], *, batch: int = 200
    ) -> Iterator[BackupItem]:
        """Items with exactly these stored IDs (`raw_id`), in that order; absent ones skipped."""
        ct = ContentType.parse(content_type)
        for start in range(0, len(stored_ids), batch):
            chunk = list(stored_ids[start : start + batch])
            sql = (
                f"SELECT {_COLUMNS} FROM content_items WHERE content_type = ?"
                f" AND id IN ({', '.join('?' * len(chunk))})"
            )
            found = {item.raw_id: item for item in map(_item, self._rows(sql, (ct.value, *chunk)))}
            yield from (found[i] for i in chunk if i in found)

    def _rows(self, sql: str, params: Any = (), batch_size: int = 500) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, `batch_size` at a time; damage found while reading is a BackupError."""
        try:
            cursor = self._conn.execute(sql, params)
            while rows := cursor.fetchmany(batch_size):
                yield from rows
        except sqlite3.DatabaseError as exc:
            raise BackupIntegrityError(
                f"{self.path.name} is damaged; integrity check failed while reading: {exc}"
            ) from exc

    def iter_items(
        self, selection: Selection | dict[str, Any] | None = None, *, batch_size: int = 500
    ) -> Iterator[BackupItem]:
        """Matching items, type by type (in `ContentType` order or the selection's), row order within.

        Holds at most `batch_size` rows at a time. Items with corrupt blobs are yielded too (see
        `BackupItem.error`).
        """
        for query in self._queries(_selection(selection)):
            for _, item in self._matching(query, batch_size, whole=True):
                yield item

    def count(self, selection: Selection | dict[str, Any] | None = None) -> int:
        """How many items a selection matches (without reading their objects)."""
        return sum(self._count(query) for query in self._queries(_selection(selection)))

    def page(
        self, selection: Selection | dict[str, Any] | None, offset: int, limit: int
    ) -> list[BackupItem]:
        """Items `offset` to `offset + limit` of a selection, in `iter_items`' order.

        Not `islice(iter_items(...))`, which builds an item of every row skipped over (~5 µs
        each: a quarter of a second to the last page of 50,000): where SQL can do all of a
        type's filtering it counts and skips in SQL; otherwise the rows are matched on the
        columns before the blob. Only the page's rows are read whole.
        """
        rowids: list[int] = []
        for query in self._queries(_selection(selection)):
            if len(rowids) >= limit:
                break
            if query.check is None:
                # Count first: a type the page starts after (most of them, on a deep page) costs
                # one scan, not a fruitless LIMIT/OFFSET scan and then a count.
                n = self._count(query)
                if offset >= n:
                    offset -= n
                    continue
                sql = f"SELECT rowid FROM content_items WHERE {query.where} ORDER BY rowid"
                params = [*query.params, limit - len(rowids), offset]
                rowids += [row[0] for row in self._rows(sql + " LIMIT ? OFFSET ?", params)]
                offset = 0
                continue
            for rowid, _ in self._matching(query, 500, whole=False):
                if offset:
                    offset -= 1
                    continue
                rowids.append(rowid)
                if len(rowids) >= limit:
                    break
        if not rowids:
            return []
        marks = ", ".join("?" * len(rowids))
        sql = f"SELECT rowid, {_COLUMNS} FROM content_items WHERE rowid IN ({marks})"
        items = {row[0]: _item(row[1:]) for row in self._rows(sql, rowids)}
        return [items[rowid] for rowid in rowids if rowid in items]

    def _queries(self, sel: Selection) -> Iterator[_Query]:
        """One query per selected type: what SQL can filter, and a check for the rest."""
        owner_ids, owner_email = self._owner_filter(sel.owner)
        folders = self._folder_filter(sel.folder_id, sel.include_subfolders)
        after = _as_utc(sel.updated_after, end=False) if sel.updated_after else None
        before = _as_utc(sel.updated_before, end=True) if sel.updated_before else None
        for ct in sel.types():
            where = "content_type = ?"
            params: list[Any] = [ct.value]
            checks: list[Callable[[BackupItem], bool]] = []
            if not sel.include_deleted:
                where += " AND deleted_at IS NULL"
            # Short ID and folder lists go into SQL; long ones (beyond SQLite's variable limit
            # on old builds) are checked row by row.
            ids = {f for i in sel.ids for f in stored_id_forms(ct, i)} if sel.ids else None
            if ids is not None and len(ids) <= MAX_SQL_VALUES:
                where += f" AND id IN ({', '.join('?' * len(ids))})"
                params += sorted(ids)
            elif ids is not None:
                checks.append(lambda item, ids=ids: item.raw_id in ids)
            if folders is not None and len(folders) <= MAX_SQL_VALUES:
                where += f" AND folder_id IN ({', '.join('?' * len(folders))})"
                params += sorted(folders)
            elif folders is not None:
                checks.append(lambda item: item.folder_id in folders)
            if sel.search:
                where += " AND lv_contains(name, ?)"
                params.append(sel.search.casefold())
            if sel.owner:
                checks.append(lambda item: _owned(item, owner_ids, owner_email))
            if after or before:
                checks.append(lambda item: _in_range(item.updated_at, after, before))
            check = (lambda item, cs=tuple(checks): all(c(item) for c in cs)) if checks else None
            yield _Query(where, params, check, folders is not None)

    def _matching(
        self, query: _Query, batch_size: int, *, whole: bool
    ) -> Iterator[tuple[int, BackupItem]]:
        """(rowid, item) of a query's rows that pass its check; without `whole` the items lack
        their object (and their folder unless the check needs it)."""
        columns = _COLUMNS
        if not whole:
            columns = f"{_META_COLUMNS}, NULL, {'folder_id' if query.needs_folder else 'NULL'}"
        sql = f"SELECT rowid, {columns} FROM content_items WHERE {query.where} ORDER BY rowid"
        for row in self._rows(sql, query.params, batch_size):
            item = _item(row[1:])
            if query.check is None or query.check(item):
                yield row[0], item

    def _count(self, query: _Query) -> int:
        if query.check is None:
            sql = f"SELECT count(*) FROM content_items WHERE {query.where}"
            return int(next(self._rows(sql, query.params))[0])
        return sum(1 for _ in self._matching(query, 500, whole=False))

    def folder_tree(self) -> dict[str, str | None]:
        """Folder ID -> parent ID for every folder in the backup (from the stored objects)."""
        parents: dict[str, str | None] = {}
        for item in self.iter_items(
            Selection(content_types=[ContentType.FOLDER], include_deleted=True)
        ):
            if item.error is None:
                parent = item.content.get("parent_id")
                parents[item.id] = str(parent) if parent is not None else None
        return parents

    def descendant_folders(self, folder_id: str) -> set[str]:
        """The folder and every folder below it, through the backup's folder tree."""
        children: dict[str | None, list[str]] = {}
        for fid, parent in self.folder_tree().items():
            children.setdefault(parent, []).append(fid)
        root = plain_id(ContentType.FOLDER, str(folder_id))
        found, stack = {root}, [root]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def _folder_filter(self, folder_id: str | None, subfolders: bool) -> set[str] | None:
        if folder_id is None:
            return None
        if subfolders:
            return self.descendant_folders(folder_id)
        return {plain_id(ContentType.FOLDER, folder_id)}

    def _owner_filter(self, owner: str | None) -> tuple[set[int], str | None]:
        """Owner IDs an `owner` filter stands for (an email resolves through the backup's users)."""
        if not owner:
            return set(), None
        text = plain_id(ContentType.USER, owner.strip())
        if "@" not in text:
            return ({int(text)} if text.isdigit() else set()), None
        email = text.casefold()
        ids: set[int] = set()
        for user in self.iter_items(
            Selection(content_types=[ContentType.USER], include_deleted=True)
        ):
            found = user.error is None and user.id.isdigit()
            if found and str(user.content.get("email") or "").casefold() == email:
                ids.add(int(user.id))
        return ids, email


def open_backup(path: str | Path) -> BackupReader:
    """Open a lookervault backup read-only (a context manager). Raises a BackupError subclass."""
    return BackupReader(path)


# -- helpers --------------------------------------------------------------------------------------
def _check_file(path: Path) -> None:
    if not path.exists():
        raise BackupNotFound(f"no backup file at {path}")
    if not path.is_file():
        raise BackupNotFound(f"{path} is not a file")
    with path.open("rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        what = "it is empty" if not header else "it has no SQLite header"
        raise NotSQLiteFile(f"{path.name} is not a SQLite file ({what})")


def _connect(path: Path) -> sqlite3.Connection:
    """Read-only; immutable when no WAL content is pending (safe, and works in read-only dirs)."""
    wal = Path(f"{path}-wal")
    immutable = not wal.exists() or wal.stat().st_size == 0
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    if immutable:
        uri += "&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.create_function("lv_contains", 2, _contains, deterministic=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        # The header said SQLite, so the file is damaged (truncated, overwritten) or unreachable.
        hint = "" if immutable else " (it has an un-checkpointed -wal file next to it)"
        raise BackupIntegrityError(
            f"{path.name} is a damaged SQLite file{hint}; integrity check failed: {exc}"
        ) from exc
    return conn


def _selection(selection: Selection | dict[str, Any] | None) -> Selection:
    if selection is None:
        return Selection()
    if isinstance(selection, Selection):
        return selection
    return Selection.model_validate(selection)


def _label(code: int, raw_id: str) -> str:
    if code in ContentType._value2member_map_:
        ct = ContentType(code)
        return f"{ct.slug} {plain_id(ct, str(raw_id))}"
    return f"content_type {code} id {raw_id}"


def _row_problem(code: int, size: int | None, data: Any, unknown: dict[int, int]) -> str | None:
    if code not in ContentType._value2member_map_:
        unknown[code] = unknown.get(code, 0) + 1
        return None
    if not isinstance(data, bytes | memoryview):
        return f"content_data is {type(data).__name__}, not a blob"
    try:
        value = _decoder.decode(data)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        return f"stored object does not decode as msgpack: {exc}"
    if not isinstance(value, dict):
        return f"stored object is a {type(value).__name__}, not a map"
    if size is not None and size != len(data):
        return f"content_size {size} differs from the blob's {len(data)} bytes"
    return None


def _item(row: tuple[Any, ...]) -> BackupItem:
    (
        code,
        raw_id,
        name,
        owner_id,
        owner_email,
        created,
        updated,
        synced,
        deleted,
        size,
        data,
        fid,
    ) = row
    ct = ContentType(code)
    raw = str(raw_id)
    return BackupItem(
        content_type=ct,
        id=plain_id(ct, raw),
        raw_id=raw,
        name=name or "",
        owner_id=owner_id if isinstance(owner_id, int) else _int_or_none(owner_id),
        owner_email=owner_email,
        folder_id=str(fid) if fid is not None else None,
        created_at=created,
        updated_at=updated,
        synced_at=synced,
        deleted_at=deleted,
        size=int(size) if size is not None else len(data or b""),
        data=bytes(data) if data is not None else b"",
    )


def _contains(name: str | None, needle: str) -> bool:
    """A name search in SQL: case-insensitive as Python's casefold, not SQLite's ASCII LIKE."""
    return needle in (name or "").casefold()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _owned(item: BackupItem, owner_ids: set[int], owner_email: str | None) -> bool:
    if item.owner_id is not None and item.owner_id in owner_ids:
        return True
    return bool(owner_email and (item.owner_email or "").casefold() == owner_email)


def _in_range(updated_at: str | None, after: datetime | None, before: datetime | None) -> bool:
    moment = _parse_ts(updated_at)
    if moment is None:
        return False
    if after and moment < after:
        return False
    return not (before and moment >= before)
