"""`restore single`, `restore all`, `restore rollback`: the engine's sub-commands."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from restore.cli.common import (
    add_alongside,
    add_run_options,
    add_selection_options,
    add_target_options,
    config_from,
    print_summary,
    resolve_backup,
    resolve_destination,
    resolve_session,
    selection_from,
)
from restore.engine import ContentType, RestoreError, start_rollback, start_session


def execute(session: Any) -> dict[str, Any]:
    """Run a session to its end with the execution layer's parallel runner."""
    from restore.cli.execution_commands import run_in_foreground

    return run_in_foreground(session)


def add_single(parser: Any) -> None:
    parser.add_argument("type", help="content type, e.g. dashboard")
    parser.add_argument("id", help="the item's ID in the backup (plain or type::id)")
    add_target_options(parser)
    add_run_options(parser)


def handle_single(command: Any, opts: dict[str, Any]) -> int:
    try:
        ct = ContentType.parse(opts["type"])
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    selection = {"content_types": [ct.slug], "ids": [opts["id"]], "include_deleted": True}
    return _run(command, opts, selection)


def add_all(parser: Any) -> None:
    add_target_options(parser)
    add_run_options(parser)
    add_selection_options(parser)


def handle_all(command: Any, opts: dict[str, Any]) -> int:
    return _run(command, opts, selection_from(opts))


def _run(command: Any, opts: dict[str, Any], selection: dict[str, Any]) -> int:
    backup = resolve_backup(opts["backup"])
    destination = resolve_destination(opts["destination"])
    try:
        session = start_session(
            backup, destination, config_from(opts, selection), alongside=opts["alongside"]
        )
    except RestoreError as exc:
        raise CommandError(str(exc)) from exc
    return print_summary(command, execute(session), opts["as_json"])


def add_rollback(parser: Any) -> None:
    parser.add_argument("session", help="ID of the restore session to undo")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument(
        "--confirm-changed",
        action="store_true",
        help="undo even objects changed in the destination since the restore (else refused)",
    )
    add_alongside(parser)
    parser.add_argument("--json", action="store_true", dest="as_json")


def handle_rollback(command: Any, opts: dict[str, Any]) -> int:
    """Undo a restore: a session of kind rollback, run (and resumable) like any other."""
    original = resolve_session(opts["session"])
    try:
        session = start_rollback(
            original,
            dry_run=opts["dry_run"],
            confirm_changed=opts["confirm_changed"],
            alongside=opts["alongside"],
        )
    except RestoreError as exc:
        raise CommandError(str(exc)) from exc
    return print_summary(command, execute(session), opts["as_json"])


COMMANDS = {
    "single": (add_single, handle_single),
    "all": (add_all, handle_all),
    "rollback": (add_rollback, handle_rollback),
}
