"""The words of a recorded diff: what a Looker user calls the API's collections, the names of a
dashboard's tiles and filters, a value as a person reads it. `plan_lines` writes a plan's lines
from them; `diff_rows` the field-by-field rows of two versions compared (backups, drift)."""

from __future__ import annotations

import json
from typing import Any

from restore.engine import Change, Diff

# The API collection a request path starts with → what a Looker user calls it.
THINGS = {
    "dashboards": "dashboard",
    "dashboard_elements": "tile",
    "dashboard_filters": "filter",
    "dashboard_layouts": "layout",
    "dashboard_layout_components": "tile position",
    "looks": "look",
    "folders": "folder",
    "users": "user",
    "groups": "group",
    "roles": "role",
    "boards": "board",
    "board_sections": "board section",
    "board_items": "board item",
    "scheduled_plans": "schedule",
    "permission_sets": "permission set",
    "model_sets": "model set",
    "lookml_models": "LookML model",
    "user_attributes": "user attribute",
    "alerts": "alert",
}
VERBS = {"POST": "new", "DELETE": "removed", "PUT": "replaced", "PATCH": "", "verify": "re-read"}
TILE_FACTS = ("title", "type", "note_text", "body_text", "subtitle_text", "look_id")


def diff_rows(diff: Diff | None, pre_image: Any = None) -> list[dict[str, str]]:
    """Rows {what, field, before, after} for the page, from an item's recorded changes: each
    write's changed fields ({name: [destination, backup]}) or new object, then what read back
    different after writing."""
    if diff is None:
        return []
    changes = list(diff.changes)
    if diff.verify:
        changes.append(Change(method="verify", fields=diff.verify))
    names = sub_resource_names(pre_image)
    return [row for change in changes for row in change_rows(change, names)]


def change_rows(change: Change, names: dict[str, str]) -> list[dict[str, str]]:
    what = thing(change.path, change.method, change.body, names)
    if change.fields is not None:
        return [
            {"what": what, "field": label(name), "before": show(b), "after": show(a)}
            for name, (b, a) in ((n, pair(v)) for n, v in change.fields.items())
        ]
    if change.method == "POST" and change.body is not None:
        return [{"what": what, "field": "", "before": "—", "after": new_object(change.body)}]
    if change.method == "DELETE":
        return [{"what": what, "field": "", "before": "exists", "after": "removed"}]
    return [{"what": what, "field": "", "before": "", "after": ""}] if what else []


def thing(path: str, method: str, body: Any, names: dict[str, str]) -> str:
    """`/dashboard_elements/5` → "tile 'Revenue by month'"; `/dashboards/12` → "dashboard"."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    collection = parts[0] if parts else ""
    noun = THINGS.get(collection, collection.replace("_", " ")) or "object"
    key = f"{collection}/{parts[1]}" if len(parts) > 1 else ""
    title = names.get(key) or (display_title(body) if isinstance(body, dict) else "")
    verb = VERBS.get(method, "")
    text = f"{verb} {noun}".strip()
    return f"{text} '{title}'" if title else text


def display_title(obj: dict[str, Any]) -> str:
    for key in ("title", "name", "title_text", "email"):
        if obj.get(key):
            return str(obj[key])
    return ""


def sub_resource_names(pre_image: Any) -> dict[str, str]:
    """ "dashboard_elements/5" → its title, from the object as it was (tiles, filters, sections);
    a tile's position is named after its tile."""
    names: dict[str, str] = {}
    if not isinstance(pre_image, dict):
        return names
    for collection in ("dashboard_elements", "dashboard_filters", "board_sections", "board_items"):
        for obj in pre_image.get(collection) or []:
            if isinstance(obj, dict) and obj.get("id") is not None:
                names[f"{collection}/{obj['id']}"] = display_title(obj) or f"#{obj['id']}"
    for layout in pre_image.get("dashboard_layouts") or []:
        for comp in (layout or {}).get("dashboard_layout_components") or []:
            if isinstance(comp, dict) and comp.get("id") is not None:
                tile = names.get(f"dashboard_elements/{comp.get('dashboard_element_id')}")
                names[f"dashboard_layout_components/{comp['id']}"] = tile or f"#{comp['id']}"
    return names


def new_object(body: Any) -> str:
    """A new object in a few facts ("type: looker_line · query: ecommerce › orders · 3 fields"),
    not its JSON."""
    if not isinstance(body, dict):
        return show(body)
    facts = [f"{label(k)}: {show(body[k])}" for k in TILE_FACTS if body.get(k)]
    query = body.get("query") if isinstance(body.get("query"), dict) else None
    if query:
        explore = " › ".join(str(query[k]) for k in ("model", "view") if query.get(k))
        fields = query.get("fields") or []
        facts.append(f"query: {explore}" + (f" · {len(fields)} fields" if fields else ""))
    elif body.get("query_id"):
        facts.append(f"query {body['query_id']}")
    if not facts:
        facts = [f"{label(k)}: {show(v)}" for k, v in list(body.items())[:6] if v not in (None, "")]
    return " · ".join(facts)


def label(name: str) -> str:
    return str(name).replace("_", " ")


def pair(values: Any) -> tuple[Any, Any]:
    """A changed field's [destination, backup] values (`diffs.field_diff`)."""
    before, after = values
    return before, after


def show(value: Any) -> str:
    """A value as a person reads it: text as is, nothing as "(empty)", yes/no, short JSON."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 400 else text[:400] + "…"
