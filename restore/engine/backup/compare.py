"""What changed between two versions of the same Looker content, offline.

Two backups (or two versions of one item) are compared by type and ID. The result speaks the plan's
language: a change is recorded as the `Change` a restore would record (a PATCH of the fields that
differ, a new tile as a POST of it, a removed tile as a DELETE), so the pages and the CLI word it
with the plan's diff wording (`~ tile "Revenue": title "A" → "B"`, `+ tile "Margin" added`).

Only what a person changes counts: counters Looker keeps (views, favourites), links, permissions
of the API user (`can`), the copies of other objects a response embeds (a dashboard's `folder`) and
derived HTML are left out, else every nightly backup would "change" every dashboard.

Memory: a backup is streamed type by type; of each item only its ID, a digest of what counts and a
few facts (title, folder) are kept, and only items whose digests differ are read again whole.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from restore.engine.backup.reader import BackupReader, Selection
from restore.engine.core.content_types import API_PATHS, ContentType
from restore.engine.core.diffs import instant, same
from restore.engine.core.documents import Change
from restore.engine.core.words import plural

Body = dict[str, Any]

# Kept by Looker, not by a person: a change in them is not a change of the content.
NOT_CONTENT = frozenset(
    {
        "can",
        "updated_at",
        "view_count",
        "favorite_count",
        "last_accessed_at",
        "last_viewed_at",
        "last_login_at",
        "last_updater_id",
        "last_updater_name",
        "content_favorite_id",
        "url",
        "embed_url",
        "short_url",
        "edit_uri",
        "users_url",
        "user_name",
        "sessions",
        "looker_versions",
        "child_count",
        "user_count",
        "alert_count",
        "avatar_url",
        "dashboard_title",
        "element_title",
        "element_title_hidden",
        "vis_type",
        "refresh_interval_to_i",
        "synced_at",
        # copies of other objects, compared through their IDs (folder_id, query_id, look_id, …)
        "folder",
        "space",
        "user",
        "model",
        "look",
        "query",
        "result_maker",
        "permission_set",
        "model_set",
    }
)
# Read-only copies Looker derives from the content an object points at (a board item's title is
# its dashboard's; a schedule's title its look's): they change with that content, not with this.
DERIVED_IN: dict[str, frozenset[str]] = {
    "board_items": frozenset(
        {
            "title",
            "description",
            "image_url",
            "location",
            "content_created_by",
            "content_updated_at",
            "content_metadata_id",
        }
    ),
}
DERIVED_TOP: dict[ContentType, frozenset[str]] = {ContentType.SCHEDULED_PLAN: frozenset({"title"})}
# Sub-resources compared item by item (by ID), as a restore writes them: collection → the API
# path its members live under (what the plan's wording names: "tile", "filter", …).
SUB_RESOURCES = {
    "dashboard_elements": "dashboard_elements",
    "dashboard_filters": "dashboard_filters",
    "board_sections": "board_sections",
}
LAYOUT_PARTS = "dashboard_layout_components"
_encoder = msgspec.json.Encoder(order="sorted")


def content_of(value: Any, derived: frozenset[str] = frozenset()) -> Any:
    """`value` without what Looker keeps by itself (see NOT_CONTENT, DERIVED_IN), at every
    depth, timestamps in one form (a backup holds datetimes, an API answer strings); `derived`:
    the fields derived at this level. Runs for every item of a drift check: scalars are handled
    inline, without a call each."""
    if isinstance(value, list):
        return [content_of(v, derived) if isinstance(v, dict | list) else v for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k in NOT_CONTENT or k in derived or k.endswith("_as_html"):
            continue
        if isinstance(v, dict | list):
            v = content_of(v, DERIVED_IN.get(k, frozenset()))
        elif isinstance(v, datetime) or (isinstance(v, str) and k.endswith("_at")):
            v = instant(v)
        out[k] = v
    return out


def content_keys(ct: ContentType, content: Body) -> set[str]:
    """The top-level fields of an item that count (`content_of`'s, without walking them)."""
    derived = DERIVED_TOP.get(ct, frozenset())
    return {
        k
        for k in content
        if k not in NOT_CONTENT and k not in derived and not k.endswith("_as_html")
    }


def item_content(ct: ContentType, content: Body) -> Body:
    """What counts of an item of type `ct` (see `content_of`)."""
    return content_of(content, DERIVED_TOP.get(ct, frozenset()))


def digest(ct: ContentType, content: Body) -> bytes:
    """A short fingerprint of what counts in an item: equal digests, unchanged item."""
    return hashlib.blake2b(_encoder.encode(item_content(ct, content)), digest_size=16).digest()


def display_title(content: Body) -> str:
    for key in ("title", "name", "title_text", "display_name", "email"):
        if content.get(key):
            return str(content[key])
    return ""


# -- one item -------------------------------------------------------------------------------------
def item_changes(ct: ContentType, before: Body, after: Body) -> list[Change]:
    """The changes from `before` to `after` (two versions of one item), as the plan records them.

    A field one version does not hold is not compared (absent is not empty: a backup that did not
    hold a dashboard's tiles says nothing about them)."""
    old, new = item_content(ct, before), item_content(ct, after)
    path = f"{API_PATHS.get(ct, '/' + ct.slug + 's')}/{after.get('id') or before.get('id') or ''}"
    top = {
        name: [old[name], new[name]]
        for name in sorted(set(old) & set(new))
        if name not in SUB_RESOURCES and name != "dashboard_layouts"
        if not same(new[name], old[name])
    }
    changes = [Change(method="PATCH", path=path, fields=top)] if top else []
    for collection in SUB_RESOURCES:
        if isinstance(old.get(collection), list) and isinstance(new.get(collection), list):
            changes += member_changes(collection, old[collection], new[collection])
    if isinstance(old.get("dashboard_layouts"), list) and isinstance(
        new.get("dashboard_layouts"), list
    ):
        tiles = {
            str(t.get("id")): display_title(t)
            for t in old.get("dashboard_elements") or []
            if isinstance(t, dict)
        }
        names = {
            str(c.get("id")): tiles.get(str(c.get("dashboard_element_id")), "")
            for c in _components(old)
        }
        changes += member_changes(
            LAYOUT_PARTS, _components(old), _components(new), only_changed=True, names=names
        )
    return changes


def _components(dashboard: Body) -> list[Body]:
    return [
        comp
        for layout in dashboard.get("dashboard_layouts") or []
        for comp in (layout or {}).get(LAYOUT_PARTS) or []
        if isinstance(comp, dict)
    ]


def member_changes(
    collection: str,
    old: list[Any],
    new: list[Any],
    *,
    only_changed: bool = False,
    names: dict[str, str] | None = None,
) -> list[Change]:
    """Tiles (filters, sections, tile positions) added, removed and changed, matched by ID. A
    tile position is reported only when it moved (its tile's coming or going says enough). A
    changed or removed member carries its title as the body, so the wording can name it."""
    before = {str(m["id"]): m for m in old if isinstance(m, dict) and m.get("id") is not None}
    after = {str(m["id"]): m for m in new if isinstance(m, dict) and m.get("id") is not None}
    names = names or {}
    changes: list[Change] = []
    for mid, member in after.items():
        if mid not in before:
            if not only_changed:
                changes.append(Change(method="POST", path=f"/{collection}", body=member))
            continue
        fields = {
            k: [before[mid].get(k), v]
            for k, v in member.items()
            if k in before[mid] and k != "id" and not same(v, before[mid].get(k))
        }
        if fields:
            title = names.get(mid) or display_title(before[mid])
            changes.append(
                Change(
                    method="PATCH",
                    path=f"/{collection}/{mid}",
                    fields=fields,
                    body={"title": title} if title else None,
                )
            )
    if not only_changed:
        changes += [
            Change(method="DELETE", path=f"/{collection}/{mid}", body=_named(m))
            for mid, m in before.items()
            if mid not in after
        ]
    return changes


def _named(member: Body) -> Body | None:
    title = display_title(member)
    return {"title": title} if title else None


# -- two backups ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """What is kept of an item while streaming a backup."""

    raw_id: str
    digest: bytes
    title: str
    folder_id: str | None


@dataclass
class Entry:
    """An item added, removed or changed between two backups."""

    type: str
    id: str
    title: str
    folder_id: str | None = None
    changes: list[Change] = field(default_factory=list)
    unreadable_in: str = ""  # "older" / "newer": the backup whose copy of it cannot be read

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id, "title": self.title}
        if self.folder_id is not None:
            out["folder_id"] = self.folder_id
        if self.changes:
            out["fields"] = fields_of(self.changes)
        if self.unreadable_in:
            out["unreadable_in"] = self.unreadable_in
        return out


