"""Backups of the same instance, recognised offline: a lineage, ordered by extraction time.

lookervault records no source instance, and a file name or URL proves nothing. Two backups come
from the same instance when the IDs both hold carry the same immutable fields (`evidence()`: when
the object was created, a folder's content-metadata ID): a rename, a move or a new tile changes
none of them, while another instance's dashboard 12 was created at another moment.

Each backup gets a fingerprint once (kept on its row): the evidence of a sample of its items,
chosen by a hash of type and ID so that two backups sample the same IDs. The sample's modulus is a
power of two, so the coarser of two samples is a subset of the finer one.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from restore.engine.backup.reader import BackupError, Selection, open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.identity.evidence import EVIDENCE_FIELDS, _system_folder, evidence

CT = ContentType
SAMPLE_AT_MOST = 512
MIN_SAME = 3  # shared IDs holding the same objects, at the least
SAME_RATIO = 0.8  # of the shared IDs, how many must hold the same objects
# Model names are shared by every instance running the same LookML: no evidence of an instance.
SAMPLED_TYPES = tuple(ct for ct in EVIDENCE_FIELDS if ct != CT.LOOKML_MODEL)


def _hash(key: str) -> int:
    return zlib.crc32(key.encode())


def fingerprint(path: str) -> dict[str, Any]:
    """{"extracted_at", "modulus", "evidence": {"dashboard:12": "<immutable fields>"}}."""
    with open_backup(path) as reader:
        counts = reader.counts()
        total = sum(counts.get(ct, 0) for ct in SAMPLED_TYPES)
        modulus = 1
        while total // modulus > SAMPLE_AT_MOST:
            modulus *= 2
        sample: dict[str, str] = {}
        for item in reader.iter_items(Selection(content_types=SAMPLED_TYPES, include_deleted=True)):
            key = f"{item.content_type.slug}:{item.id}"
            if _hash(key) % modulus or item.error is not None:
                continue
            content = item.content
            found = {} if _system_folder(content) else evidence(item.content_type, content)
            if found:
                sample[key] = json.dumps(found, sort_keys=True)
        moment = reader.extracted_at()
    return {
        "extracted_at": moment.isoformat() if moment else None,
        "modulus": modulus,
        "evidence": sample,
    }


def same_instance(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Do two fingerprints show the same instance? Only IDs both sampled count."""
    modulus = max(a.get("modulus", 1), b.get("modulus", 1))
    ours = {k: v for k, v in a.get("evidence", {}).items() if _hash(k) % modulus == 0}
    theirs = b.get("evidence", {})
    shared = [k for k in ours if k in theirs]
    same = sum(ours[k] == theirs[k] for k in shared)
    return same >= MIN_SAME and same >= SAME_RATIO * len(shared)


@dataclass
class Lineage:
    """Backups of one instance, oldest extraction first. Numbered after its first-registered
    backup (the lowest ID), which stays its number as later backups join."""

    number: int
    backups: list[Any] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"lineage {self.number}"


def backup_fingerprint(backup: Any) -> dict[str, Any] | None:
    """The backup's fingerprint, computed on first use and kept (again when the file's hash
    changed); None when it cannot be read."""
    kept = backup.fingerprint or {}
    if kept and kept.get("sha256", "") == (backup.sha256 or ""):
        return kept
    try:
        found = fingerprint(backup.path)
    except (BackupError, OSError, ValueError):  # an unreadable backup belongs to no lineage
        return None
    found["sha256"] = backup.sha256 or ""
    backup.fingerprint = found
    backup.extracted_at = _moment(found["extracted_at"]) or backup.created_at
    type(backup).objects.filter(pk=backup.pk).update(
        fingerprint=found, extracted_at=backup.extracted_at
    )
    return found


def same_lineage(a: Any, b: Any) -> bool | None:
    """Are two backups of one instance (their fingerprints, `same_instance`)? None when either
    cannot be read."""
    first, second = backup_fingerprint(a), backup_fingerprint(b)
    if first is None or second is None:
        return None
    return a.pk == b.pk or same_instance(first, second)


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


COMPARED_MEMBERS = 3  # a backup is compared with a lineage's newest few, not all of them


def lineages(backups: list[Any] | None = None) -> list[Lineage]:
    """The verified backups grouped by instance, each group ordered by extraction time; the
    groups newest first.

    Backups are taken in extraction order and each joins the first lineage one of whose newest
    members shows the same instance: the newest share the most IDs with it, and a page showing
    200 backups compares each with a few per lineage, not with every other backup."""
    from restore.models import Backup

    if backups is None:
        backups = list(Backup.objects.filter(status=Backup.Status.VERIFIED).order_by("pk"))
    prints = {b.pk: backup_fingerprint(b) for b in backups}
    usable = [b for b in backups if prints[b.pk] is not None]
    groups: list[Lineage] = []
    for b in sorted(usable, key=lambda b: (b.extracted_at or b.created_at, b.pk)):
        home = next(
            (
                g
                for g in groups
                if any(
                    same_instance(prints[m.pk], prints[b.pk]) for m in g.backups[-COMPARED_MEMBERS:]
                )
            ),
            None,
        )
        if home is None:
            groups.append(Lineage(b.pk, [b]))
        else:
            home.backups.append(b)
            home.number = min(home.number, b.pk)
    return sorted(groups, key=lambda g: -max(b.pk for b in g.backups))


def lineage_of(backup_id: int) -> Lineage | None:
    """The lineage a backup belongs to (None: unverified or unreadable)."""
    return next((g for g in lineages() if any(b.pk == backup_id for b in g.backups)), None)
