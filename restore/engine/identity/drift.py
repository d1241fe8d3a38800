"""Drift since a backup: what changed in a destination since the backup was taken. Reads only.

Per item of the backup: *changed since* (the fields, in the plan's words: before = the backup,
after = the destination now), *deleted since* (a GET of the ID answers 404, or the ID holds
another object on the evidence), or unchanged; per destination object the backup does not hold: *created since*
(informational, never touched).

The destination is read a type at a time in pages (`looker.pages`), asking only for the fields
the backup's items hold plus the immutable ones identity needs; an object whose page answer lacks
a field its backup item holds (a Looker whose search leaves tiles out), or that the pages did not
list at all, is read again alone. The bulk answer is evidence like a single GET: same rules
(`evidence.same_object`); for types without immutable fields, the instance-level decision.

A drift check is a session of kind `drift` (`kinds/drift.py` runs these functions under the
runner); `check_drift` runs the same steps in one go, without a session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from restore.engine.backup.compare import content_keys, display_title, item_changes, item_content
from restore.engine.backup.reader import BackupReader, Selection
from restore.engine.core.content_types import (
    NOT_RESTORABLE,
    RESTORE_ORDER,
    ContentType,
)
from restore.engine.core.documents import Change
from restore.engine.core.errors import RestoreError
from restore.engine.identity.counterpart import object_path
from restore.engine.identity.evidence import (
    EVIDENCE_FIELDS,
    WITHOUT_EVIDENCE,
    check_instance,
    same_object,
    sample_items,
)
from restore.engine.looker.pages import LIST_ENDPOINTS, read_pages

Body = dict[str, Any]
CHANGED, DELETED, UNCHANGED, CREATED = "changed", "deleted", "unchanged", "created"
# How a drift finding is kept in a session's result rows (the runner's vocabulary).
ACTION_OF = {CHANGED: "updated", DELETED: "skipped", UNCHANGED: "unchanged", CREATED: "created"}
FINDING_OF = {action: finding for finding, action in ACTION_OF.items()}
FIELDS_SAMPLED = 200  # backup items whose fields make up a type's `fields=`
KEYED_BY = {ContentType.LOOKML_MODEL: "name"}  # a LookML model's ID is its name
DRIFT_TYPES = tuple(ct for ct in RESTORE_ORDER if ct not in NOT_RESTORABLE and ct in LIST_ENDPOINTS)
INSTANCE_SAMPLE = 24  # backup items whose IDs decide "the backup's instance" (`same_instance`)


@dataclass
class Finding:
    """One item's drift."""

    kind: str  # changed, deleted, unchanged, created
    content_type: ContentType
    id: str
    title: str = ""
    changes: list[Change] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        from restore.engine.backup.compare import fields_of

        out: dict[str, Any] = {"type": self.content_type.slug, "id": self.id, "title": self.title}
        if self.changes:
            out["fields"] = fields_of(self.changes)
        if self.message:
            out["message"] = self.message
        return out


def page_fields(ct: ContentType, contents: Iterable[Body]) -> list[str]:
    """`fields=` for a type's pages: what the backup's items hold that counts, the immutable
    fields identity compares, and the ID."""
    names = {KEYED_BY.get(ct, "id")}
    names.update(EVIDENCE_FIELDS.get(ct, "").split(",") if ct in EVIDENCE_FIELDS else [])
    for content in contents:
        names.update(item_content(ct, content))
    names.discard("")
    return sorted(names)


def sample_contents(reader: BackupReader, ct: ContentType, n: int = FIELDS_SAMPLED) -> list[Body]:
    out = []
    for item in reader.iter_items(Selection(content_types=[ct])):
        if item.error is None:
            out.append(item.content)
        if len(out) >= n:
            break
    return out


class DestinationIndex:
    """A type's objects in the destination, read in pages once; one object read alone when its
    page answer lacks a field its backup item holds, or when the pages did not list it (paging by
    offset skips objects while others are deleted; a search may leave some out): "deleted since"
    only on a 404."""

    def __init__(self, client: Any, ct: ContentType, fields: list[str]) -> None:
        self.client = client
        self.ct = ct
        key = KEYED_BY.get(ct, "id")
        self.objects: dict[str, Body] = {
            str(obj[key]): obj
            for obj in read_pages(client, ct, fields)
            if isinstance(obj, dict) and obj.get(key) is not None
        }

    def get(self, item_id: str, backup: Body) -> Body | None:
        found = self.objects.get(str(item_id))
        if found is None or content_keys(self.ct, backup) - set(found):
            alone = self.client.get_or_none(object_path(self.ct, item_id))
            if found is None and alone is not None:
                self.objects[str(item_id)] = alone  # listed after all: its ID is taken
            found = alone or found
        return found


