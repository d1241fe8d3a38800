"""Damage a running instance through its API, the way an accident would (test side).

Hard deletes (so restored objects get new IDs and their referrers must follow), trashed items,
modified fields, removed tiles/filters/board items, moved layout components, changed memberships.
"""

from __future__ import annotations

import random
from typing import Any

from restore.engine.core.errors import LookerApiError
from restore.engine.looker.client import LookerClient


def _try(fn, *args) -> Any:
    try:
        return fn(*args)
    except LookerApiError:
        return None


def wreck(client: LookerClient, seed: int = 1, fraction: float = 0.08) -> dict[str, int]:
    rnd = random.Random(seed)
    done: dict[str, int] = {}

    def pick(rows: list[dict]) -> list[dict]:
        return rnd.sample(rows, max(1, int(len(rows) * fraction))) if rows else []

    def count(key: str) -> None:
        done[key] = done.get(key, 0) + 1

    dashboards = client.get("/dashboards", {"fields": "id,title"})
    looks = client.get("/looks", {"fields": "id,title"})
    for d in pick(dashboards):
        _try(client.delete, f"/dashboards/{d['id']}") and None
        count("dashboard deleted")
    for lk in pick(looks):
        _try(client.delete, f"/looks/{lk['id']}")
        count("look deleted")
    for d in pick(client.get("/dashboards", {"fields": "id,title"})):
        _try(client.patch, f"/dashboards/{d['id']}", {"deleted": True})
        count("dashboard trashed")
    for lk in pick(client.get("/looks", {"fields": "id,title"})):
        _try(client.patch, f"/looks/{lk['id']}", {"title": lk["title"] + " (edited)"})
        count("look modified")
    for d in pick(client.get("/dashboards", {"fields": "id,title"})):
        _wreck_dashboard(client, d["id"], rnd)
        count("dashboard modified")
    folders = [
        f
        for f in client.get("/folders")
        if not (f.get("is_personal") or f.get("is_shared_root") or f.get("is_users_root"))
        and not f.get("is_embed_shared_root")
        and not f.get("is_embed_users_root")
    ]
    for f in rnd.sample(folders, min(2, len(folders))):
        _try(client.delete, f"/folders/{f['id']}")
        count("folder deleted (with its content)")
    me = client.get("/user", {"fields": "id"})["id"]
    users = [u for u in client.get("/users", {"fields": "id"}) if str(u["id"]) != str(me)]
    for u in rnd.sample(users, min(2, len(users))):
        _try(client.delete, f"/users/{u['id']}")
        count("user deleted")
    for u in pick(client.get("/users", {"fields": "id,group_ids"})):
        _try(client.put, f"/users/{u['id']}/roles", [])
        count("user roles cleared")
    for b in client.get("/boards"):
        for s in b.get("board_sections") or []:
            for item in (s.get("board_items") or [])[:1]:
                _try(client.delete, f"/board_items/{item['id']}")
                count("board item deleted")
    for p in pick(client.get("/scheduled_plans", {"all_users": "true"})):
        _try(client.delete, f"/scheduled_plans/{p['id']}")
        count("scheduled plan deleted")
    for g in pick(client.get("/groups")):
        _try(client.patch, f"/groups/{g['id']}", {"name": g["name"] + " (renamed)"})
        count("group renamed")
    return done


def _wreck_dashboard(client: LookerClient, dashboard_id: str, rnd: random.Random) -> None:
    dash = client.get(f"/dashboards/{dashboard_id}")
    _try(client.patch, f"/dashboards/{dashboard_id}", {"title": dash["title"] + " (edited)"})
    elements = dash.get("dashboard_elements") or []
    if elements:
        _try(client.delete, f"/dashboard_elements/{rnd.choice(elements)['id']}")
    if len(elements) > 1:
        e = elements[-1]
        _try(client.patch, f"/dashboard_elements/{e['id']}", {"title": "changed tile"})
    for f in (dash.get("dashboard_filters") or [])[:1]:
        _try(client.delete, f"/dashboard_filters/{f['id']}")
    for layout in dash.get("dashboard_layouts") or []:
        for c in (layout.get("dashboard_layout_components") or [])[:1]:
            _try(client.patch, f"/dashboard_layout_components/{c['id']}", {"row": 99, "column": 3})
