"""Write lookervault-format backups: the SQLite files `lookervault extract` (0.1.0) produces.

A backup is what the restore side reads, so it must be indistinguishable from lookervault's own:
the same DDL text in `sqlite_master` (schema version 4, reached the way lookervault reaches it: the
version-3 tables are created, then rebuilt with their UNIQUE constraints, so even the root pages match
`../shared/fixtures/`), 16 KiB pages, WAL journal, `schema_version` rows 3 and 4, one
`extraction_sessions` row whose config is the caller's (`extract` gives lookervault's: content types,
batch size, fields; lookervault records no source instance), empty restore tables, and one
`content_items` row per object with `content_data = msgspec.msgpack.encode(api_object)`.

Row columns follow lookervault's extractor conversion, checked against both fixtures:
- `id`: the object's `id` (a LookML model's `name`); the parallel extractor (lookervault's default)
  stores it plain (`42`, `thelook`, explores `thelook::products`), the sequential one composite
  (`dashboard::42`, `lookml_model::thelook`, `explore::thelook::products`).
- `name`: `title`, else `name`, else `Untitled <id>` (parallel) / `<id>` (sequential). So users are
  `Untitled 7`, and a scheduled plan carries its dashboard's title.
- `owner_id`: int(`user_id`) when there is one; `owner_email`: `user.email` when the object nests
  its user (looks, scheduled plans); `folder_id`: `folder_id` when set (looks, dashboards).
- `created_at`/`updated_at`: the object's timestamps re-rendered by `datetime.isoformat()`
  (`2025-11-02T09:14:05+00:00`), or "now" in UTC when the object has none (groups, folders' update).
- `synced_at`: now, `+00:00` (parallel) or without a zone (sequential).
- `deleted_at`: NULL, except for items the caller marks deleted (the extractor marks dashboards and
  looks that are in Looker's trash, with their own `deleted_at`, so lookervault's "active" indexes
  and a reader's include-deleted switch treat them as deleted).

This module must not import `restore` (the emulator plays a remote system); it keeps its own copy of
lookervault's content type codes.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

IdStyle = Literal["plain", "composite"]

# lookervault's `content_items.content_type` codes (schema version 4).
CONTENT_TYPES: dict[str, int] = {
    "dashboard": 1,
    "look": 2,
    "lookml_model": 3,
    "explore": 4,
    "folder": 5,
    "board": 6,
    "user": 7,
    "group": 8,
    "role": 9,
    "permission_set": 10,
    "model_set": 11,
    "scheduled_plan": 12,
}
SLUGS: dict[int, str] = {code: slug for slug, code in CONTENT_TYPES.items()}

SCHEMA_VERSION = 4
# lookervault 0.1.0 records both migrations with the same description.
SCHEMA_DESCRIPTION = "Added unique constraints for idempotent upsert operations"

# -- DDL, byte for byte what lookervault leaves in sqlite_master ------------------------------------
# (SQLite keeps a statement's text from the object name on, so the indentation below matters.)

# The tables lookervault's version-3 migration rebuilds to add their UNIQUE constraints: columns and
# indexes written once, laid out by `_ddl` as each step of the migration lays them out.
_REBUILT: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "sync_checkpoints": (
        (
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "session_id TEXT",
            "content_type INTEGER NOT NULL",
            "checkpoint_data TEXT NOT NULL",
            "started_at TEXT NOT NULL",
            "completed_at TEXT DEFAULT NULL",
            "item_count INTEGER DEFAULT 0",
            "error_message TEXT DEFAULT NULL",
            "UNIQUE(session_id, content_type, started_at)",
        ),
        (
            ("idx_checkpoint_type_completed", "content_type, completed_at"),
            ("idx_checkpoint_session", "session_id"),
        ),
    ),
    "restoration_checkpoints": (
        (
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "session_id TEXT NOT NULL",
            "content_type INTEGER NOT NULL",
            "checkpoint_data TEXT NOT NULL",
            "started_at TEXT NOT NULL",
            "completed_at TEXT",
            "item_count INTEGER DEFAULT 0",
            "error_count INTEGER DEFAULT 0",
            "UNIQUE(session_id, content_type, started_at)",
            "FOREIGN KEY (session_id) REFERENCES restoration_sessions(id) ON DELETE CASCADE",
        ),
        (
            ("idx_restoration_checkpoint_session", "session_id"),
            ("idx_restoration_checkpoint_type", "content_type"),
        ),
    ),
    "dead_letter_queue": (
        (
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "session_id TEXT NOT NULL",
            "content_id TEXT NOT NULL",
            "content_type INTEGER NOT NULL",
            "content_data BLOB NOT NULL",
            "error_message TEXT NOT NULL",
            "error_type TEXT NOT NULL",
            "stack_trace TEXT",
            "retry_count INTEGER NOT NULL",
            "failed_at TEXT NOT NULL",
            "metadata TEXT",
            "UNIQUE(session_id, content_id, content_type, retry_count)",
            "FOREIGN KEY (session_id) REFERENCES restoration_sessions(id) ON DELETE CASCADE",
        ),
        (
            ("idx_dlq_session", "session_id"),
            ("idx_dlq_content", "content_type, content_id"),
            ("idx_dlq_failed_at", "failed_at DESC"),
        ),
    ),
}


def _ddl(table: str, indent: int, *, v3: bool) -> list[str]:
    """CREATE TABLE then CREATE INDEX statements of a rebuilt table: as version 3 creates them
    (`IF NOT EXISTS`), or as the migration recreates them (into `<table>_tmp`); `indent` is where
    lookervault's source had them, which SQLite keeps in `sqlite_master`."""
    columns, indexes = _REBUILT[table]
    pad, end = " " * indent, " " * (indent - 4)
    if_new = "IF NOT EXISTS " if v3 else ""
    body = ",\n".join(f"{pad}    {column}" for column in columns)
    create = (
        f"\n{pad}CREATE TABLE {if_new}{table if v3 else table + '_tmp'} (\n{body}\n{pad})\n{end}"
    )
    return [create] + [
        f"\n{pad}CREATE INDEX {if_new}{name}\n{pad}ON {table}({on})\n{end}" for name, on in indexes
    ]


