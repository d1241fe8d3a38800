"""Every recorded change in Looker's words, as Terraform writes a plan: one line per change, a
sign first (`+` new, `~` changed, `-` removed, `!` read back different), names not IDs:

    ~ folder "Marketing" → "Sales"
    ~ tile "Revenue": title "Q3" → "Q4"
    + tile "Margin" added
    + 9 tiles, 1 filter

One renderer for every page and command that words changes: a plan's or a restore's item, two
backups compared, an item's history across backups, drift since a backup. A new object is a
summary (`+ dashboard "KPIs" in folder "Sales"` and `+ 9 tiles, 1 filter`), not the positions of
each of its tiles; a reference is shown by the name of what it refers to when that name is known
(else by its ID, `#12`), never guessed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from restore.engine import Change, ContentType, Diff

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
VERBS = {"POST": "new", "DELETE": "removed", "PUT": "replaced", "PATCH": "changed"}
# Fields holding another object's ID → the type whose name the line shows.
REFERENCES = {
    "folder_id": ContentType.FOLDER,
    "space_id": ContentType.FOLDER,
    "parent_id": ContentType.FOLDER,
    "user_id": ContentType.USER,
    "owner_id": ContentType.USER,
    "look_id": ContentType.LOOK,
    "dashboard_id": ContentType.DASHBOARD,
}
# A field as Looker's UI names it, where the API's name says it less well.
LABELS = {"default_value": "default", "title_text": "title", "note_text": "note"}
PLURALS = {"board section": "board sections", "LookML model": "LookML models"}
NamesOf = dict[tuple[int, str], str]
# Where a new object goes, and whose it is: "in folder "Sales" owned by user "ann@…"".
PLACE = {
    "folder_id": "in",
    "space_id": "in",
    "parent_id": "in",
    "owner_id": "owned by",
    "user_id": "owned by",
}
# A new object's parts that are not worth a word (Looker makes a layout for every dashboard).
UNCOUNTED = ("dashboard_layouts", "dashboard_layout_components")
Line = dict[str, str]


def plan_lines(
    diff: Diff | None,
    pre_image: Any,
    ct: int,
    names: NamesOf,
    before: NamesOf | None = None,
) -> list[Line]:
    """[{sign, text}] for an item's changes. `names` {(type, ID): name} names the values the
    changes lead to, `before` (default: the same) the values they lead from: two backups or a
    backup and a destination do not share their names."""
    if diff is None:
        return []
    sides = (names if before is None else before, names)
    own = own_collection(ct)
    children = sub_resource_names(pre_image)
    created = any(c.method == "POST" and _collection(c.path) == own for c in diff.changes)
    lines: list[Line] = []
    new_children: Counter[str] = Counter()
    for change in diff.changes:
        collection = _collection(change.path)
        if collection == own:
            lines += own_lines(change, sides)
        elif created and collection in UNCOUNTED:
            continue
        elif change.method == "POST" and created:
            new_children[THINGS.get(collection, collection)] += 1
        else:
            lines.append(child_line(change, children, sides))
    if new_children:
        parts = [_count(n, noun) for noun, n in new_children.items()]
        lines.append(line("+", ", ".join(parts)))
    if diff.verify:
        lines += [
            line("!", f"re-read after writing: {label(field)} reads {_q(b)}, sent {_q(a)}")
            for field, (b, a) in diff.verify.items()
        ]
    return lines


def change_lines(
    changes: Iterable[Change], ct: int | str, names: NamesOf | None = None, **kw: Any
) -> list[Line]:
    """The lines of two versions compared (backups, history, drift): their changes as a plan
    records them; `ct` a type or its slug."""
    kind = ContentType.parse(ct) if isinstance(ct, str) else ContentType(int(ct))
    return plan_lines(Diff(changes=list(changes)), None, int(kind), names or {}, **kw)


def as_text(lines: list[Line]) -> list[str]:
    """The lines as the command line prints them (and its JSON `changes` holds them)."""
    return [f"{ln['sign']} {ln['text']}" for ln in lines]


def own_lines(change: Change, sides: tuple[NamesOf, NamesOf]) -> list[Line]:
    """The item's own object: new (a summary), changed (a line per field), removed, replaced."""
    noun = THINGS.get(_collection(change.path), "object")
    if change.method == "POST" and isinstance(change.body, dict):
        title = display_title(change.body)
        where = [
            f"{PLACE[field]} {where_words(field, change.body.get(field), sides[1])}"
            for field in PLACE
            if change.body.get(field) not in (None, "")
        ]
        text = f"{noun} {_q(title)}" if title else noun
        return [line("+", " ".join([text, *where]))]
    if change.fields is not None:
        return [line("~", moved(field, pair, sides)) for field, pair in change.fields.items()]
    if change.method == "DELETE":
        return [line("-", f"{noun} removed")]
    return [line("~", f"{noun} {VERBS.get(change.method) or 'changed'}")]


