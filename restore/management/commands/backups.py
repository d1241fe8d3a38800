"""`manage.py backups add|list|verify|diff|history`: register lookervault backups from scripts,
compare two of them, follow an item through its lineage."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from restore.cli import changes
from restore.models import Backup


def backup_json(backup: Backup) -> dict:
    return {
        "id": backup.pk,
        "name": backup.name,
        "path": backup.path,
        "size": backup.size,
        "sha256": backup.sha256,
        "status": backup.status,
        "schema_version": backup.schema_version,
        "id_style": backup.id_style,
        "source_instance": backup.source_instance,
        "item_counts": backup.item_counts,
        "total_items": backup.total_items,
        "verification_error": backup.verification_error,
        "created_at": backup.created_at.isoformat(),
    }


class Command(BaseCommand):
    help = "Register, verify and list lookervault backups."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register a backup file and verify it")
        add.add_argument("path")
        add.add_argument("--name", default="")
        add.add_argument("--json", action="store_true", dest="as_json")
        lst = sub.add_parser("list", help="list registered backups")
        lst.add_argument("--json", action="store_true", dest="as_json")
        ver = sub.add_parser("verify", help="verify a registered backup again")
        ver.add_argument("backup", help="backup ID or path")
        ver.add_argument("--json", action="store_true", dest="as_json")

        diff = sub.add_parser("diff", help="items added, removed and changed from backup A to B")
        diff.add_argument("a", help="the older backup: ID or path")
        diff.add_argument("b", help="the newer backup: ID or path")
        diff.add_argument("--types", nargs="+", default=None, help="only these content types")
        diff.add_argument("--json", action="store_true", dest="as_json")
        hist = sub.add_parser("history", help="an item's versions across its lineage")
        hist.add_argument("content_type", metavar="TYPE")
        hist.add_argument("item_id", metavar="ID")
        hist.add_argument("--lineage", default=None, help="lineage number or any backup ID in it")
        hist.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, action: str, **opts) -> None:
        getattr(self, f"handle_{action}")(**opts)

    def report(self, backup: Backup, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(backup_json(backup), indent=2))
        else:
            counts = ", ".join(f"{n} {t}" for t, n in backup.item_counts.items() if n)
            self.stdout.write(f"Backup {backup.pk}: {backup.path} [{backup.status}] {counts}")
        if backup.status != Backup.Status.VERIFIED:
            raise CommandError(
                f"backup {backup.pk} failed verification: {backup.verification_error}"
            )

    def handle_add(self, path, name, as_json, **_) -> None:
        try:
            backup = Backup.register(path, name=name)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        backup.verify()
        self.report(backup, as_json)

    def handle_verify(self, backup, as_json, **_) -> None:
        found = Backup.objects.filter(pk=backup).first() if backup.isdigit() else None
        found = found or Backup.objects.filter(path=backup).first()
        if found is None:
            raise CommandError(f"no registered backup {backup!r}")
        found.verify()
        self.report(found, as_json)

    def handle_diff(self, a, b, types, as_json, **_) -> None:
        changes.handle_diff(self.stdout, a, b, types, as_json)

    def handle_history(self, content_type, item_id, lineage, as_json, **_) -> None:
        changes.handle_history(self.stdout, content_type, item_id, lineage, as_json)

    def handle_list(self, as_json, **_) -> None:
        backups = list(Backup.objects.all())
        if as_json:
            self.stdout.write(json.dumps([backup_json(b) for b in backups], indent=2))
            return
        for b in backups:
            self.stdout.write(f"{b.pk}\t{b.status}\t{b.total_items} items\t{b.path}")
        if not backups:
            self.stdout.write("(no backups)")
