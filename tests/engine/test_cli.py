"""`manage.py restore all|single|rollback` from the command line's point of view: JSON, exit codes."""

from __future__ import annotations

import io
import json

import pytest
from conftest import make_backup, make_destination
from django.core.management import CommandError, call_command
from helpers import lookervault_fixture

from restore.cli.common import EXIT_CODES

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = {"session_id", "status", "created", "updated", "unchanged", "skipped", "failed", "by_type"}


def run(*args: str) -> tuple[dict, int]:
    out = io.StringIO()
    try:
        call_command("restore", *args, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return json.loads(out.getvalue()), code


def test_all_with_types_from_a_backup_path_dry_run_then_real(source_emu, empty_emu, tmp_path):
    backup = make_backup(source_emu, tmp_path / "b.db")
    make_destination(empty_emu, "target")
    path = str(tmp_path / "b.db")
    plan, code = run(
        "all",
        "--backup",
        path,
        "--destination",
        "target",
        "--types",
        "user",
        "group",
        "folder",
        "--dry-run",
        "--json",
    )
    assert code == 0 and plan.keys() >= KEYS and plan["dry_run"] is True
    assert set(plan["by_type"]) == {"user", "group", "folder"}
    assert all(
        isinstance(plan[k], int) for k in ("created", "updated", "unchanged", "skipped", "failed")
    )
    assert empty_emu.stats()["creates"] == {}
    done, code = run(
        "all",
        "--backup",
        str(backup.pk),
        "--destination",
        "target",
        "--types",
        "user",
        "group",
        "folder",
        "--json",
    )
    assert code == 0 and done["created"] == plan["created"] and done["status"] == "completed"


def test_blocked_items_give_a_non_zero_exit(source_emu, empty_emu, tmp_path):
    make_backup(source_emu, tmp_path / "b.db")
    make_destination(empty_emu, "target")
    summary, code = run(
        "all",
        "--backup",
        str(tmp_path / "b.db"),
        "--destination",
        "target",
        "--types",
        "look",
        "--json",
    )
    # Looks in folders the destination lacks are blocked: the session says so, so does the exit code.
    assert summary["failed"] > 0 and summary["status"] != "completed"
    assert code == EXIT_CODES[summary["status"]] != 0


def test_usage_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(CommandError, match="no destination named 'nope'"):
        call_command(
            "restore",
            "all",
            "--backup",
            str(lookervault_fixture("parallel")),
            "--destination",
            "nope",
        )
    with pytest.raises(CommandError, match="no backup file"):
        call_command(
            "restore", "all", "--backup", str(tmp_path / "missing.db"), "--destination", "x"
        )
    with pytest.raises(CommandError, match="unknown content type"):
        call_command("restore", "single", "widget", "1", "--backup", "1", "--destination", "x")
    with pytest.raises(CommandError, match="no restore session"):
        call_command("restore", "rollback", "999")


def test_a_dry_run_cannot_be_rolled_back(source_emu, empty_emu, tmp_path):
    make_backup(source_emu, tmp_path / "b.db")
    make_destination(empty_emu, "target")
    plan, _ = run(
        "all",
        "--backup",
        str(tmp_path / "b.db"),
        "--destination",
        "target",
        "--types",
        "group",
        "--dry-run",
        "--json",
    )
    with pytest.raises(CommandError, match="was a dry run"):
        call_command("restore", "rollback", str(plan["session_id"]))
