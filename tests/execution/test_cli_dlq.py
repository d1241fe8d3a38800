"""The command line end to end: a restore whose dashboard creates keep failing puts them in the
DLQ; after the fault is removed, `restore dlq retry` restores them and the session's counts follow."""

from __future__ import annotations

import json

import pytest
from procs_helpers import assert_no_duplicates, compare_with_backup, object_ids, prepare, run_manage

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator


@pytest.fixture(scope="module")
def small_backup(tmp_path_factory):
    path = tmp_path_factory.mktemp("backup") / "small.db"
    with running_emulator(items=120, seed=4) as emu:
        extract(
            emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret, shape="raw"
        )
    return path


def cli(env, *args, ok=True):
    proc = run_manage(env, "restore", *args)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_dlq_retry_from_the_cli_restores_items_after_the_fault_is_removed(small_backup, tmp_path):
    data = tmp_path / "app"
    with running_emulator() as emu:
        env = prepare(data, emu, small_backup)
        before = object_ids(emu)
        emu.set_faults(
            rules=[{"path": "*/dashboards", "method": "POST", "status": 503, "count": None}]
        )
        run = cli(
            env, "all", "--backup", str(small_backup), "--destination", "dest",
            "--max-retries", "1", "--rate-limit-per-second", "200", "--json", ok=False,
        )  # fmt: skip
        assert run.returncode == 3, run.stderr  # completed with failures
        summary = json.loads(run.stdout)
        dashboards = summary["by_type"]["dashboard"]
        assert dashboards["failed"] > 0 and dashboards["created"] == 0
        session_id = summary["session_id"]

        items = json.loads(cli(env, "dlq", "list", "--json").stdout)
        assert len(items) == summary["failed"]
        # The dashboards failed on 503; the boards and plans that show them are blocked.
        first = next(i for i in items if i["content_type"] == "dashboard")
        blocked = [i for i in items if i["content_type"] != "dashboard"]
        assert {i["error_class"] for i in blocked} <= {"MissingDependencyError"}
        assert {
            "id",
            "session_id",
            "content_type",
            "content_id",
            "http_status",
            "error_class",
            "message",
        } <= set(first)
        assert first["http_status"] == 503 and first["content_type"] == "dashboard"
        detail = json.loads(cli(env, "dlq", "show", str(first["id"]), "--json").stdout)
        assert detail["request_method"] == "POST"
        assert len(detail["attempts"]) == 2  # the first try and one retry
        assert "Traceback" in detail["stack_trace"]

        emu.set_faults(clear=True)
        retried = cli(env, "dlq", "retry", "--session", str(session_id), "--json")
        report = json.loads(retried.stdout)
        assert report["resolved"] == len(items) and report["failed"] == 0

        assert json.loads(cli(env, "dlq", "list", "--json").stdout) == []
        resolved = json.loads(cli(env, "dlq", "list", "--status", "resolved", "--json").stdout)
        assert len(resolved) == len(items)
        status = json.loads(cli(env, "status", str(session_id), "--json").stdout)
        # What the session did stays as it was; the retries are reported beside it.
        assert status["failed"] == summary["failed"] == status["since_retried"]
        assert status["by_type"]["dashboard"]["failed"] == dashboards["failed"]
        assert status["dlq_open"] == 0 and status["by_error_class"] == {}
        sessions = json.loads(cli(env, "status", "--all", "--json").stdout)
        # The retry ran as a session of its own, linked to the one it retried.
        (retry_id,) = report["sessions"]
        assert [s["session_id"] for s in sessions] == [retry_id, session_id]
        assert [s["status"] for s in sessions] == ["completed", "completed_with_failures"]
        retry_status = json.loads(cli(env, "status", str(retry_id), "--json").stdout)
        done = sum(retry_status[k] for k in ("created", "updated", "unchanged"))
        assert (done, retry_status["failed"]) == (report["resolved"], 0), retry_status
        assert_no_duplicates(emu, before, data)
        assert compare_with_backup(small_backup, emu, data) == []


def test_cli_usage_errors_exit_non_zero_with_a_message(tmp_path, small_backup):
    with running_emulator() as emu:
        env = prepare(tmp_path / "app", emu, small_backup)
        missing = cli(env, "resume", "999", ok=False)
        assert missing.returncode != 0 and "no restore session" in missing.stderr
        nothing = cli(env, "dlq", "retry", ok=False)
        assert nothing.returncode != 0 and "say which items" in nothing.stderr
        assert json.loads(cli(env, "status", "--all", "--json").stdout) == []


def test_cancel_from_the_cli_then_resume_finishes_without_duplicates(small_backup, tmp_path):
    import subprocess
    import sys

    from procs_helpers import query, results_count, session_row, wait_for

    from tests.procs import ROOT

    data = tmp_path / "app"
    with running_emulator(latency_ms=15) as emu:
        env = prepare(data, emu, small_backup)
        before = object_ids(emu)
        run = subprocess.Popen(
            [sys.executable, "manage.py", "restore", "all", "--backup", str(small_backup),
             "--destination", "dest", "--workers", "2", "--fanout", "2", "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: query_one(data) and results_count(data, 1) >= 20, 60, "20 items")
            # The rest of the run slows to a crawl, so the cancel always lands before the end,
            # however long a loaded machine takes to start the `cancel` command.
            emu.set_faults(latency_ms=3000)
            cli(env, "cancel", "1")
            out, err = run.communicate(timeout=300)
            emu.set_faults(latency_ms=15)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 4, err[-2000:]
        assert json.loads(out)["status"] == "cancelled"
        assert session_row(data, 1)["status"] == "cancelled"
        config = json.loads(query(data, "select config from restore_restoresession")[0][0])
        assert (config["workers"], config["fanout"]) == (2, 2)
        assert cli(env, "cancel", "1", ok=False).returncode != 0  # not running any more
        resumed = json.loads(cli(env, "resume", "1", "--json").stdout)
        assert resumed["status"] == "completed" and resumed["failed"] == 0
        assert_no_duplicates(emu, before, data)
        assert compare_with_backup(small_backup, emu, data) == []


def query_one(data) -> bool:
    from procs_helpers import query

    return bool(query(data, "select count(*) from restore_restoresession")[0][0])
