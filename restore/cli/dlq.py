"""`restore dlq list|show|retry|resolve`: the dead-letter queue, the items a session could not restore."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from restore.cli.common import add_alongside, iso, print_doc
from restore.engine import ContentType, plural, read_attempts, store
from restore.models import AuditEvent, DeadLetterItem


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
    add_alongside(retry)
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
        "failed_at": iso(item.failed_at),
        "resolved_at": iso(item.resolved_at),
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

            retries = enqueue_dlq_retry([i.pk for i in items], user, opts["alongside"])
            queued = [pk for r in retries for pk in r.options.dlq_item_ids]
            return print_doc(command, {"queued": queued, "sessions": [r.pk for r in retries]}, opts)
        open_only = (DeadLetterItem.Status.OPEN,)
        retries = start_retries(
            [i.pk for i in items], user, statuses=open_only, alongside=opts["alongside"]
        )
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
    return print_doc(command, {"resolved": [i.pk for i in items]}, opts)