_CREATE_V3 = [
    """
        CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL,
            description TEXT
        )
    """,
    """
        CREATE TABLE IF NOT EXISTS content_items (
            id TEXT NOT NULL,
            content_type INTEGER NOT NULL,
            name TEXT NOT NULL,
            owner_id INTEGER,
            owner_email TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            deleted_at TEXT DEFAULT NULL,
            content_size INTEGER NOT NULL,
            content_data BLOB NOT NULL,
            folder_id TEXT DEFAULT NULL,
            PRIMARY KEY (id, content_type)
        )
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_content_type
        ON content_items(content_type)
        WHERE deleted_at IS NULL
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_owner_id
        ON content_items(owner_id)
        WHERE deleted_at IS NULL
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_updated_at
        ON content_items(updated_at DESC)
        WHERE deleted_at IS NULL
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_deleted_at
        ON content_items(deleted_at)
        WHERE deleted_at IS NOT NULL
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_folder_id
        ON content_items(folder_id)
        WHERE deleted_at IS NULL
          AND folder_id IS NOT NULL
          AND content_type IN (1, 2, 6, 5)
    """,
    *_ddl("sync_checkpoints", 8, v3=True),
    """
        CREATE TABLE IF NOT EXISTS extraction_sessions (
            id TEXT PRIMARY KEY NOT NULL,
            started_at TEXT NOT NULL,
            completed_at TEXT DEFAULT NULL,
            status TEXT NOT NULL,
            total_items INTEGER DEFAULT 0,
            error_count INTEGER DEFAULT 0,
            config TEXT,
            metadata TEXT
        )
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_session_started
        ON extraction_sessions(started_at DESC)
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_session_status
        ON extraction_sessions(status)
    """,
    """
        CREATE TABLE IF NOT EXISTS restoration_sessions (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            completed_at TEXT,
            status TEXT NOT NULL,
            total_items INTEGER DEFAULT 0,
            success_count INTEGER DEFAULT 0,
            error_count INTEGER DEFAULT 0,
            source_instance TEXT,
            destination_instance TEXT NOT NULL,
            config TEXT,
            metadata TEXT
        )
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_restoration_session_status
        ON restoration_sessions(status)
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_restoration_session_started
        ON restoration_sessions(started_at DESC)
    """,
    *_ddl("restoration_checkpoints", 8, v3=True),
    """
        CREATE TABLE IF NOT EXISTS id_mappings (
            source_instance TEXT NOT NULL,
            content_type INTEGER NOT NULL,
            source_id TEXT NOT NULL,
            destination_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            session_id TEXT,
            PRIMARY KEY (source_instance, content_type, source_id),
            FOREIGN KEY (session_id) REFERENCES restoration_sessions(id) ON DELETE SET NULL
        )
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_id_mapping_dest
        ON id_mappings(destination_id)
    """,
    """
        CREATE INDEX IF NOT EXISTS idx_id_mapping_session
        ON id_mappings(session_id)
    """,
    *_ddl("dead_letter_queue", 8, v3=True),
]

