"""Options and helpers shared by the `restore` sub-commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from restore.engine import RestoreConfig
from restore.models import Backup, Destination, RestoreSession


def add_target_options(parser: Any) -> None:
    parser.add_argument("--backup", "-b", required=True, help="registered backup ID or a file path")
    parser.add_argument("--destination", "-d", required=True, help="destination name")


def add_run_options(parser: Any) -> None:
    """Options of every restore run (the RestoreConfig fields)."""
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--fanout",
        type=int,
        default=RestoreConfig().fanout,
        help="a dashboard's tile requests at once per worker",
    )
    ceiling = "a hard ceiling; by default none: the limiter finds what the destination takes"
    parser.add_argument("--rate-limit-per-second", type=float, default=None, help=ceiling)
    parser.add_argument("--rate-limit-per-minute", type=float, default=None, help=ceiling)
    parser.add_argument("--checkpoint-interval", type=int, default=100)
    parser.add_argument("--max-retries", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="plan only: no write requests")
    parser.add_argument("--skip-if-modified", action="store_true")
    parser.add_argument("--with-dependencies", action="store_true")
    parser.add_argument("--verify", action="store_true", help="re-fetch and compare after writing")
    parser.add_argument("--fallback-owner", default=None, help="email of the fallback owner")
    parser.add_argument(
        "--source",
        default=None,
        metavar="NAME",
        help="registered destination the backup came from, read only: queries and merge queries "
        "the backup lacks are read from it (never written to)",
    )
    same = parser.add_mutually_exclusive_group()
    same.add_argument(
        "--same-instance",
        action="store_const",
        const="same",
        dest="instance",
        help="the destination is the instance the backup came from (overrides the sampled decision)",
    )
    same.add_argument(
        "--other-instance",
        action="store_const",
        const="other",
        dest="instance",
        help="the destination is another instance: a migration (overrides the sampled decision)",
    )
    add_alongside(parser)
    parser.add_argument("--json", action="store_true", dest="as_json")


def add_alongside(parser: Any) -> None:
    parser.add_argument(
        "--alongside",
        type=int,
        action="append",
        default=[],
        metavar="SESSION",
        help="start even though this session is writing into the destination now (repeatable)",
    )


def add_selection_options(parser: Any, *, types: bool = True) -> None:
    if types:
        parser.add_argument("--types", nargs="+", default=None, help="content types to restore")
    parser.add_argument("--ids", nargs="+", default=None)
    parser.add_argument("--search", default=None, help="name/title contains")
    parser.add_argument("--owner", default=None, help="owner user ID or email")
    parser.add_argument("--folder", default=None, help="folder ID")
    parser.add_argument("--include-subfolders", action="store_true")
    parser.add_argument("--updated-after", default=None)
    parser.add_argument("--updated-before", default=None)
    parser.add_argument("--include-deleted", action="store_true")


def selection_from(opts: dict[str, Any]) -> dict[str, Any]:
    sel = {
        "content_types": opts.get("types"),
        "ids": opts.get("ids"),
        "search": opts.get("search"),
        "owner": opts.get("owner"),
        "folder_id": opts.get("folder"),
        "include_subfolders": opts.get("include_subfolders") or False,
        "updated_after": opts.get("updated_after"),
        "updated_before": opts.get("updated_before"),
        "include_deleted": opts.get("include_deleted") or False,
    }
    return {k: v for k, v in sel.items() if v not in (None, False)}


def config_from(opts: dict[str, Any], selection: dict[str, Any]) -> RestoreConfig:
    try:
        return RestoreConfig(
            workers=opts["workers"],
            fanout=opts["fanout"],
            rate_limit_per_second=opts["rate_limit_per_second"],
            rate_limit_per_minute=opts["rate_limit_per_minute"],
            checkpoint_interval=opts["checkpoint_interval"],
            max_retries=opts["max_retries"],
            dry_run=opts["dry_run"],
            skip_if_modified=opts["skip_if_modified"],
            with_dependencies=opts["with_dependencies"],
            verify=opts["verify"],
            fallback_owner_email=opts["fallback_owner"],
            instance=opts.get("instance") or "auto",
            source_destination_id=resolve_destination(opts["source"]).pk
            if opts.get("source")
            else None,
            selection=selection,
        )
    except ValueError as exc:
        raise CommandError(f"invalid options: {exc}") from exc


def resolve_backup(value: str) -> Backup:
    """A registered backup by ID or path; an unregistered path is registered and verified."""
    if value.isdigit():
        found = Backup.objects.filter(pk=int(value)).first()
        if found is None:
            raise CommandError(f"no registered backup with ID {value}")
        if refusal := found.restore_refusal():
            raise CommandError(refusal)
        return found
    path = Path(value).expanduser()
    found = Backup.objects.filter(path=str(path.resolve())).first()
    if found is None:
        try:
            found = Backup.register(path)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
    if found.status == Backup.Status.PENDING:
        found.verify()
    if refusal := found.restore_refusal():
        raise CommandError(refusal)
    return found


def resolve_destination(name: str) -> Destination:
    found = Destination.objects.filter(name=name).first()
    if found is None:
        names = ", ".join(Destination.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"no destination named {name!r} (registered: {names})")
    return found


def resolve_session(value: str) -> RestoreSession:
    found = RestoreSession.objects.filter(pk=int(value)).first() if value.isdigit() else None
    if found is None:
        raise CommandError(f"no restore session {value!r}")
    return found


# The exit code of a command that ran a session says how it ended (docs/cli.md); 2 is bad usage.
EXIT_CODES = {
    "completed": 0,
    "failed": 1,
    "completed_with_failures": 3,
    "cancelled": 4,
}


def exit_code(status: str) -> int:
    return EXIT_CODES.get(status, 1)


COUNTED = ("created", "updated", "unchanged", "skipped", "failed")


def print_summary(
    command: Any, summary: dict[str, Any], as_json: bool, words: dict[str, str] | None = None
) -> int:
    """Print a session summary; the exit code follows the session's final status. `words` names
    counters in the session's own terms (a rollback's "to delete", "put back")."""
    if as_json:
        command.stdout.write(json.dumps(summary, sort_keys=True))
    else:
        counts = ", ".join(f"{summary[k]} {(words or {}).get(k, k)}" for k in COUNTED)
        if summary.get("since_retried"):
            counts += f" ({summary['since_retried']} since retried)"
        mode = " (dry run)" if summary.get("dry_run") else ""
        status = str(summary["status"]).replace("_", " ")
        command.stdout.write(f"Session {summary['session_id']} {status}{mode}: {counts}")
        for slug, c in summary.get("by_type", {}).items():
            command.stdout.write(f"  {slug:15} " + " ".join(f"{k}={v}" for k, v in c.items()))
        for reason in summary.get("blocked_reasons") or []:
            command.stdout.write(f"blocked: {reason['text']}")
        if any(r.get("needs_source") for r in summary.get("blocked_reasons") or []):
            command.stdout.write(
                "  (run again with --source NAME: the instance the backup came from)"
            )
        if summary.get("error"):
            command.stderr.write(f"error: {summary['error']}")
    return exit_code(summary["status"])


def print_doc(command: Any, doc: dict[str, Any], opts: dict[str, Any]) -> int:
    """A command's short answer: JSON with --json, else `key=value` pairs on one line."""
    if opts.get("as_json"):
        command.stdout.write(json.dumps(doc))
    else:
        command.stdout.write(" ".join(f"{k}={v}" for k, v in doc.items()))
    return 0


def iso(value: Any) -> str | None:
    return value.isoformat() if value else None