def child_line(change: Change, children: dict[str, str], sides: tuple[NamesOf, NamesOf]) -> Line:
    """A tile, filter, position, section…: `+ tile "Revenue" added`, `- filter "Date" removed`,
    `~ tile "Revenue": title "A" → "B"`."""
    collection = _collection(change.path)
    noun = THINGS.get(collection, collection.replace("_", " "))
    parts = [p for p in change.path.split("?")[0].split("/") if p]
    key = f"{collection}/{parts[1]}" if len(parts) > 1 else ""
    title = children.get(key) or (
        display_title(change.body) if isinstance(change.body, dict) else ""
    )
    if collection == "dashboard_layout_components":
        what = f"position of tile {_q(title)}" if title else "position of a tile"
    else:
        what = f"{noun} {_q(title)}" if title else noun
    if change.method == "POST":
        return line("+", f"{what} added")
    if change.method == "DELETE":
        return line("-", f"{what} removed")
    if change.fields is None:
        return line("~", f"{what} {VERBS.get(change.method) or 'changed'}")
    moves = [moved(field, pair, sides) for field, pair in change.fields.items()]
    return line("~", f"{what}: {', '.join(moves)}")


def moved(field: str, values: Any, sides: tuple[NamesOf, NamesOf]) -> str:
    """`title "A" → "B"`, `folder "Sales" → #14`: one field's two values, each side named
    from its own names."""
    before, after = values
    return f"{label(field)} {_value(field, before, sides[0])} → {_value(field, after, sides[1])}"


def line(sign: str, text: str) -> Line:
    return {"sign": sign, "text": text}


def own_collection(ct: int) -> str:
    slug = ContentType(int(ct)).slug
    return f"{slug}s"


def reference_ids(diff: Diff | None) -> dict[int, set[str]]:
    """{type: IDs} the changes refer to: their names are looked up once."""
    out: dict[int, set[str]] = {}
    for change in diff.changes if diff else []:
        values: list[tuple[str, Any]] = []
        if change.fields:
            values += [(f, v) for f, pair in change.fields.items() for v in pair]
        if isinstance(change.body, dict):
            values += list(change.body.items())
        for field, value in values:
            if field in REFERENCES and value not in (None, ""):
                out.setdefault(int(REFERENCES[field]), set()).add(str(value))
    return out


def where_words(field: str, value: Any, names: NamesOf) -> str:
    """ "folder "Sales"", or "a new folder" for one the same plan creates and names no more."""
    noun = label(field).replace("owner", "user").replace("space", "folder")
    noun = noun.replace("parent", "folder")
    name = names.get((int(REFERENCES[field]), str(value)))
    if name:
        return f"{noun} {_q(name)}"
    return f"a new {noun}" if str(value).startswith("(new") else f"{noun} #{value}"


def _value(field: str, value: Any, names: NamesOf) -> str:
    """A value as the line shows it: a reference by its name (`"Sales"`) or its ID (`#12`)."""
    if field not in REFERENCES or value in (None, ""):
        return _q(value)
    name = names.get((int(REFERENCES[field]), str(value)))
    return _q(name) if name else f"#{value}"


