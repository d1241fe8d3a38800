"""The embedded default (SQLite + django-q2's ORM broker) loses nothing under concurrent writers.

Measured before the WAL/IMMEDIATE/busy-timeout options: a loaded cluster lost task results to
"database is locked". This runs a real qcluster with 8 workers plus two enqueuing processes and
a writer in this process, all on one SQLite file, and counts every row.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

from tests.procs import ROOT, app_env, manage, qcluster

TASKS_PER_PRODUCER = 225
PRODUCERS = 2

ENQUEUE = """
from django_q.tasks import async_task
from restore.models import Backup, Destination, RestoreSession
import sys
session_id = int(sys.argv[1]); offset = int(sys.argv[2])
for n in range(offset, offset + {count}):
    async_task("restore.diagnostics.hammer_write", session_id, n, group="hammer")
"""

SETUP = """
from restore.models import Destination, RestoreSession
d = Destination(name="d", base_url="http://127.0.0.1:1", client_id="x")
d.set_client_secret("x"); d.save()
print(RestoreSession.objects.create(destination=d).pk)
"""


def count(db, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchone()[0]


def test_it_loses_no_task_result_or_row_under_concurrent_writers(tmp_path):
    env = app_env(tmp_path, Q_WORKERS="8")
    db = tmp_path / "db.sqlite3"
    manage(env, "migrate", "-v", "0")
    session_id = int(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
    script = ENQUEUE.format(count=TASKS_PER_PRODUCER)
    total = TASKS_PER_PRODUCER * PRODUCERS
    with qcluster(env, tmp_path / "qcluster.log"):
        producers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import django; django.setup(); exec(open(0).read())",
                    str(session_id),
                    str(i * TASKS_PER_PRODUCER),
                ],  # fmt: skip
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                text=True,
            )
            for i in range(PRODUCERS)
        ]
        for proc in producers:
            proc.communicate(script, timeout=120)
            assert proc.returncode == 0
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = count(db, "select count(*) from django_q_task where \"group\" = 'hammer'")
            if done >= total:
                break
            time.sleep(0.5)
    log = (tmp_path / "qcluster.log").read_text()
    assert count(db, "select count(*) from restore_restoreitemresult") == total, log[-3000:]
    assert count(db, "select count(*) from django_q_task where success = 1") == total, log[-3000:]
    assert count(db, "select created from restore_restoresession") == total
    assert "database is locked" not in log
