"""`manage.py backups diff A B` and `manage.py backups history TYPE ID`: what changed, offline.

JSON keys are a contract (docs/cli.md): `diff` prints {"same_lineage", "added", "removed",
"changed", "unreadable"} (each entry `type`, `id`, `title`; a changed one also `fields`, an
unreadable one `unreadable_in`: "older"/"newer"; `same_lineage` false or null: the two are not
shown to be of one instance), `history` prints {"versions": [...]} oldest first, each with
`backup_id`, `extracted_at` and `changes`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from restore.engine import BackupError, ContentType
from restore.models import Backup
from restore.views.plan_lines import NamesOf, as_text, backup_names, refs_of, version_lines
from restore.views.plan_lines import change_lines as plan_change_lines

NOT_ONE_LINEAGE = (
    "these backups are not shown to be of one instance: items are matched by ID only, so a "
    "changed item may be two different objects sharing an ID"
)


def find_backup(ref: str) -> Backup:
    """A registered backup by ID or path; a clear error otherwise."""
    found = Backup.objects.filter(pk=ref).first() if str(ref).isdigit() else None
    found = found or Backup.objects.filter(path=ref).first()
    if found is None:
        raise CommandError(f"no registered backup {ref!r}")
    return found


def change_lines(
    changes: list[Any], ct: int | str, names: NamesOf | None = None, before: NamesOf | None = None
) -> list[str]:
    """An item's changes in the plan's words, one line each, as the pages word them
    (`~ tile "Revenue": title "A" → "B"`)."""
    return as_text(plan_change_lines(changes, ct, names or {}, before=before or {}))


def diff_json(comparison: Any, older: Backup, newer: Backup) -> dict[str, Any]:
    """The comparison's document, each changed entry with its `changes` in words: references
    named in the older backup for the old values, in the newer for the new."""
    doc = comparison.as_dict()
    refs = refs_of(e.changes for e in comparison.changed)
    before, after = backup_names(older.path, refs), backup_names(newer.path, refs)
    for entry, data in zip(comparison.changed, doc["changed"], strict=True):
        data["changes"] = change_lines(entry.changes, entry.type, after, before)
    return doc


def handle_diff(stdout: Any, a: str, b: str, types: list[str] | None, as_json: bool) -> None:
    from restore.engine import compare_backup_files, same_lineage

    older, newer = find_backup(a), find_backup(b)
    try:
        cts = [ContentType.parse(t) for t in types] if types else None
        comparison = compare_backup_files(older.path, newer.path, cts)
    except (BackupError, OSError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    comparison.same_lineage = same_lineage(older, newer)
    doc = diff_json(comparison, older, newer)
    if as_json:
        stdout.write(json.dumps(doc, indent=2, default=str))
        return
    if not comparison.same_lineage:
        stdout.write(f"!! {NOT_ONE_LINEAGE}")
    stdout.write(f"Backup {older.pk} → backup {newer.pk}")
    for mass in doc["mass_changes"]:
        stdout.write(f"!! {mass['text']}")
    for key in ("added", "removed", "changed", "unreadable"):
        stdout.write(f"{key}: {len(doc[key])}")
        for entry in doc[key]:
            where = (
                f" (cannot be read in the {entry['unreadable_in']} backup)"
                if key == "unreadable"
                else ""
            )
            stdout.write(f"  {entry['type']} {entry['id']} {entry['title']!r}{where}")
            for line in entry.get("changes", []):
                stdout.write(f"      {line}")


def handle_history(
    stdout: Any, content_type: str, item_id: str, lineage: str | None, as_json: bool
) -> None:
    from restore.engine import item_history

    try:
        ct = ContentType.parse(content_type)
        history = item_history(ct, item_id, lineage=int(lineage) if lineage else None)
    except (BackupError, OSError, ValueError, LookupError) as exc:
        raise CommandError(str(exc)) from exc
    words = version_lines(history.versions, ct)
    versions = [
        {
            "backup_id": v.backup_id,
            "extracted_at": v.extracted_at,
            "title": v.title,
            "changes": as_text(words.get(v.backup_id, [])),
        }
        for v in history.versions
    ]
    gone = [{"backup_id": pk, "extracted_at": at} for pk, at in history.gone_in[:1]]
    unreadable = [{"backup_id": pk, "extracted_at": at} for pk, at in history.unreadable_in]
    if as_json:
        doc = {
            "lineage": history.lineage,
            "type": ct.slug,
            "id": item_id,
            "versions": versions,
            "removed_in": gone[0] if gone else None,
            "unreadable_in": unreadable,
        }
        stdout.write(json.dumps(doc, indent=2, default=str))
        return
    stdout.write(f"{ct.slug} {item_id}, lineage {history.lineage}")
    for v in versions:
        what = "; ".join(v["changes"]) or "unchanged"
        stdout.write(f"  backup {v['backup_id']} ({v['extracted_at']}): {what}")
    for u in unreadable:
        stdout.write(
            f"  backup {u['backup_id']} ({u['extracted_at']}): holds it unreadable (corrupt)"
        )
    for g in gone:
        stdout.write(f"  backup {g['backup_id']} ({g['extracted_at']}): no longer holds it")