def _collection(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    return parts[0] if parts else ""


def label(name: str) -> str:
    """A field as a person names it: `folder_id` → "folder", `default_value` → "default"."""
    name = str(name)
    return LABELS.get(name) or name.removesuffix("_id").replace("_", " ")


def _q(value: Any) -> str:
    """Text in quotes (as Terraform shows strings); numbers, yes/no, lists and "(empty)" bare."""
    text = show(value)
    return f'"{text}"' if isinstance(value, str) and value != "" else text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {PLURALS.get(noun, noun + 's')}"


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


# Names looked up in one backup at most, per type: a page of changes names its references, it
# does not read a backup through.
NAMES_AT_MOST = 500


def backup_names(path: str, refs: dict[int, set[str]]) -> NamesOf:
    """Names of the objects `refs` {type: IDs} points at, as the backup at `path` holds them: a
    backup's IDs are named from that backup only. Empty when it cannot be read."""
    from restore.engine import BackupError, open_backup

    names: NamesOf = {}
    if not refs or not path:
        return names
    try:
        with open_backup(path) as reader:
            for ct, ids in refs.items():
                for item_id in sorted(ids)[:NAMES_AT_MOST]:
                    item = reader.get_item(ContentType(ct), item_id)
                    if item is not None and (title := display_title(item.content)):
                        names[(ct, item_id)] = title
    except (BackupError, OSError):
        return {}
    return names


def refs_of(changes: Iterable[Iterable[Change]]) -> dict[int, set[str]]:
    """{type: IDs} the changes of many items refer to, to name them in one read per backup."""
    out: dict[int, set[str]] = {}
    for item_changes in changes:
        for ct, ids in reference_ids(Diff(changes=list(item_changes))).items():
            out.setdefault(ct, set()).update(ids)
    return out


def version_lines(versions: list[Any], ct: int | str) -> dict[int, list[Line]]:
    """{backup ID: lines} for an item's versions across backups (`item_history`), oldest first:
    each version's changes from the one before, the old values named from the older backup, the
    new from the newer."""
    from restore.models import Backup

    wanted = {v.backup_id for v in versions}
    paths = dict(Backup.objects.filter(pk__in=wanted).values_list("pk", "path"))
    out: dict[int, list[Line]] = {}
    previous: Any = None
    for version in versions:
        refs = refs_of([version.changes])
        older = backup_names(paths.get(previous.backup_id, ""), refs) if previous else {}
        newer = backup_names(paths.get(version.backup_id, ""), refs)
        out[version.backup_id] = change_lines(version.changes, ct, newer, before=older)
        previous = version
    return out


def destination_names(found: dict[str, list[Any]]) -> NamesOf:
    """Names of the destination's folders, users, looks and dashboards as a drift check read
    them (`drift_findings`): an unchanged one goes by its backup's name, a changed one by its
    new name when that changed, a created one by its own. A deleted one has none there."""
    named = {int(ct) for ct in REFERENCES.values()}
    names: NamesOf = {}
    for kind in ("unchanged", "changed", "created"):
        for finding in found.get(kind, []):
            if int(finding.content_type) not in named:
                continue
            title = finding.title
            own = own_collection(finding.content_type)
            for change in finding.changes:
                fields = change.fields if _collection(change.path) == own else None
                renamed = [fields[f][1] for f in ("title", "name") if fields and f in fields]
                title = str(renamed[0] or title) if renamed else title
            if title:
                names[(int(finding.content_type), str(finding.id))] = title
    return names


def drift_sides(session: Any, found: dict[str, list[Any]]) -> tuple[NamesOf, NamesOf]:
    """A drift check's two sides named: the backup's values from the backup, the destination's
    from what the check read of the destination (`destination_names`)."""
    refs = refs_of(f.changes for f in found.get("changed", []))
    if not refs:
        return {}, {}
    backup = backup_names(session.backup.path, refs) if session.backup else {}
    return backup, destination_names(found)


def reference_names(session: Any, refs: dict[int, set[str]]) -> NamesOf:
    """Names of the destination objects the changes refer to: from this session's own results,
    else through the ID map back to the backup (the page never asks Looker)."""
    from restore.engine import BackupError, open_backup
    from restore.models import IDMapping

    names: NamesOf = {}
    for ct, ids in refs.items():
        rows = session.results.filter(content_type=ct, destination_id__in=ids)
        names.update({(ct, d): n for d, n in rows.values_list("destination_id", "name") if n})
        missing = ids - {d for c, d in names if c == ct}
        if missing and session.backup is not None:
            mapped = list(
                IDMapping.objects.filter(
                    destination_instance=session.destination,
                    content_type=ct,
                    destination_id__in=missing,
                ).values_list("destination_id", "source_id")[:50]
            )
            if (session.identity or {}).get("same_instance"):  # the backup's IDs are Looker's
                mapped += [(d, d) for d in missing - {d for d, _ in mapped}]
            try:
                with open_backup(session.backup.path) as reader:
                    for dest, sid in mapped:
                        item = reader.get_item(ContentType(ct), sid)
                        if item is not None and (title := display_title(item.content)):
                            names[(ct, dest)] = title
            except BackupError:
                pass
    return names