@dataclass
class MassChange:
    """Many items of one type leaving (or arriving in) one folder at once: shown first."""

    change: str  # "removed" or "added"
    type: str
    count: int
    folder_id: str | None
    folder: str

    @property
    def text(self) -> str:
        where = f" folder '{self.folder}'" if self.folder else " no folder"
        verb = "gone from" if self.change == "removed" else "new in"
        return f"{plural(self.count, self.type)} {verb}{where}"


@dataclass
class Comparison:
    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[Entry] = field(default_factory=list)
    mass: list[MassChange] = field(default_factory=list)
    # Items one backup holds but cannot be read (a corrupt blob): neither removed nor added.
    unreadable: list[Entry] = field(default_factory=list)
    # Are the two backups of one instance (`identity.lineage`)? Set by the caller; None: unknown.
    same_lineage: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "same_lineage": self.same_lineage,
            "added": [e.as_dict() for e in self.added],
            "removed": [e.as_dict() for e in self.removed],
            "changed": [e.as_dict() for e in self.changed],
            "unreadable": [e.as_dict() for e in self.unreadable],
            "mass_changes": [{**m.__dict__, "text": m.text} for m in self.mass],
        }


def fields_of(changes: list[Change]) -> dict[str, Any]:
    """{field: [before, after]} for the item's own fields; a tile's (filter's…) under its path:
    {"dashboard_elements/5": {"title": [...]}} changed, "added" or "removed"."""
    out: dict[str, Any] = {}
    for change in changes:
        key = change.path.strip("/")
        if change.method == "POST":
            body = change.body if isinstance(change.body, dict) else {}
            out[f"{key}/{body.get('id', '')}"] = "added"
        elif change.method == "DELETE":
            out[key] = "removed"
        elif key.split("/")[0] in SUB_RESOURCES or key.startswith(LAYOUT_PARTS):
            out[key] = {k: list(v) for k, v in (change.fields or {}).items()}
        else:
            out.update({k: list(v) for k, v in (change.fields or {}).items()})
    return out


