"""The resource types the emulator serves, and the small helpers every part of the API shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from looker_emulator.spec import ModelSpec, Route

CAN = {"show": True, "update": True, "destroy": True, "index": True}
TOKEN_TTL_S = 3600

# Query parameters that steer listing rather than filter on a field.
CONTROL_PARAMS = frozenset(
    {"fields", "limit", "offset", "page", "per_page", "sorts", "filter_or", "all_users"}
)


@dataclass(slots=True)
class Request:
    """One API call as handlers see it: the spec route, path/query parameters, parsed body, caller."""

    route: Route
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    user_id: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    """A top-level resource type: its table, response schema and the rules Looker enforces on it."""

    table: str
    singular: str
    schema: str
    refs: dict[str, str] = field(default_factory=dict)  # field -> referenced table
    required: tuple[str, ...] = ()  # required on create beyond the body schema's own `required`
    unique: tuple[str, ...] = ()  # globally unique (case-insensitive) fields
    soft_delete: bool = False


KINDS: dict[str, Kind] = {
    k.table: k
    for k in (
        Kind("users", "user", "User", refs={"home_folder_id": "folders"}),
        Kind("groups", "group", "Group", required=("name",), unique=("name",)),
        Kind("permission_sets", "permission_set", "PermissionSet", {}, ("name",), ("name",)),
        Kind("model_sets", "model_set", "ModelSet", {}, ("name",), ("name",)),
        Kind(
            "roles",
            "role",
            "Role",
            refs={"permission_set_id": "permission_sets", "model_set_id": "model_sets"},
            required=("name", "permission_set_id", "model_set_id"),
            unique=("name",),
        ),
        Kind(
            "folders",
            "folder",
            "Folder",
            refs={"parent_id": "folders"},
            required=("name", "parent_id"),
        ),
        Kind("lookml_models", "lookml_model", "LookmlModel", required=("name",), unique=("name",)),
        Kind(
            "looks",
            "look",
            "LookWithQuery",
            refs={"folder_id": "folders", "query_id": "queries", "user_id": "users"},
            required=("title", "folder_id"),
            soft_delete=True,
        ),
        Kind(
            "dashboards",
            "dashboard",
            "Dashboard",
            refs={"folder_id": "folders", "user_id": "users"},
            required=("title", "folder_id"),
            soft_delete=True,
        ),
        Kind(
            "dashboard_elements",
            "dashboard_element",
            "DashboardElement",
            refs={
                "dashboard_id": "dashboards",
                "query_id": "queries",
                "look_id": "looks",
                "dashboard_layout_id": "dashboard_layouts",
                "merge_result_id": "merge_queries",
            },
            required=("dashboard_id",),
        ),
        Kind(
            "dashboard_filters",
            "dashboard_filter",
            "DashboardFilter",
            refs={"dashboard_id": "dashboards"},
            required=("dashboard_id",),
        ),
        Kind(
            "dashboard_layouts",
            "dashboard_layout",
            "DashboardLayout",
            refs={"dashboard_id": "dashboards"},
            required=("dashboard_id",),
        ),
        Kind(
            "dashboard_layout_components",
            "dashboard_layout_component",
            "DashboardLayoutComponent",
            refs={
                "dashboard_layout_id": "dashboard_layouts",
                "dashboard_element_id": "dashboard_elements",
            },
        ),
        Kind("boards", "board", "Board", required=("title",)),
        Kind(
            "board_sections",
            "board_section",
            "BoardSection",
            refs={"board_id": "boards"},
            required=("board_id",),
        ),
        Kind(
            "board_items",
            "board_item",
            "BoardItem",
            refs={
                "board_section_id": "board_sections",
                "dashboard_id": "dashboards",
                "look_id": "looks",
            },
            required=("board_section_id",),
        ),
        Kind(
            "scheduled_plans",
            "scheduled_plan",
            "ScheduledPlan",
            refs={
                "user_id": "users",
                "dashboard_id": "dashboards",
                "look_id": "looks",
                "query_id": "queries",
            },
            required=("name",),
        ),
    )
}

# Search parameters whose name differs from the field they filter.
PARAM_FIELD = {
    ("users", "group_id"): "group_ids",
    ("roles", "model_set_ids"): "model_set_id",
    ("roles", "permission_set_ids"): "permission_set_id",
    ("boards", "creator_id"): "user_id",
    ("users", "ids"): "id",
}


def like_pattern(pattern: str) -> re.Pattern[str]:
    """Looker's search strings are SQL LIKE patterns: % and _ are wildcards, case-insensitive."""
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def is_id_field(name: str) -> bool:
    """ID search parameters take comma-separated lists and match exactly."""
    return name == "id" or name.endswith("_id") or name.endswith("_ids")


DEFAULT_SCHEMA = {
    "queries": "Query",
    "merge_queries": "MergeQuery",
    "explores": "LookmlModelExplore",
}

# A parent's parts: Looker answers them in no promised order (see Faults.shuffle_lists).
SUB_RESOURCES = frozenset(
    {
        "dashboard_elements",
        "dashboard_filters",
        "dashboard_layouts",
        "dashboard_layout_components",
        "board_sections",
        "board_items",
    }
)

NESTED: dict[str, frozenset[str]] = {
    "dashboards": frozenset({"dashboard_elements", "dashboard_filters", "dashboard_layouts"}),
    "folders": frozenset({"dashboards", "looks"}),
}


def id_order(rid: str) -> tuple[int, Any]:
    """Sort key: numeric IDs numerically (as Looker lists them), others after, by name."""
    return (0, int(rid)) if rid.isdigit() else (1, rid)


def base62(n: int) -> str:
    """Query slugs and client IDs look like Looker's: short base-62 strings."""
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(chars[r])
    return "".join(out) or "0"


def not_writable(model: ModelSpec, name: str, strict_ro: bool) -> bool:
    """True for fields a body may not set: unknown to the schema, or read-only (when that applies)."""
    f = model.fields.get(name)
    return f is None or (f.read_only and strict_ro)
