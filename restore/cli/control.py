"""`restore resume`, `restore cancel`: go on with an interrupted session, or stop a running one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from restore.cli.common import add_alongside, print_doc, resolve_session
from restore.cli.foreground import add_background_options, run_or_enqueue
from restore.models import RestoreSession


def add_resume(parser: Any) -> None:
    parser.add_argument("session", help="ID of the interrupted session")
    parser.add_argument("--json", action="store_true", dest="as_json")
    add_background_options(parser)
    add_alongside(parser)


def handle_resume(command: Any, opts: dict[str, Any]) -> int:
    from restore.engine import DestinationBusy, resume_session, session_is_stale

    session = resolve_session(opts["session"])
    if session.status in RestoreSession.FINISHED_STATUSES:
        raise CommandError(
            f"session {session.pk} is already {session.get_status_display()}: nothing to resume"
            + (" (retry its failed items from the dead-letter queue)" if session.failed else "")
        )
    if session.status == RestoreSession.Status.RUNNING and not session_is_stale(session):
        raise CommandError(
            f"session {session.pk} is running (worker {session.worker_id}, last heartbeat "
            f"{_ago(session.heartbeat_at)}); cancel it first, or wait for its lease to expire"
        )
    try:
        resume_session(session, opts["alongside"])
    except DestinationBusy as exc:
        raise CommandError(str(exc)) from exc
    return run_or_enqueue(command, session, opts)


def add_cancel(parser: Any) -> None:
    parser.add_argument("session", help="ID of the running session")
    parser.add_argument("--json", action="store_true", dest="as_json")


def handle_cancel(command: Any, opts: dict[str, Any]) -> int:
    """Workers stop after their current item; the session ends `cancelled` and can be resumed."""
    session = resolve_session(opts["session"])
    if not session.cancel():
        raise CommandError(f"session {session.pk} is {session.status}: nothing to cancel")
    return print_doc(command, {"session_id": session.pk, "cancel_requested": True}, opts)


def _ago(when: Any) -> str:
    if when is None:
        return "never"
    return f"{int((timezone.now() - when).total_seconds())}s ago"
