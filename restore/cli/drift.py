"""`restore drift --backup B --destination D [--json]`: what changed in a destination since a backup.

Runs a session of kind `drift` with the runner (resumable: `restore resume ID`), which writes
nothing in Looker. `--json` prints the session summary (`session_id`, `status`, counts) plus the
`changed`, `deleted` and `created` lists, entries as in `backups diff`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from restore.cli.changes import change_lines
from restore.cli.common import exit_code, resolve_backup, resolve_destination
from restore.engine import RestoreError, drift_findings, start_drift
from restore.views.plan_lines import drift_sides

SHOWN = ("changed", "deleted", "created")


def add_drift(parser: Any) -> None:
    parser.add_argument("--backup", "-b", required=True, help="registered backup ID or a file path")
    parser.add_argument("--destination", "-d", required=True, help="destination name")
    parser.add_argument("--types", nargs="+", default=None, help="only these content types")
    parser.add_argument("--json", action="store_true", dest="as_json")


def drift_document(session: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """The summary plus the findings, each with its changes in the plan's words."""
    doc = dict(summary)
    found = drift_findings(session)
    before, after = drift_sides(session, found)
    for kind in SHOWN:
        doc[kind] = [
            f.as_dict()
            | (
                {"changes": change_lines(f.changes, f.content_type, after, before)}
                if f.changes
                else {}
            )
            for f in found[kind]
        ]
    return doc


def handle_drift(command: Any, opts: dict[str, Any]) -> int:
    from restore.cli.foreground import run_in_foreground

    backup = resolve_backup(opts["backup"])
    destination = resolve_destination(opts["destination"])
    try:
        session = start_drift(backup, destination, types=opts.get("types"))
    except (RestoreError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    summary = run_in_foreground(session)
    session.refresh_from_db()
    doc = drift_document(session, summary)
    if opts["as_json"]:
        command.stdout.write(json.dumps(doc, sort_keys=True, default=str))
        return exit_code(doc["status"])
    status = str(doc["status"]).replace("_", " ")
    command.stdout.write(f"Drift check {doc['session_id']} {status}: since backup {backup.pk}")
    for kind in SHOWN:
        command.stdout.write(f"{kind} since: {len(doc[kind])}")
        for entry in doc[kind]:
            command.stdout.write(f"  {entry['type']} {entry['id']} {entry['title']!r}")
            for line in entry.get("changes", []):
                command.stdout.write(f"      {line}")
    return exit_code(doc["status"])
