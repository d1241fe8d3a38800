"""Three qcluster processes restore one distributed session on PostgreSQL + Redis within a
database CONNECTION LIMIT sized for their pools: zero connection errors, the connections each
cluster holds (counted per `application_name`, which names the cluster and its budget) never above
the budget it advertised, and a fourth cluster, which would not fit, refuses to start and says why.

Each worker process runs 8 restore workers and 32 fan-out threads on a pool of 3 connections:
they only hold one for their SQL, never while waiting on Looker (restore.engine.limits.db_budget). A
database's CONNECTION LIMIT stands in for a small `max_connections` (the server is shared; its
own limit cannot be lowered for one test): PostgreSQL refuses connections beyond either alike.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from procs_helpers import (
    assert_no_duplicates,
    compare_with_backup,
    create_session,
    object_ids,
    prepare,
    python,
    query,
    session_row,
    wait_for,
    wait_for_end,
)
from test_distributed import reachable

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from tests.procs import ROOT, app_env, manage, stop

POOL, Q_WORKERS, OTHER_CLIENTS = 3, 2, 4
BUDGET = Q_WORKERS * POOL + 4  # per cluster: restore.engine.limits.db_budget.cluster_budget
LIMIT = 3 * BUDGET + OTHER_CLIENTS + 3  # three fit (and this test's own connections); four not
REDIS = "redis://127.0.0.1:6379/13"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def limited_postgres():
    """A throwaway database with a CONNECTION LIMIT, and a Redis queue name; both removed after."""
    if not (reachable(5432) and reachable(6379)):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL and Redis are expected at 127.0.0.1 on CI")
        pytest.skip("PostgreSQL and Redis not both reachable at 127.0.0.1")
    import psycopg
    import redis

    name = f"lvbudget{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" CONNECTION LIMIT {LIMIT}')
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(f"*{name}*"))
        if keys:
            r.delete(*keys)


def start(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def clusters_advertised(url: str) -> set[str]:
    rows = query(
        url, "select application_name from pg_stat_activity where datname = current_database()"
    )
    return {n.split()[1] for (n,) in rows if n.startswith("lookervault-qcluster ")}


def test_three_qclusters_restore_within_a_small_connection_limit(limited_postgres, tmp_path):
    name = limited_postgres
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    backup = tmp_path / "budget.db"
    with running_emulator(items=300, seed=9) as source:
        extract(
            source.url,
            backup,
            client_id=source.client_id,
            client_secret=source.client_secret,
            shape="raw",
        )
    with running_emulator(latency_ms=2) as emu:
        env = prepare(
            tmp_path / "app",
            emu,
            backup,
            DATABASE_URL=url,
            REDIS_URL=REDIS,
            Q_CLUSTER_NAME=name,
            Q_WORKERS=str(Q_WORKERS),
            LOOKERVAULT_DB_POOL_SIZE=str(POOL),
            LOOKERVAULT_DB_OTHER_CLIENTS=str(OTHER_CLIENTS),
            LOOKERVAULT_CHUNK_SIZE="25",
        )
        before = object_ids(emu)
        # The product's defaults: 8 workers, fan-out 4, no rate ceiling (40 threads a process).
        sid = create_session(env, "distributed")
        logs = [tmp_path / f"q{n}.log" for n in range(1, 5)]
        clusters = []
        peak = 0
        peak_by_name: dict[str, int] = {}
        done = threading.Event()

        def sample_connections() -> None:
            nonlocal peak
            while not done.wait(0.1):
                rows = query(
                    url,
                    "select application_name, count(*) from pg_stat_activity"
                    " where datname = current_database() group by 1",
                )
                peak = max(peak, sum(n for _, n in rows))
                for name, n in rows:
                    peak_by_name[name] = max(n, peak_by_name.get(name, 0))

        sampler = threading.Thread(target=sample_connections, daemon=True)
        sampler.start()
        try:
            for log in logs[:3]:
                clusters.append(start(env, log))
            wait_for(lambda: len(clusters_advertised(url)) == 3, 120, "three clusters advertised")
            # A fourth cluster would not fit: it refuses, with the arithmetic.
            fourth = subprocess.run(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            wait_for_end(url, sid, "the distributed session")
        finally:
            for c in clusters:
                stop(c)
            done.set()
            sampler.join(5)
        texts = [log.read_text() for log in logs[:3]]
        assert fourth.returncode != 0
        assert "not starting: a qcluster with Q_WORKERS=2 and LOOKERVAULT_DB_POOL_SIZE=3" in (
            fourth.stderr
        ), fourth.stderr[-2000:]
        assert f"may hold {BUDGET} PostgreSQL connections (2 × 3 + 4)" in fourth.stderr
        assert f"the database allows {LIMIT}" in fourth.stderr
        assert f"clusters running (3) may hold {3 * BUDGET}" in fourth.stderr

        row = session_row(url, sid)
        assert row["status"] == "completed", (row, texts[0][-3000:])
        assert row["failed"] == 0, row["summary"]
        assert row["total"] >= 300
        errors = query(
            url,
            "select count(*) from restore_restoreitemresult where session_id = ?"
            " and message like '%too many%'",
            sid,
        )[0][0]
        assert errors == 0
        for text in texts:
            assert "too many clients" not in text and "too many connections" not in text
            assert "PoolTimeout" not in text
        # Every process ran chunks within its pool; all of them together within the limit.
        chunks = [t.count("restore chunk of session") for t in texts]
        assert sum(1 for c in chunks if c) >= 2, chunks
        print("peak connections", peak, "of", LIMIT, "chunks per cluster", chunks)
        print("peak per application_name", peak_by_name)
        assert peak <= 3 * BUDGET + 2, peak  # + this test's own sampling connections
        # Each cluster within the budget it advertised: its workers' pools (3 each) and one
        # connection each for the qcluster process, the sentinel, the monitor and the pusher.
        # (The refused fourth held one while it measured.)
        held = {n: c for n, c in peak_by_name.items() if n.startswith("lookervault-qcluster ")}
        assert len(held) >= 3, peak_by_name
        for name, most in held.items():
            assert name.split()[2] == str(BUDGET), name
            assert most <= BUDGET, (name, most)
        assert_no_duplicates(emu, before, url)
        assert compare_with_backup(backup, emu, url) == []


def process_tree(root: int) -> list[int]:
    """root and its live descendants, parents before children (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree = [root]
    for pid in tree:
        tree.extend(children.get(pid, []))
    return tree


def postgres_ports(pid: int) -> set[int]:
    """Local ports of the TCP connections to PostgreSQL whose sockets process `pid` has open."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone meanwhile
        return set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and remote.endswith(":1538"):  # 5432
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def test_processes_besides_workers_hold_one_connection_each(limited_postgres, tmp_path):
    """A pool larger than one opens two connections even in a one-thread process (its first
    connection is still opening in the background when the first query comes, so it grows): the
    qcluster process, the sentinel, the monitor and the pusher get a pool of one, the workers
    LOOKERVAULT_DB_POOL_SIZE."""
    name = limited_postgres
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    env = app_env(
        tmp_path,
        DATABASE_URL=url,
        REDIS_URL=REDIS,
        Q_CLUSTER_NAME=name,
        Q_WORKERS="2",
        LOOKERVAULT_DB_POOL_SIZE=str(POOL),
    )
    manage(env, "migrate", "-v", "0")
    log = tmp_path / "q.log"
    cluster = start(env, log)
    most: dict[int, int] = {}  # per process: the most connections of its own seen
    try:
        wait_for(lambda: "running." in log.read_text(), 120, "the cluster")
        python(
            env,
            "from django_q.tasks import async_task\n"
            "for _ in range(6):\n"
            "    async_task('django.core.management.call_command', 'showmigrations')\n",
        )

        def sample_until_done() -> bool:
            inherited: set[int] = set()
            for pid in process_tree(cluster.pid):
                own = postgres_ports(pid) - inherited  # a child's copies of its parent's sockets
                inherited |= own
                most[pid] = max(len(own), most.get(pid, 0))
            return query(url, "select count(*) from django_q_task")[0][0] == 6

        wait_for(sample_until_done, 120, "six tasks", interval=0.1)
        text = log.read_text()
    finally:
        stop(cluster)
    workers = {int(p) for p in re.findall(r"ready for work at (\d+)", text)}
    monitor = int(re.search(r"monitoring at (\d+)", text).group(1))
    assert len(workers) == 2, text
    print("connections per process", most, "workers", workers, "monitor", monitor)
    for pid, n in most.items():
        assert n <= (POOL if pid in workers else 1), (pid, n, most)
    assert most[cluster.pid] == 1  # the advertisement
    assert most[monitor] == 1  # it saved the six results
