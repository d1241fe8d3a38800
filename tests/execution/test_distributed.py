"""Two qcluster processes restore one session split into chunk tasks, level barriers kept.

SQLite + the ORM broker always; PostgreSQL + the Redis broker too when they are reachable at
127.0.0.1 (the production path). The rate limiter is shared through the database or Redis.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid

import pytest
from procs_helpers import (
    assert_no_duplicates,
    compare_with_backup,
    create_session,
    object_ids,
    prepare,
    query,
    results_count,
    session_row,
    wait_for_end,
)

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from restore.engine.core.content_types import RESTORE_ORDER, ContentType
from tests.procs import ROOT, stop


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    path = tmp_path_factory.mktemp("backup") / "dist.db"
    with running_emulator(items=300, seed=9) as emu:
        extract(
            emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret, shape="raw"
        )
    return path


@pytest.fixture(params=["sqlite", "postgres+redis"])
def backend(request):
    """(extra env, database target for the checks)."""
    name = f"lvtest{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        yield {"Q_CLUSTER_NAME": name}, None
        return
    if not (reachable(5432) and reachable(6379)):
        pytest.skip("PostgreSQL and Redis not both reachable at 127.0.0.1")
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    env = {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/14", "Q_CLUSTER_NAME": name}
    try:
        yield env, url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(env, log):
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_two_qcluster_processes_restore_a_backup_with_ordering_kept(backup, backend, tmp_path):
    extra, target = backend
    data = tmp_path / "app"
    with running_emulator(latency_ms=2) as emu:
        env = prepare(data, emu, backup, Q_WORKERS="2", LOOKERVAULT_CHUNK_SIZE="10", **extra)
        if extra.get("DATABASE_URL"):
            env["DATABASE_URL"], env["REDIS_URL"] = extra["DATABASE_URL"], extra["REDIS_URL"]
        target = target or data
        before = object_ids(emu)
        sid = create_session(
            env, "distributed", workers=4, rate_limit_per_second=200, checkpoint_interval=20
        )
        logs = [tmp_path / "q1.log", tmp_path / "q2.log"]
        clusters = [start(env, log) for log in logs]
        try:
            wait_for_end(target, sid, "the distributed session")
        finally:
            for c in clusters:
                stop(c)
        row = session_row(target, sid)
        texts = [log.read_text() for log in logs]
        assert row["status"] == "completed", (row, texts[0][-3000:])
        assert row["failed"] == 0, row["summary"]
        assert results_count(target, sid, final=False) == results_count(target, sid) == row["total"]
        # Both processes ran chunks.
        chunks = [t.count("restore chunk of session") for t in texts]
        print("chunks per process", chunks)
        assert all(chunks), [t[-1500:] for t in texts]
        # The barriers: every item of a level finished before any item of the next one (items
        # finished again in the second pass, for references to later types, are left out).
        spans = {
            ct: (lo, hi)
            for ct, lo, hi in query(
                target,
                "select content_type, min(finished_at), max(finished_at)"
                " from restore_restoreitemresult where session_id = ?"
                " and (diff is null or cast(diff as text) not like '%second_pass%')"
                " group by content_type",
                sid,
            )
        }
        levels = [int(ct) for ct in RESTORE_ORDER if int(ct) in spans]
        assert len(levels) >= 8
        for a, b in zip(levels, levels[1:], strict=False):
            assert str(spans[a][1]) <= str(spans[b][0]), (ContentType(a).slug, ContentType(b).slug)
        assert_no_duplicates(emu, before, target)
        assert compare_with_backup(backup, emu, target) == []
        # A worker process keeps its session context from one chunk to the next: it logs in once
        # (the coordinator, each of the 4 worker processes, a connection check), not per chunk.
        logins = sum(r["count"] for r in emu.stats()["requests"] if r["route"].endswith("/login"))
        assert logins <= 8 < sum(chunks), (logins, chunks)
