"""`restore bulk`, `resume`, `status`, `dlq list|show|retry|resolve`: the execution sub-commands.

Runs happen in the foreground with the parallel runner (a progress bar on stderr when it is a
terminal, never on stdout, so `--json` stays parseable), or with `--enqueue` on the qcluster.
Exit codes: see `restore.cli.common.EXIT_CODES` and docs/cli.md.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils import timezone

from restore.cli.common import (
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
from restore.engine import ContentType, Progress, plural, read_attempts, read_progress, store
from restore.models import AuditEvent, DeadLetterItem, RestoreSession


# -- running --------------------------------------------------------------------------------------
class ProgressBar:
    """One line on stderr, redrawn on each heartbeat; silent when stderr is not a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, doc: Progress) -> None:
        if not self.enabled:
            return
        total, done = doc.total, doc.done
        width = 30
        filled = int(width * done / total) if total else 0
        line = (
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
            f"{doc.current_type} c={doc.created} u={doc.updated} "
            f"f={doc.failed} {doc.throughput or 0:.1f}/s"
            + (f" eta {int(doc.eta_seconds)}s" if doc.eta_seconds else "")
            + (" THROTTLED" if doc.rate_limiter.throttled else "")
        )
        self.stream.write(line.ljust(110))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def run_in_foreground(session: RestoreSession, *, distributed: bool = False) -> dict[str, Any]:
    """Run (or resume) a session in this process with the parallel runner and a progress bar."""
    from restore.engine import SessionBusy, SessionRunner

    bar = ProgressBar()
    try:
        if distributed:
            from restore.engine import DistributedSessionRunner

            runner = DistributedSessionRunner(session.pk, on_progress=bar)
        else:
            runner = SessionRunner(session.pk, on_progress=bar)
        return runner.run()
    except SessionBusy as exc:
        raise CommandError(str(exc)) from exc
    finally:
        bar.close()


def _execute(command: Any, session: RestoreSession, opts: dict[str, Any]) -> int:
    if opts.get("enqueue"):
        from restore.tasks import enqueue_session

        enqueue_session(session.pk, distributed=opts.get("distributed") or None)
        return _print(command, {"session_id": session.pk, "status": "queued"}, opts)
    summary = run_in_foreground(session, distributed=bool(opts.get("distributed")))
    return print_summary(command, summary, opts["as_json"])


def _add_background(parser: Any) -> None:
    parser.add_argument(
        "--enqueue", action="store_true", help="hand the session to the qcluster workers"
    )
    parser.add_argument(
        "--distributed", action="store_true", help="split each level into chunk tasks"
    )


def add_bulk(parser: Any) -> None:
    parser.add_argument("type", help="content type, e.g. dashboard")
    add_target_options(parser)
    add_run_options(parser)
    add_selection_options(parser, types=False)
    _add_background(parser)


def handle_bulk(command: Any, opts: dict[str, Any]) -> int:
    from restore.engine import RestoreError, start_session

    try:
        ct = ContentType.parse(opts["type"])
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    selection = {**selection_from(opts), "content_types": [ct.slug]}
    backup = resolve_backup(opts["backup"])
    destination = resolve_destination(opts["destination"])
    try:
        config = config_from(opts, selection)
        session = start_session(backup, destination, config, alongside=opts["alongside"])
    except RestoreError as exc:
        raise CommandError(str(exc)) from exc
    return _execute(command, session, opts)


def add_resume(parser: Any) -> None:
    parser.add_argument("session", help="ID of the interrupted session")
    parser.add_argument("--json", action="store_true", dest="as_json")
    _add_background(parser)


def handle_resume(command: Any, opts: dict[str, Any]) -> int:
    from restore.engine import session_is_stale

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
    session.resume()
    return _execute(command, session, opts)


def add_cancel(parser: Any) -> None:
    parser.add_argument("session", help="ID of the running session")
    parser.add_argument("--json", action="store_true", dest="as_json")


def handle_cancel(command: Any, opts: dict[str, Any]) -> int:
    """Workers stop after their current item; the session ends `cancelled` and can be resumed."""
    session = resolve_session(opts["session"])
    if not session.cancel():
        raise CommandError(f"session {session.pk} is {session.status}: nothing to cancel")
    return _print(command, {"session_id": session.pk, "cancel_requested": True}, opts)


