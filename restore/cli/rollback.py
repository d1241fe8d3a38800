"""`restore rollback`: undo a restore session, as a session of its own (resumable like any other)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from restore.cli.common import add_alongside, print_summary, resolve_session
from restore.cli.foreground import run_in_foreground
from restore.engine import RestoreError, start_rollback


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
    words = PREVIEW_WORDS if session.dry_run else ROLLBACK_WORDS
    return print_summary(command, run_in_foreground(session), opts["as_json"], words)


# A rollback's counters name its steps by what the restore did, as its page says them.
PREVIEW_WORDS = {"created": "to delete", "updated": "to put back"}
ROLLBACK_WORDS = {"created": "deleted", "updated": "put back"}
