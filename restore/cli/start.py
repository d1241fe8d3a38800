"""`restore single`, `restore bulk`, `restore all`: start a restore session of a backup's items."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from restore.cli.common import (
    add_run_options,
    add_selection_options,
    add_target_options,
    config_from,
    print_summary,
    resolve_backup,
    resolve_destination,
    selection_from,
)
from restore.cli.foreground import add_background_options, run_in_foreground, run_or_enqueue
from restore.engine import ContentType, RestoreError, start_session


def _content_type(opts: dict[str, Any]) -> ContentType:
    try:
        return ContentType.parse(opts["type"])
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _start(opts: dict[str, Any], selection: dict[str, Any]) -> Any:
    backup = resolve_backup(opts["backup"])
    destination = resolve_destination(opts["destination"])
    try:
        config = config_from(opts, selection)
        return start_session(backup, destination, config, alongside=opts["alongside"])
    except RestoreError as exc:
        raise CommandError(str(exc)) from exc


def add_single(parser: Any) -> None:
    parser.add_argument("type", help="content type, e.g. dashboard")
    parser.add_argument("id", help="the item's ID in the backup (plain or type::id)")
    add_target_options(parser)
    add_run_options(parser)


def handle_single(command: Any, opts: dict[str, Any]) -> int:
    ct = _content_type(opts)
    selection = {"content_types": [ct.slug], "ids": [opts["id"]], "include_deleted": True}
    session = _start(opts, selection)
    return print_summary(command, run_in_foreground(session), opts["as_json"])


def add_all(parser: Any) -> None:
    add_target_options(parser)
    add_run_options(parser)
    add_selection_options(parser)


def handle_all(command: Any, opts: dict[str, Any]) -> int:
    session = _start(opts, selection_from(opts))
    return print_summary(command, run_in_foreground(session), opts["as_json"])


def add_bulk(parser: Any) -> None:
    parser.add_argument("type", help="content type, e.g. dashboard")
    add_target_options(parser)
    add_run_options(parser)
    add_selection_options(parser, types=False)
    add_background_options(parser)


def handle_bulk(command: Any, opts: dict[str, Any]) -> int:
    ct = _content_type(opts)
    session = _start(opts, {**selection_from(opts), "content_types": [ct.slug]})
    return run_or_enqueue(command, session, opts)
