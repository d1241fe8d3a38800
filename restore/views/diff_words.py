"""The words of a recorded diff (`plan_lines` writes the lines): what a Looker user calls the API's
collections, the names of a dashboard's tiles and filters, a value as a person reads it."""

from __future__ import annotations

import json
from typing import Any

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
