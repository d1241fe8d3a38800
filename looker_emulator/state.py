"""The emulated instance's data: tables of stored records, indexes, and the one state JSON format.

Records are stored sparse (only the fields that were set, plus id/timestamps and system flags); responses
are built from them by `looker_emulator.resources`. The same document is written by `generate --out`,
returned by `GET /_emulator/export`, and read by `serve --state` and `POST /_emulator/import`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

STATE_FORMAT = "looker-emulator-state"
STATE_VERSION = 1

# Table names, in dependency order (a table only references tables before it, plus its own).
TABLES: tuple[str, ...] = (
    "users",
    "groups",
    "permission_sets",
    "model_sets",
    "roles",
    "folders",
    "lookml_models",
    "explores",
    "queries",
    "merge_queries",
    "looks",
    "dashboards",
    "dashboard_layouts",
    "dashboard_elements",
    "dashboard_filters",
    "dashboard_layout_components",
    "boards",
    "board_sections",
    "board_items",
    "scheduled_plans",
)

# Fields kept in a secondary index: value (lower-cased string) -> set of record ids. List fields
# (group_ids) index each element. These make natural-key searches O(1) on large instances.
INDEXED: dict[str, tuple[str, ...]] = {
    "users": ("email", "group_ids", "role_ids"),
    "groups": ("name",),
    "permission_sets": ("name",),
    "model_sets": ("name",),
    "roles": ("name", "permission_set_id", "model_set_id"),
    "folders": ("parent_id", "name"),
    "explores": ("model_name",),
    "queries": ("slug",),
    "looks": ("folder_id", "query_id", "title"),
    "dashboards": ("folder_id", "title"),
    "dashboard_layouts": ("dashboard_id",),
    "dashboard_elements": ("dashboard_id", "look_id", "query_id"),
    "dashboard_filters": ("dashboard_id",),
    "dashboard_layout_components": ("dashboard_layout_id", "dashboard_element_id"),
    "boards": ("title",),
    "board_sections": ("board_id",),
    "board_items": ("board_section_id", "dashboard_id", "look_id"),
    "scheduled_plans": ("dashboard_id", "look_id", "user_id"),
}

# Tables keyed by something other than a numeric id.
KEY_FIELD = {"lookml_models": "name"}


def now_iso(ts: float | None = None) -> str:
    """Looker's timestamp style: 2025-11-02T09:14:05.000+00:00."""
    ts = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}+00:00"