def scan(reader: BackupReader, ct: ContentType) -> tuple[dict[str, Seen], dict[str, str]]:
    """Every live item of a type: ID → what is kept of it; and ID → name of those whose blob
    cannot be read (held, but nothing is known of its content)."""
    out: dict[str, Seen] = {}
    unreadable: dict[str, str] = {}
    for item in reader.iter_items(Selection(content_types=[ct])):
        if item.error is not None:
            unreadable[item.id] = item.name or ""
            continue
        content = item.content
        folder = content.get("folder_id")
        out[item.id] = Seen(
            item.raw_id,
            digest(ct, content),
            display_title(content) or item.name or "",
            None if folder in (None, "") else str(folder),
        )
    return out, unreadable


def compare_backups(
    older: BackupReader,
    newer: BackupReader,
    types: list[ContentType] | None = None,
    *,
    mass_at: int = 10,
) -> Comparison:
    """Items added, removed and changed from `older` to `newer`, type by type, by ID. An item
    one side holds unreadable is listed as such, never as added or removed."""
    result = Comparison()
    for ct in types or list(ContentType):
        (before, broken_before), (after, broken_after) = scan(older, ct), scan(newer, ct)
        result.unreadable += [
            Entry(ct.slug, i, name, unreadable_in=side)
            for side, broken in (("older", broken_before), ("newer", broken_after))
            for i, name in broken.items()
        ]
        result.added += [
            _entry(ct, i, s) for i, s in after.items() if i not in before and i not in broken_before
        ]
        result.removed += [
            _entry(ct, i, s) for i, s in before.items() if i not in after and i not in broken_after
        ]
        moved = [i for i, s in after.items() if i in before and before[i].digest != s.digest]
        for entry in _changed(older, newer, ct, moved, before, after):
            result.changed.append(entry)
    result.mass = mass_changes(result, older, newer, at=mass_at)
    return result


def _entry(ct: ContentType, item_id: str, seen: Seen) -> Entry:
    return Entry(ct.slug, item_id, seen.title, seen.folder_id)


def _changed(
    older: BackupReader,
    newer: BackupReader,
    ct: ContentType,
    ids: list[str],
    before: dict[str, Seen],
    after: dict[str, Seen],
) -> Iterator[Entry]:
    olds = older.items_by_stored_ids(ct, [before[i].raw_id for i in ids])
    news = newer.items_by_stored_ids(ct, [after[i].raw_id for i in ids])
    for old, new in zip(olds, news, strict=True):
        changes = item_changes(ct, old.content, new.content)
        if changes:
            yield Entry(ct.slug, new.id, after[new.id].title, after[new.id].folder_id, changes)


def mass_changes(
    result: Comparison, older: BackupReader, newer: BackupReader, *, at: int
) -> list[MassChange]:
    """Removals (arrivals) of at least `at` items of one type from (into) one folder, largest
    first: the folder's name from the backup that still holds it."""
    found: list[MassChange] = []
    for change, entries, reader in (
        ("removed", result.removed, older),
        ("added", result.added, newer),
    ):
        groups = Counter((e.type, e.folder_id) for e in entries)
        for (slug, folder_id), n in groups.items():
            if n >= at:
                found.append(MassChange(change, slug, n, folder_id, _folder(reader, folder_id)))
    return sorted(found, key=lambda m: -m.count)


def _folder(reader: BackupReader, folder_id: str | None) -> str:
    if folder_id is None:
        return ""
    item = reader.get_item(ContentType.FOLDER, folder_id)
    if item is None or item.error is not None:
        return f"#{folder_id}"
    return display_title(item.content) or f"#{folder_id}"


def by_type(entries: list[Entry]) -> dict[str, list[Entry]]:
    grouped: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.type].append(entry)
    return dict(grouped)


def compare_backup_files(
    older: str, newer: str, types: list[ContentType] | None = None, *, mass_at: int = 10
) -> Comparison:
    """`compare_backups` of two backup files (opened read-only, closed after)."""
    from restore.engine.backup.reader import open_backup

    with open_backup(older) as a, open_backup(newer) as b:
        return compare_backups(a, b, types, mass_at=mass_at)