# The version-3 migration: each of those tables is copied into a `_tmp` table carrying its UNIQUE
# constraint, the old one dropped, the copy renamed, and its indexes created again.
_REBUILDS: list[tuple[str, list[str]]] = [(table, _ddl(table, 12, v3=False)) for table in _REBUILT]

_UPSERT = """
    INSERT INTO content_items (
        id, content_type, name, owner_id, owner_email, created_at, updated_at,
        synced_at, deleted_at, content_size, content_data, folder_id
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(id, content_type) DO UPDATE SET
        name = excluded.name,
        owner_id = excluded.owner_id,
        owner_email = excluded.owner_email,
        created_at = excluded.created_at,
        updated_at = excluded.updated_at,
        synced_at = excluded.synced_at,
        deleted_at = excluded.deleted_at,
        content_size = excluded.content_size,
        content_data = excluded.content_data,
        folder_id = excluded.folder_id
"""


def content_type_code(content_type: str | int) -> int:
    """lookervault's code for `dashboard`, `dashboards` or 1."""
    if isinstance(content_type, int):
        if content_type not in SLUGS:
            raise ValueError(f"unknown content type code {content_type}")
        return content_type
    slug = content_type.strip().lower()
    code = CONTENT_TYPES.get(slug) or CONTENT_TYPES.get(slug.removesuffix("s"))
    if code is None:
        raise ValueError(f"unknown content type {content_type!r}")
    return code


def create_schema(conn: sqlite3.Connection) -> None:
    """Lay out an empty lookervault schema-4 database the way lookervault 0.1.0 does."""
    conn.execute("PRAGMA page_size = 16384")
    conn.execute("PRAGMA journal_mode = WAL")
    for ddl in _CREATE_V3:
        conn.execute(ddl)
    for table, (create_tmp, *indexes) in _REBUILDS:
        conn.execute(create_tmp)
        conn.execute(f"INSERT INTO {table}_tmp SELECT * FROM {table}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_tmp RENAME TO {table}")
        for ddl in indexes:
            conn.execute(ddl)
    for version in (3, SCHEMA_VERSION):
        conn.execute(
            "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
            (version, _naive_now().isoformat(), SCHEMA_DESCRIPTION),
        )
    conn.commit()


def _naive_now() -> datetime:
    # lookervault writes naive local time here; our machines run in UTC, so naive UTC is the same.
    return datetime.now(UTC).replace(tzinfo=None)


def _timestamp(value: Any) -> str:
    """An API timestamp as lookervault stores it (`datetime.isoformat()`), or now when unusable."""
    parsed: datetime | None = None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    elif isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and value:
        parsed = datetime.fromtimestamp(value, tz=UTC)
    return (parsed or datetime.now(UTC)).isoformat()


def item_id(code: int, obj: Mapping[str, Any]) -> str:
    """The object's own identifier: `id`, or `name` for a LookML model."""
    value = obj.get("name") if code == CONTENT_TYPES["lookml_model"] else obj.get("id")
    return str(value) if value not in (None, "") else "unknown"


