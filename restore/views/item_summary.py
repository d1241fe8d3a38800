"""A backup item in one sentence before its JSON: "Dashboard with 9 tiles and 1 filter, in folder
Sales, owned by Ann" — what a person checks before restoring it."""

from __future__ import annotations

from typing import Any

from restore.views.plan_lines import display_title

# Parts of an object worth counting, in the words Looker's UI uses.
PARTS = (
    ("dashboard_elements", "tile", "tiles"),
    ("dashboard_filters", "filter", "filters"),
    ("board_sections", "section", "sections"),
    ("board_items", "item", "items"),
    ("group_ids", "group", "groups"),
    ("role_ids", "role", "roles"),
    ("scheduled_plan_destination", "recipient", "recipients"),
)


def summary(slug: str, content: Any, row: dict[str, Any]) -> str:
    """The sentence; "" when the content says nothing beyond its name."""
    if not isinstance(content, dict):
        return ""
    noun = slug.replace("_", " ").capitalize()
    counts = [_count(content.get(key), one, many) for key, one, many in PARTS]
    counts = [c for c in counts if c]
    text = f"{noun} with {_and(counts)}" if counts else noun
    query = content.get("query") if isinstance(content.get("query"), dict) else None
    if query and query.get("model"):
        explore = " › ".join(str(query[k]) for k in ("model", "view") if query.get(k))
        fields = len(query.get("fields") or [])
        text += f", a query of {explore}" + (f" ({fields} fields)" if fields else "")
    if row.get("folder_id"):
        text += f", in folder {row.get('folder_name') or '#' + str(row['folder_id'])}"
    if row.get("owner"):
        text += f", owned by {row.get('owner_name') or '#' + str(row['owner'])}"
    if content.get("email") and slug == "user":
        text += f", {content['email']}"
    if row.get("deleted_at") or content.get("deleted"):
        text += "; deleted (in the trash) when the backup was taken"
    return text if text != noun or display_title(content) else ""


def _count(value: Any, one: str, many: str) -> str:
    n = len(value) if isinstance(value, list) else 0
    return f"{n} {one if n == 1 else many}" if n else ""


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
