"""Serve what a lookervault backup holds: turn its API objects into a state document.

`python -m looker_emulator from-backup --backup FILE.db --out STATE.json`, or `serve --backup FILE.db`.
The backup's objects are API responses (nested elements, filters, layouts, queries, sections...); they
are split back into the emulator's flat tables, the response-only fields dropped. Both the parallel
(plain IDs) and sequential (composite IDs) row styles load, since the IDs are taken from the objects.
Missing system folders and an API user are added, so the result is a servable instance.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from looker_emulator.generate import generate
from looker_emulator.state import STATE_FORMAT, STATE_VERSION, TABLES

# lookervault's content type codes (its own copy: this package never imports `restore`).
CONTENT_TABLES = {
    1: "dashboards",
    2: "looks",
    3: "lookml_models",
    4: "explores",
    5: "folders",
    6: "boards",
    7: "users",
    8: "groups",
    9: "roles",
    10: "permission_sets",
    11: "model_sets",
    12: "scheduled_plans",
}

# Fields the emulator builds on every response; they are not stored.
RENDERED: dict[str, frozenset[str]] = {
    "dashboards": frozenset(
        {
            "can",
            "folder",
            "dashboard_elements",
            "dashboard_filters",
            "dashboard_layouts",
            "user_name",
            "edit_uri",
            "url",
            "model",
        }
    ),
    "looks": frozenset(
        {"can", "query", "folder", "user_name", "model", "short_url", "url", "embed_url", "user"}
    ),
    "queries": frozenset(
        {"can", "share_url", "expanded_share_url", "url", "has_table_calculations"}
    ),
    "dashboard_elements": frozenset(
        {
            "can",
            "look",
            "query",
            "edit_uri",
            "body_text_as_html",
            "title_text_as_html",
            "subtitle_text_as_html",
            "note_text_as_html",
        }
    ),
    "dashboard_filters": frozenset({"can"}),
    "dashboard_layouts": frozenset(
        {"can", "dashboard_layout_components", "dashboard_title", "deleted"}
    ),
    "dashboard_layout_components": frozenset(
        {"can", "element_title", "element_title_hidden", "vis_type"}
    ),
    "lookml_models": frozenset({"can", "explores", "has_content"}),
    "explores": frozenset({"can"}),
    "folders": frozenset({"can", "child_count", "dashboards", "looks"}),
    "boards": frozenset({"can", "board_sections"}),
    "board_sections": frozenset({"can", "board_items", "visible_item_order"}),
    "board_items": frozenset({"can", "title", "description", "url", "location"}),
    "users": frozenset({"can", "display_name", "url", "avatar_url", "sessions", "looker_versions"}),
    "groups": frozenset({"can", "user_count"}),
    "roles": frozenset({"can", "permission_set", "model_set", "url", "users_url", "user_count"}),
    "permission_sets": frozenset({"can", "url"}),
    "model_sets": frozenset({"can", "url"}),
    "scheduled_plans": frozenset({"can", "user", "title"}),
}


def _stored(table: str, obj: dict[str, Any]) -> dict[str, Any]:
    drop = RENDERED.get(table, frozenset({"can"}))
    return {k: v for k, v in obj.items() if k not in drop}


class _Tables:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TABLES}

    def put(self, table: str, obj: dict[str, Any], key: str = "id") -> None:
        rid = obj.get(key)
        if rid is not None:
            self.rows[table].setdefault(str(rid), _stored(table, obj))


def read_backup_objects(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(content type code, API object) for each row of a lookervault backup's content_items."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT content_type, content_data FROM content_items ORDER BY content_type, id"
        ).fetchall()
    finally:
        conn.close()
    return [(int(ct), msgspec.msgpack.decode(data)) for ct, data in rows if data is not None]


def state_from_backup(path: str | Path) -> dict[str, Any]:
    """A state document serving the content of a lookervault backup."""
    t = _Tables()
    objects = read_backup_objects(path)
    for code, obj in objects:
        table = CONTENT_TABLES.get(code)
        if table is not None and isinstance(obj, dict):
            _put_object(t, table, obj)
    _tile_queries(t, objects)
    _merge_queries_for_tiles(t)
    for user in t.rows["users"].values():
        creds = user.get("credentials_email")
        if user.get("email") is None and isinstance(creds, dict):
            user["email"] = creds.get("email")
        user.setdefault("group_ids", [])
        user.setdefault("role_ids", [])
    _ensure_instance(t)
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "meta": {"source": "lookervault backup", "backup": str(path)},
        "api_user_id": _api_user(t),
        "next_ids": {},
        "role_groups": {},
        "group_groups": {},
        "tables": {table: list(rows.values()) for table, rows in t.rows.items()},
    }


def _put_object(t: _Tables, table: str, obj: dict[str, Any]) -> None:
    """One backed-up object into its table, and the objects it nests into theirs."""
    if table == "lookml_models":
        t.put(table, obj, key="name")
        for nav in obj.get("explores") or []:
            if nav.get("name"):
                explore = {**nav, "id": f"{obj['name']}::{nav['name']}", "model_name": obj["name"]}
                t.put("explores", explore)
    elif table == "explores":
        eid = obj.get("id") or f"{obj.get('model_name')}::{obj.get('name')}"
        t.rows["explores"][eid] = {**_stored("explores", obj), "id": eid}
    else:
        t.put(table, obj)
        nested = _NESTED.get(table)
        if nested is not None:
            nested(t, obj)


def _dashboard_parts(t: _Tables, obj: dict[str, Any]) -> None:
    for el in obj.get("dashboard_elements") or []:
        t.put("dashboard_elements", el)
        if isinstance(el.get("query"), dict):
            t.put("queries", el["query"])
    for flt in obj.get("dashboard_filters") or []:
        t.put("dashboard_filters", {**flt, "dashboard_id": flt.get("dashboard_id") or obj["id"]})
    for layout in obj.get("dashboard_layouts") or []:
        t.put("dashboard_layouts", layout)
        for comp in layout.get("dashboard_layout_components") or []:
            t.put("dashboard_layout_components", comp)


def _look_parts(t: _Tables, obj: dict[str, Any]) -> None:
    if isinstance(obj.get("query"), dict):
        t.put("queries", obj["query"])


def _board_parts(t: _Tables, obj: dict[str, Any]) -> None:
    for section in obj.get("board_sections") or []:
        t.put("board_sections", section)
        for item in section.get("board_items") or []:
            t.put("board_items", item)


def _role_parts(t: _Tables, obj: dict[str, Any]) -> None:
    for sub, field in (("permission_sets", "permission_set"), ("model_sets", "model_set")):
        if isinstance(obj.get(field), dict):
            t.put(sub, obj[field])


# What a backed-up object of a table nests (a dashboard its tiles, a look its query...).
_NESTED: dict[str, Callable[[_Tables, dict[str, Any]], None]] = {
    "dashboards": _dashboard_parts,
    "looks": _look_parts,
    "boards": _board_parts,
    "roles": _role_parts,
}


def _tile_queries(t: _Tables, objects: list[tuple[int, dict[str, Any]]]) -> None:
    """A look tile embeds its look with the look's query (`LookWithQuery`): the instance has it."""
    for code, obj in objects:
        if CONTENT_TABLES.get(code) != "dashboards" or not isinstance(obj, dict):
            continue
        for el in obj.get("dashboard_elements") or []:
            look = el.get("look") if isinstance(el.get("look"), dict) else {}
            if isinstance(look.get("query"), dict):
                t.put("queries", look["query"])


