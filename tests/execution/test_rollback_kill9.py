"""kill -9 of a rollback in the middle, then resume: the rollback (not a restore) finishes, nothing
is created, and the destination is back to its state before the restore. Real processes, a real
SQLite file, real HTTP. No step waits on the clock: each waits for the event it needs."""

from __future__ import annotations

import json
import subprocess
import sys

from procs_helpers import (
    heartbeat_age,
    kill9,
    prepare,
    query,
    results_count,
    run_manage,
    session_row,
    wait_for,
)

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from looker_emulator.wreck import wreck
from tests.procs import ROOT, stop

SHORT_LEASE = 2.0


def rollback_id(data) -> int | None:
    rows = query(data, "select id from restore_restoresession where kind = 'rollback'")
    return rows[0][0] if rows else None


def differences(emu, wrecked_path) -> list[str]:
    from compare import compare_backup
    from exec_helpers import client_for

    from restore.engine.backup.reader import Selection, open_backup

    with open_backup(wrecked_path) as reader:
        result = compare_backup(
            reader, client_for(emu), {}, same=True, selection=Selection(include_deleted=True)
        )
    assert result.compared > 3000
    return result.diffs


def test_kill_9_mid_rollback_then_resume_finishes_the_rollback(tmp_path):
    data = tmp_path / "app"
    with running_emulator(items=300, seed=13) as emu:
        extract(
            emu.url,
            tmp_path / "before.db",
            client_id=emu.client_id,
            client_secret=emu.client_secret,
        )
        env = prepare(data, emu, tmp_path / "before.db")
        wreck(
            emu.url, seed=3, fraction=0.15, client_id=emu.client_id, client_secret=emu.client_secret
        )
        extract(
            emu.url,
            tmp_path / "wrecked.db",
            client_id=emu.client_id,
            client_secret=emu.client_secret,
        )
        restore = run_manage(
            env, "restore", "all", "--backup", "1", "--destination", "dest",
            "--rate-limit-per-second", "1000", "--json",
        )  # fmt: skip
        assert restore.returncode == 0, restore.stderr
        restored = json.loads(restore.stdout)
        assert restored["created"] > 5 and restored["updated"] > 20, restored

        # Slow writes, so the rollback is surely in the middle when it is killed.
        slow = {"action": "delay", "delay_ms": 150, "count": 100_000}
        emu.set_faults(add_rules=[{"method": m, "path": "*", **slow} for m in ("DELETE", "PATCH")])
        emu.reset()
        log = (tmp_path / "rollback.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "restore", "rollback", str(restored["session_id"])],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            sid = wait_for(lambda: rollback_id(data), 120, "the rollback session")
            wait_for(lambda: results_count(data, sid) >= 5, 120, "5 rollback steps")
            kill9(proc)
        finally:
            stop(proc)
        row = session_row(data, sid)
        assert row["status"] == "running"  # the dead process could not say otherwise
        assert results_count(data, sid) < row["total"]

        # A live lease is respected (the default 60 s lease is far from over)...
        refused = run_manage(env, "restore", "resume", str(sid))
        assert refused.returncode != 0 and "is running" in refused.stderr, refused.stderr
        # ...an expired one is taken over: once the heartbeat is older than a short lease, a
        # process whose lease is that short resumes it (the claimer decides what "stale" is).
        wait_for(lambda: heartbeat_age(data, sid) > SHORT_LEASE, 120, "the lease to lapse")
        emu.set_faults(clear=True)
        resumed = run_manage(
            {**env, "LOOKERVAULT_LEASE_SECONDS": str(SHORT_LEASE)},
            "restore", "resume", str(sid), "--json",
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["status"] == "completed" and summary["failed"] == 0, summary
        kind = query(data, "select kind from restore_restoresession where id = ?", sid)[0][0]
        assert kind == "rollback"
        assert emu.stats()["creates"] == {}
        assert differences(emu, tmp_path / "wrecked.db") == []
