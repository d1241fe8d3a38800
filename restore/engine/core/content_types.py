"""Looker content types as lookervault numbers them, and the order a restore walks them in."""

from __future__ import annotations

from enum import IntEnum


class ContentType(IntEnum):
    """lookervault's `content_items.content_type` codes (schema version 4)."""

    DASHBOARD = 1
    LOOK = 2
    LOOKML_MODEL = 3
    EXPLORE = 4
    FOLDER = 5
    BOARD = 6
    USER = 7
    GROUP = 8
    ROLE = 9
    PERMISSION_SET = 10
    MODEL_SET = 11
    SCHEDULED_PLAN = 12

    @property
    def slug(self) -> str:
        """Lower-case name used in URLs, CLI arguments, JSON keys and composite IDs (`dashboard::42`)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | ContentType) -> ContentType:
        """Accept `dashboard`, `dashboards`, `DASHBOARD`, `1` or a member; raise ValueError otherwise."""
        if isinstance(value, ContentType):
            return value
        text = str(value).strip().lower().replace("-", "_")
        if text.isdigit():
            return cls(int(text))
        for candidate in (text, text.removesuffix("s")):
            if candidate.upper() in cls.__members__:
                return cls[candidate.upper()]
        choices = ", ".join(t.slug for t in cls)
        raise ValueError(f"unknown content type {value!r}; expected one of: {choices}")


# Dependency order of a full restore: everything a type refers to comes before it.
RESTORE_ORDER: tuple[ContentType, ...] = (
    ContentType.USER,
    ContentType.GROUP,
    ContentType.PERMISSION_SET,
    ContentType.MODEL_SET,
    ContentType.ROLE,
    ContentType.FOLDER,
    ContentType.LOOKML_MODEL,
    ContentType.LOOK,
    ContentType.DASHBOARD,
    ContentType.BOARD,
    ContentType.SCHEDULED_PLAN,
)

# Explores are defined in LookML and cannot be written through the API.
NOT_RESTORABLE: frozenset[ContentType] = frozenset({ContentType.EXPLORE})

# Where each restorable type lives in the Looker API (`{path}/{id}` reads one object).
API_PATHS: dict[ContentType, str] = {
    ContentType.USER: "/users",
    ContentType.GROUP: "/groups",
    ContentType.PERMISSION_SET: "/permission_sets",
    ContentType.MODEL_SET: "/model_sets",
    ContentType.ROLE: "/roles",
    ContentType.FOLDER: "/folders",
    ContentType.LOOKML_MODEL: "/lookml_models",
    ContentType.LOOK: "/looks",
    ContentType.DASHBOARD: "/dashboards",
    ContentType.BOARD: "/boards",
    ContentType.SCHEDULED_PLAN: "/scheduled_plans",
}
