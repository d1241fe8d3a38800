"""What changed: two backups compared, an item's versions across its lineage (offline)."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from restore import roles
from restore.access import require_perm
from restore.engine import (
    BackupError,
    ContentType,
    compare_backup_files,
    item_history,
    same_lineage,
)
from restore.engine import lineage_of as find_lineage
from restore.models import Backup
from restore.views.plan_lines import NamesOf, backup_names, change_lines, refs_of, version_lines

CHANGE_KINDS = ("added", "removed", "changed", "unreadable")
KEPT_FOR_S = 3600
# Comparisons kept per process, the least recently used dropped first: each holds every changed
# item's fields, so they are few.
KEPT_AT_MOST = 4
_KEPT: OrderedDict[tuple[Any, Any], tuple[float, Any]] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def comparison(a: Backup, b: Backup) -> Any:
    """Backup A against B, computed once and kept while the user filters: comparing two backups
    of 10,000 items reads and digests every item of both."""
    key = (file_key(a), file_key(b))
    with _KEPT_LOCK:
        kept = _KEPT.get(key)
        if kept is not None and time.monotonic() - kept[0] < KEPT_FOR_S:
            _KEPT.move_to_end(key)
            return kept[1]
    found = compare_backup_files(a.path, b.path)
    found.same_lineage = same_lineage(a, b)
    with _KEPT_LOCK:
        _KEPT[key] = (time.monotonic(), found)
        while len(_KEPT) > KEPT_AT_MOST:
            _KEPT.popitem(last=False)
    return found


def file_key(backup: Backup) -> tuple[str, str, int, int]:
    """What a kept comparison is keyed by: the file's SHA-256 (a verified backup) and, for every
    backup, its path, size and modification time, so a file replaced under the same path (or
    after verification) is compared again, never answered from the old one."""
    stat = os.stat(backup.path)
    return (backup.sha256 or "", str(backup.path), stat.st_size, stat.st_mtime_ns)


def entry_rows(
    entries: list[Any], change: str, sides: tuple[NamesOf, NamesOf] = ({}, {})
) -> list[dict[str, Any]]:
    """Rows for the page: an entry's facts and its changes in the plan's words; `sides`: the
    names of what they refer to in the older and the newer backup."""
    return [
        {
            "change": change,
            "type": e.type,
            "id": e.id,
            "title": e.title,
            "lines": change_lines(e.changes, e.type, sides[1], before=sides[0]),
            "unreadable_in": e.unreadable_in,
        }
        for e in entries
    ]


def names_of_sides(a: Backup, b: Backup, entries: list[Any]) -> tuple[NamesOf, NamesOf]:
    """What the entries' changes refer to (folders, owners…), named in the older backup for the
    old values and in the newer for the new: one read of each backup for the whole page."""
    refs = refs_of(e.changes for e in entries if e.changes)
    return backup_names(a.path, refs), backup_names(b.path, refs)


@require_GET
@require_perm(roles.VIEW)
def backup_diff(request):
    """Backup A against backup B: the mass changes first, then every item, filterable."""
    a = get_object_or_404(Backup, pk=request.GET.get("a") or 0)
    b = get_object_or_404(Backup, pk=request.GET.get("b") or 0)
    wanted_type = request.GET.get("type") or ""
    wanted_change = request.GET.get("change") or ""
    error = ""
    rows: list[dict[str, Any]] = []
    mass: list[Any] = []
    same: bool | None = True
    totals: list[tuple[str, int]] = []
    types: list[str] = []
    try:
        result = comparison(a, b)
    except (BackupError, OSError, ValueError) as exc:
        error = f"The backups could not be compared: {exc}"
    else:
        mass = result.mass
        same = result.same_lineage
        shown: dict[str, list[Any]] = {}
        for change in CHANGE_KINDS:
            entries = getattr(result, change)
            totals.append((change, len(entries)))
            types += [e.type for e in entries]
            if wanted_change in ("", change):
                shown[change] = [e for e in entries if wanted_type in ("", e.type)]
        sides = names_of_sides(a, b, [e for es in shown.values() for e in es])
        for change, entries in shown.items():
            rows += entry_rows(entries, change, sides)
    context = {
        "a": a,
        "b": b,
        "rows": rows,
        "mass": mass,
        "same_lineage": same,
        "totals": totals,
        "types": sorted(set(types)),
        "wanted_type": wanted_type,
        "wanted_change": wanted_change,
        "changes": CHANGE_KINDS,
        "error": error,
        "others": Backup.objects.filter(status=Backup.Status.VERIFIED).order_by("-pk")[:200],
    }
    return render(request, "restore/backup_diff.html", context)


def folded_history(backup: Backup, ct: ContentType, item_id: str) -> dict[str, Any]:
    """The item's versions in its backup's lineage, runs of unchanged ones folded into one line
    ("same in 14 backups, Nov 3 – Nov 17"). Empty when the backup is in no lineage."""
    lineage = find_lineage(backup.pk)
    if lineage is None:
        return {}
    try:
        history = item_history(ct, item_id, lineage=lineage.number)
    except (BackupError, OSError, LookupError):
        return {}
    lines: list[dict[str, Any]] = []
    words = version_lines(history.versions, ct)
    for version in history.versions:
        if version.unchanged and lines and lines[-1].get("folded"):
            run = lines[-1]
            run["count"] += 1
            run["last"] = version
            continue
        if version.unchanged:
            lines.append({"folded": True, "count": 1, "first": version, "last": version})
            continue
        lines.append(
            {
                "version": version,
                "changes": words.get(version.backup_id, []),
                "when": moment(version.extracted_at),
                "here": version.backup_id == backup.pk,
            }
        )
    for line in lines:
        if line.get("folded"):
            line["from"] = moment(line["first"].extracted_at)
            line["to"] = moment(line["last"].extracted_at)
            line["here"] = any(
                v.backup_id == backup.pk
                for v in history.versions
                if line["first"].extracted_at <= v.extracted_at <= line["last"].extracted_at
            )
    return {
        "lineage": lineage,
        "lines": lines,
        "count": len(history.versions),
        "gone_in": [(pk, moment(at)) for pk, at in history.gone_in[:1]],
        "unreadable_in": [(pk, moment(at)) for pk, at in history.unreadable_in],
    }


def moment(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
