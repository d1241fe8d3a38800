"""An item's recorded changes as Terraform writes a plan: one line per change, a sign first
(`+` new, `~` changed, `-` removed, `!` read back different), names not IDs:

    ~ folder "Marketing" → "Sales"
    ~ title "Q3" → "Q4"
    + 9 tiles, 1 filter

A new object is a summary (`+ dashboard "KPIs" in folder "Sales"` and `+ 9 tiles, 1 filter`), not
the positions of each of its tiles; a reference is shown by the name of what it refers to."""

from __future__ import annotations

from collections import Counter
from typing import Any

from restore.engine import Change, ContentType, Diff
from restore.views.diff_words import THINGS, VERBS, display_title, show, sub_resource_names

# Fields holding another object's destination ID → the type whose name the line shows.
REFERENCES = {
    "folder_id": ContentType.FOLDER,
    "space_id": ContentType.FOLDER,
    "parent_id": ContentType.FOLDER,
    "user_id": ContentType.USER,
    "owner_id": ContentType.USER,
    "look_id": ContentType.LOOK,
    "dashboard_id": ContentType.DASHBOARD,
}
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


def plan_lines(diff: Diff | None, pre_image: Any, ct: int, names: NamesOf) -> list[dict[str, str]]:
    """[{sign, text}] for an item's changes; `names` {(type, destination ID): name}."""
    if diff is None:
        return []
    own = own_collection(ct)
    children = sub_resource_names(pre_image)
    created = any(c.method == "POST" and _collection(c.path) == own for c in diff.changes)
    lines: list[dict[str, str]] = []
    new_children: Counter[str] = Counter()
    for change in diff.changes:
        collection = _collection(change.path)
        if collection == own:
            lines += own_lines(change, names)
        elif created and collection in UNCOUNTED:
            continue
        elif change.method == "POST" and created:
            new_children[THINGS.get(collection, collection)] += 1
        else:
            lines += child_lines(change, children, names)
    if new_children:
        parts = [_count(n, noun) for noun, n in new_children.items()]
        lines.append(line("+", ", ".join(parts)))
    if diff.verify:
        lines += [
            line("!", f"re-read after writing: {field} reads {_q(b)}, sent {_q(a)}")
            for field, (b, a) in diff.verify.items()
        ]
    return lines


def own_lines(change: Change, names: NamesOf) -> list[dict[str, str]]:
    """The item's own object: new (a summary), changed (a line per field), removed, replaced."""
    noun = THINGS.get(_collection(change.path), "object")
    if change.method == "POST" and isinstance(change.body, dict):
        title = display_title(change.body)
        where = [
            f"{PLACE[field]} {where_words(field, change.body.get(field), names)}"
            for field in PLACE
            if change.body.get(field) not in (None, "")
        ]
        text = f"{noun} {_q(title)}" if title else noun
        return [line("+", " ".join([text, *where]))]
    if change.fields is not None:
        return [
            line(
                "~",
                f"{_label(field)} {_q(_named(field, b, names))} → {_q(_named(field, a, names))}",
            )
            for field, (b, a) in change.fields.items()
        ]
    if change.method == "DELETE":
        return [line("-", f"{noun} removed")]
    return [line("~", f"{noun} {VERBS.get(change.method) or 'changed'}")]


def child_lines(change: Change, children: dict[str, str], names: NamesOf) -> list[dict[str, str]]:
    """A tile, filter, position, section…: `+ tile "Revenue"`, `~ position of tile "Revenue"`."""
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
        return [line("+", what)]
    if change.method == "DELETE":
        return [line("-", f"{what} removed")]
    if change.fields is None:
        return [line("~", what)]
    moves = [
        f"{_label(f)} {show(_named(f, b, names))} → {show(_named(f, a, names))}"
        for f, (b, a) in change.fields.items()
    ]
    return [line("~", f"{what}: {', '.join(moves)}")]


def line(sign: str, text: str) -> dict[str, str]:
    return {"sign": sign, "text": text}


def own_collection(ct: int) -> str:
    slug = ContentType(int(ct)).slug
    return f"{slug}s"


def reference_ids(diff: Diff | None) -> dict[int, set[str]]:
    """{type: destination IDs} the changes refer to: their names are looked up once."""
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
    noun = (
        _label(field)
        .replace("owner", "user")
        .replace("space", "folder")
        .replace("parent", "folder")
    )
    name = names.get((int(REFERENCES[field]), str(value)))
    if name:
        return f"{noun} {_q(name)}"
    return f"a new {noun}" if str(value).startswith("(new") else f"{noun} #{value}"


def _named(field: str, value: Any, names: NamesOf) -> Any:
    if field not in REFERENCES or value in (None, ""):
        return value
    return names.get((int(REFERENCES[field]), str(value))) or f"#{value}"


def _collection(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    return parts[0] if parts else ""


def _label(name: str) -> str:
    return str(name).removesuffix("_id").replace("_", " ")


def _q(value: Any) -> str:
    text = show(value)
    return text if text == "(empty)" else f'"{text}"'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {PLURALS.get(noun, noun + 's')}"


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
