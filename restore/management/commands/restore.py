"""`manage.py restore <sub-command>`: restore Looker content from lookervault backups.

Sub-commands live in `restore.cli` modules, listed in `restore.cli.COMMANDS`; this file only
dispatches. Exit codes (docs/cli.md): 0 completed, 1 failed or not possible, 2 bad usage,
3 completed with failures, 4 cancelled.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from restore.cli import COMMANDS


class Command(BaseCommand):
    help = "Restore Looker content: single, bulk, all, resume, cancel, status, rollback, dlq."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, (add_arguments, _handle) in COMMANDS.items():
            add_arguments(sub.add_parser(name))

    def handle(self, *args, subcommand: str, **opts) -> None:
        _add, handle = COMMANDS[subcommand]
        code = handle(self, opts)
        if code:
            raise CommandError(f"exit code {code}: see above", returncode=code)