# -- status ---------------------------------------------------------------------------------------
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
        "created_at": _iso(session.created_at),
        "started_at": _iso(session.started_at),
        "finished_at": _iso(session.finished_at),
        "heartbeat_at": _iso(session.heartbeat_at),
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


# -- dead-letter queue ----------------------------------------------------------------------------
def add_dlq(parser: Any) -> None:
    sub = parser.add_subparsers(dest="dlq_action", required=True)
    ls = sub.add_parser("list", help="dead-letter items")
    ls.add_argument("--session", type=int, default=None)
    ls.add_argument(
        "--status",
        default="open",
        help="open, retrying, resolved, dismissed, rolled_back or all",
    )
    ls.add_argument("--limit", type=int, default=500)
    ls.add_argument("--json", action="store_true", dest="as_json")
    show = sub.add_parser("show", help="one item with its full context")
    show.add_argument("item", type=int)
    show.add_argument("--json", action="store_true", dest="as_json")
    retry = sub.add_parser("retry", help="retry items (IDs, a session's, or all open)")
    retry.add_argument("items", nargs="*", type=int)
    retry.add_argument("--session", type=int, default=None)
    retry.add_argument("--all", action="store_true", dest="all_items")
    retry.add_argument("--enqueue", action="store_true", help="retry on the qcluster workers")
    retry.add_argument("--user", default=None, help="username recorded as the resolver")
    retry.add_argument("--json", action="store_true", dest="as_json")
    resolve = sub.add_parser("resolve", help="close items that need no restore (dismissed)")
    resolve.add_argument("items", nargs="*", type=int)
    resolve.add_argument("--session", type=int, default=None)
    resolve.add_argument("--note", default="")
    resolve.add_argument("--user", default=None)
    resolve.add_argument("--json", action="store_true", dest="as_json")


def dlq_row(item: DeadLetterItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "session_id": item.session_id,
        "content_type": ContentType(item.content_type).slug,
        "content_id": item.content_id,
        "name": item.name,
        "http_status": item.http_status,
        "error_class": item.error_class,
        "message": item.error_message,
        "status": item.status,
        "retry_count": item.retry_count,
        "failed_at": _iso(item.failed_at),
        "resolved_at": _iso(item.resolved_at),
        "resolved_by": item.resolved_by.get_username() if item.resolved_by_id else None,
    }


def dlq_detail(item: DeadLetterItem) -> dict[str, Any]:
    return {
        **dlq_row(item),
        "request_method": item.request_method,
        "request_path": item.request_path,
        "request_payload": item.request_payload,
        "response_body": item.response_body,
        "stack_trace": item.stack_trace,
        "attempts": [store(a) for a in read_attempts(item.attempts)],
        "resolution_note": item.resolution_note,
        "content_size": len(item.content_blob or b""),
    }


def handle_dlq(command: Any, opts: dict[str, Any]) -> int:
    action = opts["dlq_action"]
    return {"list": _dlq_list, "show": _dlq_show, "retry": _dlq_retry, "resolve": _dlq_resolve}[
        action
    ](command, opts)


def _dlq_list(command: Any, opts: dict[str, Any]) -> int:
    qs = DeadLetterItem.objects.select_related("resolved_by").order_by("-failed_at", "-id")
    if opts["status"] != "all":
        if opts["status"] not in DeadLetterItem.Status.values:
            raise CommandError(f"unknown status {opts['status']!r}")
        qs = qs.filter(status=opts["status"])
    if opts["session"]:
        qs = qs.filter(session_id=opts["session"])
    rows = [dlq_row(i) for i in qs[: opts["limit"]]]
    if opts["as_json"]:
        command.stdout.write(json.dumps(rows))
        return 0
    if not rows:
        command.stdout.write("no dead-letter items")
    for r in rows:
        command.stdout.write(
            f"#{r['id']:<6} session {r['session_id']:<5} {r['content_type']} {r['content_id']:<10} "
            f"{r['status']:<9} {r['error_class']}: {r['message'][:80]}"
        )
    return 0


def _dlq_item(pk: int) -> DeadLetterItem:
    item = DeadLetterItem.objects.filter(pk=pk).first()
    if item is None:
        raise CommandError(f"no dead-letter item {pk}")
    return item


