"""kill -9 of the qcluster in the middle of a restore, then resume: the final state equals the
backup and the emulator saw no duplicate create. Real processes, real SQLite file, real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from procs_helpers import (
    assert_no_duplicates,
    compare_with_backup,
    create_session,
    heartbeat_age,
    kill9,
    object_ids,
    prepare,
    results_count,
    run_manage,
    session_row,
    wait_for,
)

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from tests.procs import ROOT, stop

ITEMS = 5000  # the issue: kill -9 "in the middle of a 5,000-item restore"
SHORT_LEASE = 3.0


@pytest.fixture(scope="module")
def big_backup(tmp_path_factory):
    path = tmp_path_factory.mktemp("backup") / "big.db"
    with running_emulator(items=ITEMS, seed=21) as emu:
        extract(
            emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret, shape="raw"
        )
    return path


def start_qcluster(env, log):
    out = log.open("a")
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_kill_9_mid_restore_then_resume_restores_everything_once(big_backup, tmp_path):
    data = tmp_path / "app"
    with running_emulator(latency_ms=1) as emu:
        # The default 60 s lease: "a live lease is respected" holds however loaded the machine.
        env = prepare(data, emu, big_backup, Q_WORKERS="2")
        before = object_ids(emu)
        started = time.monotonic()
        sid = create_session(env, "local", workers=8, rate_limit_per_second=None)
        log = tmp_path / "qcluster.log"
        cluster = start_qcluster(env, log)
        try:
            total = wait_for(lambda: session_row(data, sid)["total"], 60, "the session to start")
            wait_for(lambda: results_count(data, sid) >= total * 0.3, 120, "30% of the items")
            kill9(cluster)
        finally:
            stop(cluster)
        done_at_kill = results_count(data, sid)
        row = session_row(data, sid)
        assert row["status"] == "running"  # the dead process could not say otherwise
        assert done_at_kill < total
        # A live lease is respected...
        refused = run_manage(env, "restore", "resume", str(sid), "--json")
        assert refused.returncode != 0 and "is running" in refused.stderr, refused.stderr
        # ...a stale one is taken over. Once the heartbeat is older than a short lease, a new
        # cluster whose lease is that short (the claimer decides what "stale" is) resumes it.
        wait_for(lambda: heartbeat_age(data, sid) > SHORT_LEASE, 120, "the lease to lapse")
        short = {**env, "LOOKERVAULT_LEASE_SECONDS": str(SHORT_LEASE)}
        cluster = start_qcluster(short, log)
        try:
            out = run_manage(short, "restore", "resume", str(sid), "--enqueue", "--json")
            assert out.returncode == 0, out.stderr
            wait_for(
                lambda: session_row(data, sid)["status"] == "completed", 240, "the resumed session"
            )
        finally:
            stop(cluster)
        elapsed = time.monotonic() - started
        row = session_row(data, sid)
        print(f"{total} items, killed at {done_at_kill}, total {elapsed:.1f}s", row["summary"])
        assert results_count(data, sid, final=False) == results_count(data, sid) == total
        assert row["failed"] == 0, row["summary"]
        assert_no_duplicates(emu, before, data)
        assert compare_with_backup(big_backup, emu, data) == []
        status = run_manage(env, "restore", "status", "--all", "--json")
        assert status.returncode == 0
        assert '"status": "completed"' in status.stdout