def _merge_queries_for_tiles(t: _Tables) -> None:
    """A real instance always holds the merge query a merged-results tile shows; lookervault backs
    none up. Each `merge_result_id` without one gets a merge query of the tile's own query (else
    of the instance's first query), so the served instance is one Looker could be."""
    queries, merges = t.rows["queries"], t.rows["merge_queries"]
    for el in t.rows["dashboard_elements"].values():
        merge_id = el.get("merge_result_id")
        if merge_id in (None, "") or str(merge_id) in merges:
            continue
        own = str(el.get("query_id"))
        query_id = own if own in queries else next(iter(queries), None)
        if query_id is None:
            continue  # an instance without a single query: nothing a merge could show
        source = {"name": "primary", "query_id": query_id, "merge_fields": []}
        merges[str(merge_id)] = {"id": str(merge_id), "source_queries": [source]}


def _ensure_instance(t: _Tables) -> None:
    """Add what every instance has when the backup lacks it: system folders, LookML models."""
    base = generate(0)["tables"]
    folders = t.rows["folders"]
    for system in base["folders"]:
        if system.get("is_personal"):
            continue
        flag = next(k for k in system if k.startswith("is_") and system[k])
        if not any(f.get(flag) for f in folders.values()):
            fid = system["id"] if system["id"] not in folders else _free_id(folders)
            folders[fid] = {**system, "id": fid}
    for model in base["lookml_models"]:
        t.rows["lookml_models"].setdefault(model["name"], model)
    for explore in base["explores"]:
        t.rows["explores"].setdefault(explore["id"], explore)


def _api_user(t: _Tables) -> str:
    """The user the emulator's credentials log in as: an Admin-role user, user 1, else a new one."""
    users = t.rows["users"]
    admin_roles = {rid for rid, r in t.rows["roles"].items() if r.get("name") == "Admin"}
    for uid in sorted(users, key=lambda i: (len(i), i)):
        if admin_roles & set(users[uid].get("role_ids") or []):
            return uid
    if "1" in users:  # Looker's first user, the admin who set the instance up
        return "1"
    base = generate(0)["tables"]
    uid = _free_id(users)
    api = {**base["users"][0], "id": uid, "personal_folder_id": None, "role_ids": []}
    if api["email"] in {u.get("email") for u in users.values()}:
        api["email"] = f"api-admin-{uid}@example.com"
        api["credentials_email"] = {**api["credentials_email"], "email": api["email"]}
    users[uid] = api
    return uid


def _free_id(rows: dict[str, Any]) -> str:
    return str(1 + max((int(i) for i in rows if i.isdigit()), default=0))
