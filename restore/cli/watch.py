"""`restore status`: the active sessions, every session, or one session in detail."""

from __future__ import annotations

import json
from typing import Any

from restore.cli.common import iso, resolve_session
from restore.engine import read_progress, store
from restore.models import RestoreSession


def add_status(parser: Any) -> None:
    parser.add_argument("session", nargs="?", help="a session ID (default: the active sessions)")
    parser.add_argument("--all", action="store_true", dest="all_sessions", help="every session")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--json", action="store_true", dest="as_json")


def session_row(session: RestoreSession) -> dict[str, Any]:
    from restore.engine import session_is_stale

    progress = read_progress(session.progress)
    return {
        "session_id": session.pk,
        "status": session.status,
        "kind": session.kind,
        "dry_run": session.dry_run,
        "destination": session.destination.name,
        "backup": session.backup.name if session.backup else None,
        "total": session.total,
        **{
            k: getattr(session, k) for k in ("created", "updated", "unchanged", "skipped", "failed")
        },
        "created_at": iso(session.created_at),
        "started_at": iso(session.started_at),
        "finished_at": iso(session.finished_at),
        "heartbeat_at": iso(session.heartbeat_at),
        "stale": session_is_stale(session),
        "throughput": progress.throughput if progress else None,
        "eta_seconds": progress.eta_seconds if progress else None,
    }


def handle_status(command: Any, opts: dict[str, Any]) -> int:
    from restore.engine import session_summary

    if opts.get("session"):
        session = resolve_session(opts["session"])
        doc = {**store(session_summary(session)), **session_row(session)}
        progress = read_progress(session.progress)
        doc["progress"] = store(progress) if progress is not None else {}
        if opts["as_json"]:
            command.stdout.write(json.dumps(doc, sort_keys=True, default=str))
        else:
            _print_rows(command, [session_row(session)])
            for slug, c in (doc.get("by_type") or {}).items():
                command.stdout.write(f"  {slug:15} " + " ".join(f"{k}={v}" for k, v in c.items()))
            for cls, n in (doc.get("by_error_class") or {}).items():
                command.stdout.write(f"  error {cls}: {n}")
        return 0
    qs = RestoreSession.objects.select_related("destination", "backup").order_by(
        "-created_at", "-id"
    )
    if not opts.get("all_sessions"):
        qs = qs.filter(status__in=RestoreSession.ACTIVE_STATUSES)
    rows = [session_row(s) for s in qs[: opts["limit"]]]
    if opts["as_json"]:
        command.stdout.write(json.dumps(rows, default=str))
    else:
        _print_rows(command, rows)
    return 0


def _print_rows(command: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        command.stdout.write("no sessions")
    for r in rows:
        stale = " (stale heartbeat: resumable)" if r["stale"] else ""
        command.stdout.write(
            f"#{r['session_id']:<5} {r['status']:<10}{stale} {r['destination']:<16} "
            f"{r['created'] + r['updated'] + r['unchanged'] + r['skipped'] + r['failed']}/"
            f"{r['total']} created={r['created']} updated={r['updated']} failed={r['failed']}"
        )