def _dlq_show(command: Any, opts: dict[str, Any]) -> int:
    doc = dlq_detail(_dlq_item(opts["item"]))
    if opts["as_json"]:
        command.stdout.write(json.dumps(doc, default=str))
    else:
        for key, value in doc.items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            command.stdout.write(f"{key}: {text}")
    return 0


def _selected(opts: dict[str, Any], *, retry: bool) -> list[DeadLetterItem]:
    if not opts["items"] and not opts.get("session") and not opts.get("all_items"):
        raise CommandError("say which items: IDs, --session S" + (" or --all" if retry else ""))
    qs = DeadLetterItem.objects.filter(status=DeadLetterItem.Status.OPEN)
    if opts["items"]:
        for pk in opts["items"]:
            _dlq_item(pk)
        qs = qs.filter(pk__in=opts["items"])
    if opts.get("session"):
        qs = qs.filter(session_id=opts["session"])
    return list(qs.order_by("id"))


def _user(opts: dict[str, Any]) -> Any:
    if not opts.get("user"):
        return None
    user = get_user_model().objects.filter(username=opts["user"]).first()
    if user is None:
        raise CommandError(f"no user {opts['user']!r}")
    return user


def _dlq_retry(command: Any, opts: dict[str, Any]) -> int:
    """Retry sessions (one per session the items failed in): queued on the cluster with
    --enqueue, else run here one after another by the same runner."""
    from restore.engine import RestoreError, retry_refusal, retry_report, run_session, start_retries

    asked = set(
        DeadLetterItem.objects.filter(pk__in=opts["items"]).values_list("session_id", flat=True)
    )
    if reason := retry_refusal(asked | ({opts["session"]} if opts.get("session") else set())):
        raise CommandError(reason)
    items = _selected(opts, retry=True)
    user = _user(opts)
    try:
        if opts["enqueue"]:
            from restore.tasks import enqueue_dlq_retry

            retries = enqueue_dlq_retry([i.pk for i in items], user)
            queued = [pk for r in retries for pk in r.options.dlq_item_ids]
            return _print(command, {"queued": queued, "sessions": [r.pk for r in retries]}, opts)
        open_only = (DeadLetterItem.Status.OPEN,)
        retries = start_retries([i.pk for i in items], user, statuses=open_only)
    except RestoreError as exc:
        raise CommandError(str(exc)) from exc
    for retry in retries:
        run_session(retry.pk)
    doc = retry_report(retries)
    if opts["as_json"]:
        command.stdout.write(json.dumps(doc))
    else:
        sessions = ", ".join(str(pk) for pk in doc["sessions"]) or "none"
        command.stdout.write(
            f"retried {doc['retried']} (retry session {sessions}): {doc['resolved']} resolved, "
            f"{doc['failed']} failed"
        )
        for r in doc["items"]:
            command.stdout.write(
                f"  #{r['id']} {'ok' if r['resolved'] else 'FAILED'}: {r['detail']}"
            )
    return 0 if doc["failed"] == 0 and doc["retried"] == len(items) else 1


def _dlq_resolve(command: Any, opts: dict[str, Any]) -> int:
    items = _selected(opts, retry=False)
    user = _user(opts)
    event = None
    if items:  # in the history beside the page's dismissals
        ids = [i.pk for i in items]
        event = AuditEvent.record(
            user, AuditEvent.Action.DISMISS, ids, opts["note"], plural(len(ids), "item")
        )
    for item in items:
        item.dismiss(user, note=opts["note"], dismissal=event)
    return _print(command, {"resolved": [i.pk for i in items]}, opts)


# -- helpers --------------------------------------------------------------------------------------
def _print(command: Any, doc: dict[str, Any], opts: dict[str, Any]) -> int:
    if opts.get("as_json"):
        command.stdout.write(json.dumps(doc))
    else:
        command.stdout.write(" ".join(f"{k}={v}" for k, v in doc.items()))
    return 0


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _ago(when: Any) -> str:
    if when is None:
        return "never"
    return f"{int((timezone.now() - when).total_seconds())}s ago"


COMMANDS = {
    "bulk": (add_bulk, handle_bulk),
    "resume": (add_resume, handle_resume),
    "status": (add_status, handle_status),
    "cancel": (add_cancel, handle_cancel),
    "dlq": (add_dlq, handle_dlq),
}