def content_row(
    content_type: str | int,
    obj: Mapping[str, Any],
    *,
    id_style: IdStyle = "plain",
    deleted_at: str | None = None,
) -> tuple[Any, ...]:
    """The `content_items` row lookervault's extractor makes from one API object."""
    code = content_type_code(content_type)
    raw = item_id(code, obj)
    row_id = raw if id_style == "plain" else f"{SLUGS[code]}::{raw}"
    fallback = f"Untitled {raw}" if id_style == "plain" else raw
    name = obj.get("title") or obj.get("name") or fallback
    owner_id: int | None = None
    if obj.get("user_id") is not None:
        try:
            owner_id = int(obj["user_id"])
        except (TypeError, ValueError):
            owner_id = None
    user = obj.get("user")
    owner_email = user.get("email") if isinstance(user, Mapping) else None
    folder_id = str(obj["folder_id"]) if obj.get("folder_id") is not None else None
    created_at = _timestamp(obj.get("created_at"))
    updated_at = _timestamp(obj.get("updated_at"))
    synced = datetime.now(UTC)
    synced_at = (
        synced.isoformat() if id_style == "plain" else synced.replace(tzinfo=None).isoformat()
    )
    data = msgspec.msgpack.encode(dict(obj))
    return (
        row_id,
        code,
        str(name),
        owner_id,
        owner_email,
        created_at,
        updated_at,
        synced_at,
        deleted_at,
        len(data),
        data,
        folder_id,
    )


class BackupWriter:
    """Create a lookervault backup file and add API objects to it.

        with BackupWriter("backup.db", config={"content_types": [1, 2], "batch_size": 100}) as out:
            out.add("dashboard", dashboard_dict)
            out.add("look", look_dict, deleted_at=look_dict["deleted_at"])

    Rows are committed in batches; closing marks the extraction session completed (with lookervault's
    item count) and checkpoints the WAL so the result is one self-contained file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        source: str | None = None,
        config: Mapping[str, Any] | None = None,
        id_style: IdStyle = "plain",
        batch_size: int = 500,
        overwrite: bool = False,
        record_completion: bool = False,
    ) -> None:
        """`config` is the session's config (lookervault's own keys); without it, a hand-made
        backup may record `source` as `{"source": URL}`, which real lookervault backups never do."""
        self.path = Path(path)
        if id_style not in ("plain", "composite"):
            raise ValueError(f"id_style must be 'plain' or 'composite', not {id_style!r}")
        if self.path.exists():
            if not overwrite:
                raise FileExistsError(f"{self.path} already exists")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.id_style: IdStyle = id_style
        # lookervault's extract stamps the session's completed_at; its storage code alone does not.
        self.record_completion = record_completion
        self.batch_size = batch_size
        self.count = 0
        self.errors = 0
        self._pending: list[tuple[Any, ...]] = []
        self._conn = sqlite3.connect(self.path, isolation_level="DEFERRED")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        create_schema(self._conn)
        self.session_id = str(uuid.uuid4())
        if config is not None:
            config_text: str | None = json.dumps(dict(config))
        else:
            config_text = json.dumps({"source": source}) if source else None
        self._conn.execute(
            "INSERT INTO extraction_sessions (id, started_at, completed_at, status, total_items,"
            " error_count, config, metadata) VALUES (?, ?, NULL, 'running', 0, 0, ?, NULL)",
            (self.session_id, _naive_now().isoformat(), config_text),
        )
        self._conn.commit()

    def add(
        self, content_type: str | int, obj: Mapping[str, Any], *, deleted_at: str | None = None
    ) -> None:
        """Queue one API object (a dict as the API returned it) for writing."""
        self._pending.append(
            content_row(content_type, obj, id_style=self.id_style, deleted_at=deleted_at)
        )
        self.count += 1
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._conn.executemany(_UPSERT, self._pending)
            self._conn.commit()
            self._pending.clear()

    def close(self, status: str = "completed") -> None:
        """Write what is queued, finish the extraction session and close the file."""
        if self._conn is None:
            return
        self.flush()
        (total,) = self._conn.execute("SELECT count(*) FROM content_items").fetchone()
        self._conn.execute(
            "UPDATE extraction_sessions SET status = ?, total_items = ?, error_count = ?"
            " WHERE id = ?",
            (status, total, self.errors, self.session_id),
        )
        if self.record_completion:
            self._conn.execute(
                "UPDATE extraction_sessions SET completed_at = ? WHERE id = ?",
                (_naive_now().isoformat(), self.session_id),
            )
        self._conn.commit()
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> BackupWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close("completed" if exc_type is None else "failed")


def write_backup(
    path: str | Path,
    items: Any,
    *,
    source: str | None = None,
    id_style: IdStyle = "plain",
    overwrite: bool = False,
) -> int:
    """Write (content_type, object) pairs to a new backup; return how many were written."""
    with BackupWriter(path, source=source, id_style=id_style, overwrite=overwrite) as out:
        for content_type, obj in items:
            out.add(content_type, obj)
        return out.count
