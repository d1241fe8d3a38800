"""An item's versions across the backups of its lineage, each with what changed from the one before.

Offline: every backup of the lineage is read for the one item (`get_item`, an indexed lookup), and
consecutive versions are compared with `compare.item_changes`, the plan's own vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from restore.engine.backup.compare import display_title, item_changes
from restore.engine.backup.reader import BackupError, open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.core.documents import Change
from restore.engine.identity.lineage import Lineage, lineages


@dataclass
class Version:
    """The item as one backup holds it."""

    backup_id: int
    extracted_at: str
    title: str
    changes: list[Change] = field(default_factory=list)
    first: bool = False  # the first version seen (nothing to compare with)

    @property
    def unchanged(self) -> bool:
        return not self.first and not self.changes


@dataclass
class History:
    lineage: int
    versions: list[Version] = field(default_factory=list)
    # Backups of the lineage after the item's last version that no longer hold it.
    gone_in: list[tuple[int, str]] = field(default_factory=list)
    # Backups that hold the item but cannot read it (a corrupt blob): neither a version nor gone.
    unreadable_in: list[tuple[int, str]] = field(default_factory=list)


def item_history(ct: ContentType, item_id: str, *, lineage: int | None = None) -> History:
    """Every version of an item in one lineage, oldest first. `lineage`: its number or the ID of
    any backup in it; by default the lineage whose newest backup holding the item is newest."""
    groups = lineages()
    if lineage is not None:
        chosen = next(
            (g for g in groups if g.number == lineage or any(b.pk == lineage for b in g.backups)),
            None,
        )
        if chosen is None:
            raise LookupError(f"no lineage {lineage}: no verified backup with that number")
        return _history(chosen, ct, item_id)
    for group in groups:
        found = _history(group, ct, item_id)
        if found.versions:
            return found
    raise LookupError(f"no backup holds {ct.slug} {item_id}")


def _history(group: Lineage, ct: ContentType, item_id: str) -> History:
    history = History(group.number)
    previous: dict[str, Any] | None = None
    for backup in group.backups:
        moment = (backup.extracted_at or backup.created_at).isoformat()
        try:
            content = _content(backup.path, ct, item_id)
        except (BackupError, OSError):  # an unreadable file says nothing about the item
            continue
        if content is UNREADABLE:
            history.unreadable_in.append((backup.pk, moment))
            continue
        if content is None:
            if previous is not None:
                history.gone_in.append((backup.pk, moment))
            continue
        changes = item_changes(ct, previous, content) if previous is not None else []
        title = display_title(content)
        history.versions.append(Version(backup.pk, moment, title, changes, previous is None))
        history.gone_in = []
        previous = content
    return history


UNREADABLE: dict[str, Any] = {}  # `_content` of an item whose blob cannot be read


def _content(path: str, ct: ContentType, item_id: str) -> dict[str, Any] | None:
    """The item as the backup holds it; None when it does not (or holds it deleted);
    `UNREADABLE` when it holds it corrupt (that says nothing of whether it was removed)."""
    with open_backup(path) as reader:
        item = reader.get_item(ct, item_id)
        if item is None or item.deleted:
            return None
        return UNREADABLE if item.error else item.content