def compare_item(
    ct: ContentType, item_id: str, backup: Body, current: Body | None, same_instance: bool
) -> Finding:
    """One backup item against the destination object under its ID (None: no such object,
    confirmed by a GET). Identity as a restore decides it (`counterpart.is_same`): the immutable
    fields, or for types without any (groups, roles…) the instance-level decision; a finding
    that rests on neither says so."""
    title = display_title(backup)
    if current is None:
        return Finding(DELETED, ct, item_id, title, message="deleted since the backup")
    same = same_object(ct, backup, current)
    if same is False:
        message = "deleted since the backup: its ID now holds another object"
        return Finding(DELETED, ct, item_id, title, message=message)
    changes = item_changes(ct, backup, current)
    message = "" if same or same_instance else unproven(ct)
    return Finding(CHANGED if changes else UNCHANGED, ct, item_id, title, changes, message)


def unproven(ct: ContentType) -> str:
    return (
        f"unproven: a {ct.slug.replace('_', ' ')} has no field that proves it is the backup's object, "
        "and this destination was not shown to be the backup's instance; compared by ID only"
    )


def same_instance(reader: BackupReader, client: Any, types: Iterable[ContentType]) -> bool:
    """Is the destination the instance the backup came from? Decided as a restore's session
    does (`evidence.check_instance`, a small sample of IDs), and only when a type without
    immutable fields needs it."""
    if not WITHOUT_EVIDENCE.intersection(types):
        return False

    def fetch(ct: ContentType, sid: str, fields: str) -> Body | None:
        return client.get_or_none(object_path(ct, sid), {"fields": fields})

    return check_instance(fetch, sample_items(reader, INSTANCE_SAMPLE), threads=4).same_instance


def created_since(
    ct: ContentType, index: DestinationIndex, backup_ids: set[str], replaced: set[str]
) -> list[Finding]:
    """Destination objects the backup does not hold (or whose ID held another object)."""
    return [
        Finding(CREATED, ct, oid, display_title(obj), message="created since the backup")
        for oid, obj in index.objects.items()
        if oid not in backup_ids or oid in replaced
    ]


def backup_ids(reader: BackupReader, ct: ContentType) -> set[str]:
    return {item.id for item in reader.iter_items(Selection(content_types=[ct]))}


def outcome_changes(finding: Finding) -> list[dict[str, Any]]:
    """A finding's changes as a result row keeps them."""
    return [msgspec.to_builtins(c) for c in finding.changes]


# -- one go, without a session --------------------------------------------------------------------
@dataclass
class DriftReport:
    findings: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


def drift_types(reader: BackupReader, types: list[ContentType] | None = None) -> list[ContentType]:
    held = reader.counts(include_deleted=False)
    return [ct for ct in DRIFT_TYPES if held.get(ct) and (not types or ct in types)]


def check_type(
    reader: BackupReader,
    client: Any,
    ct: ContentType,
    should_stop: Callable[[], bool],
    same_instance: bool = False,
) -> Iterator[Finding]:
    """A type's drift: its items, then what was created since."""
    index = DestinationIndex(client, ct, page_fields(ct, sample_contents(reader, ct)))
    ids, replaced = set(), set()
    for item in reader.iter_items(Selection(content_types=[ct])):
        if should_stop():
            return
        if item.error is not None:
            continue
        ids.add(item.id)
        current = index.get(item.id, item.content)
        finding = compare_item(ct, item.id, item.content, current, same_instance)
        if finding.kind == DELETED and item.id in index.objects:
            replaced.add(item.id)
        yield finding
    yield from created_since(ct, index, ids, replaced)


def check_drift(
    reader: BackupReader,
    client: Any,
    types: list[ContentType] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> DriftReport:
    """The whole drift check in this thread (benchmarks, scripts); sessions use `kinds/drift`."""
    report = DriftReport()
    wanted = drift_types(reader, types)
    same = same_instance(reader, client, wanted)
    for ct in wanted:
        report.findings += list(check_type(reader, client, ct, should_stop, same))
    return report


# -- reads only -----------------------------------------------------------------------------------
class ReadOnlyClient:
    """The JSON verbs that write refused by name; the transport below refuses any write sent
    another way (`LookerClient.set_read_only`)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name in ("post", "patch", "put", "delete"):
            raise RestoreError(f"a drift check writes nothing: {name.upper()} refused")
        return getattr(self._client, name)


@dataclass
class CreatedItem:
    """A destination object created since the backup, as an item the runner records (never
    written to). Its key is its ID, or "ID (new object)" when the backup's item of that ID was
    another object."""

    content_type: ContentType
    id: str
    title: str
    destination_id: str
    data: bytes = b""

    @property
    def content(self) -> Body:
        return {"id": self.id, "title": self.title}


def created_items(findings: list[Finding], replaced: set[str]) -> list[CreatedItem]:
    return [
        CreatedItem(
            f.content_type,
            f"{f.id} (new object)" if f.id in replaced else f.id,
            f.title,
            f.id,
        )
        for f in findings
    ]