def _key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class State:
    """All tables of one emulated instance. Single-threaded use only (the server's event loop)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TABLES}
        self.indexes: dict[str, dict[str, dict[Any, set[str]]]] = {
            t: {f: {} for f in fields} for t, fields in INDEXED.items()
        }
        self.next_ids: dict[str, int] = {}
        self.role_groups: dict[str, list[str]] = {}  # role id -> group ids
        self.group_groups: dict[str, list[str]] = {}  # group id -> member group ids
        self.api_user_id: str | None = None
        self.meta: dict[str, Any] = {}

    # -- ids ---------------------------------------------------------------------------------------
    def new_id(self, table: str) -> str:
        rows = self.tables.get(
            table, {}
        )  # also counters for embedded rows (scheduled_plan_destinations)
        n = self.next_ids.get(table)
        if n is None:
            n = 1 + max((int(i) for i in rows if i.isdigit()), default=0)
        while str(n) in rows:
            n += 1
        self.next_ids[table] = n + 1
        return str(n)

    # -- records -----------------------------------------------------------------------------------
    def get(self, table: str, rid: str | None) -> dict[str, Any] | None:
        if rid is None:
            return None
        return self.tables[table].get(str(rid))

    def all(self, table: str) -> Iterable[dict[str, Any]]:
        return self.tables[table].values()

    def insert(self, table: str, record: dict[str, Any]) -> dict[str, Any]:
        rid = record[KEY_FIELD.get(table, "id")]
        self.tables[table][rid] = record
        self._index_add(table, rid, record)
        return record

    def update(self, table: str, rid: str, changes: dict[str, Any]) -> dict[str, Any]:
        record = self.tables[table][rid]
        self._index_remove(table, rid, record)
        record.update(changes)
        self._index_add(table, rid, record)
        return record

    def delete(self, table: str, rid: str) -> dict[str, Any] | None:
        record = self.tables[table].pop(rid, None)
        if record is not None:
            self._index_remove(table, rid, record)
        return record

    def lookup(self, table: str, field: str, value: Any) -> set[str]:
        """IDs whose indexed field equals value (case-insensitive for strings)."""
        return self.indexes[table][field].get(_key(value), set())

    def indexed(self, table: str, field: str) -> bool:
        return field in self.indexes.get(table, {})

    def children(self, table: str, field: str, value: Any) -> list[dict[str, Any]]:
        """Records of table whose field equals value, in id order."""
        rows = self.tables[table]
        return [rows[i] for i in sorted(self.lookup(table, field, value), key=_id_order)]

    def _index_add(self, table: str, rid: str, record: dict[str, Any]) -> None:
        for field, index in self.indexes.get(table, {}).items():
            value = record.get(field)
            values = value if isinstance(value, list) else (value,)
            for v in values:
                index.setdefault(_key(v), set()).add(rid)

    def _index_remove(self, table: str, rid: str, record: dict[str, Any]) -> None:
        for field, index in self.indexes.get(table, {}).items():
            value = record.get(field)
            values = value if isinstance(value, list) else (value,)
            for v in values:
                ids = index.get(_key(v))
                if ids is not None:
                    ids.discard(rid)
                    if not ids:
                        del index[_key(v)]

    # -- the state document ------------------------------------------------------------------------
    def export(self, *, copy_records: bool = True) -> dict[str, Any]:
        """The whole instance as the state JSON document (see docs/emulator.md).

        copy_records=False shares the live records: only for encoding at once, on the loop's thread.
        """
        dup = copy.deepcopy if copy_records else _same
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "meta": copy.deepcopy(self.meta),
            "api_user_id": self.api_user_id,
            "next_ids": dict(self.next_ids),
            "role_groups": {k: list(v) for k, v in self.role_groups.items()},
            "group_groups": {k: list(v) for k, v in self.group_groups.items()},
            "tables": {t: [dup(r) for r in sorted_records(self.tables[t], t)] for t in TABLES},
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> State:
        if doc.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} document (format={doc.get('format')!r})")
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {doc.get('version')!r}")
        state = cls()
        tables = doc.get("tables") or {}
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown tables in state: {sorted(unknown)}")
        for table in TABLES:
            for record in tables.get(table) or ():
                state.insert(table, dict(record))
        state.meta = dict(doc.get("meta") or {})
        state.api_user_id = doc.get("api_user_id")
        state.next_ids = {k: int(v) for k, v in (doc.get("next_ids") or {}).items()}
        state.role_groups = {k: list(v) for k, v in (doc.get("role_groups") or {}).items()}
        state.group_groups = {k: list(v) for k, v in (doc.get("group_groups") or {}).items()}
        return state

    def copy(self) -> State:
        return State.from_document(self.export())

    def counts(self) -> dict[str, int]:
        return {t: len(self.tables[t]) for t in TABLES}


def _same(record: dict[str, Any]) -> dict[str, Any]:
    return record


def _id_order(rid: str) -> tuple[int, Any]:
    return (0, int(rid)) if rid.isdigit() else (1, rid)


def sorted_records(rows: dict[str, dict[str, Any]], table: str) -> Iterator[dict[str, Any]]:
    for rid in sorted(rows, key=_id_order):
        yield rows[rid]


def load_state_file(path: str | Path) -> State:
    return State.from_document(msgspec.json.decode(Path(path).read_bytes()))


def write_state_file(state_doc: dict[str, Any], path: str | Path) -> None:
    Path(path).write_bytes(msgspec.json.encode(state_doc))
