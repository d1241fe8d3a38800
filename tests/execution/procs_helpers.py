"""Set-up of the app's own processes for the execution tests: a data dir with a destination
pointing at an emulator and a registered backup, sessions created and inspected in its SQLite."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from exec_helpers import ENGINE_TESTS  # noqa: F401  (puts the engine's test helpers on sys.path)

from looker_emulator.testing import RunningEmulator
from restore.engine.core.content_types import RESTORE_ORDER
from tests.procs import ROOT, app_env, manage

CREATE_SESSION = """
import sys
from restore.engine.core.config import RestoreConfig
from restore.engine.run.session import start_session
from restore.models import Backup, Destination
config = RestoreConfig.model_validate_json(sys.argv[1])
session = start_session(Backup.objects.get(), Destination.objects.get(name="dest"), config)
if len(sys.argv) > 2:
    from restore.tasks import enqueue_session
    enqueue_session(session.pk, distributed=sys.argv[2] == "distributed")
print(session.pk)
"""


def prepare(data_dir: Path, emu: RunningEmulator, backup_path: Path, **env_extra: str) -> dict:
    env = app_env(data_dir, **env_extra)
    manage(env, "migrate", "-v", "0")
    manage(
        env,
        "destinations", "add", "dest", "--url", emu.url, "--client-id", emu.client_id,
        stdin=emu.client_secret + "\n",
    )  # fmt: skip
    manage(env, "backups", "add", str(backup_path))
    return env


def python(env: dict, script: str, *args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); exec(open(0).read())", *args],
        cwd=ROOT,
        env=env,
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def create_session(env: dict, mode: str | None = None, **config) -> int:
    args = [json.dumps(config)] + ([mode] if mode else [])
    return int(python(env, CREATE_SESSION, *args).strip().splitlines()[-1])


def query(target: Path | str, sql: str, *params) -> list[tuple]:
    """Rows from the app's database: a data dir (its SQLite file) or a postgres:// URL."""
    if isinstance(target, str) and target.startswith("postgres"):
        import psycopg

        with psycopg.connect(target) as conn:
            return conn.execute(sql.replace("%", "%%").replace("?", "%s"), params).fetchall()
    with sqlite3.connect(Path(target) / "db.sqlite3", timeout=30) as conn:
        return conn.execute(sql, params).fetchall()


SESSION_COLUMNS = ("status", "total", "failed", "created", "summary", "worker_id")


def session_row(target: Path | str, session_id: int) -> dict:
    cols = ", ".join(SESSION_COLUMNS)
    row = query(target, f"select {cols} from restore_restoresession where id = ?", session_id)[0]
    out = dict(zip(SESSION_COLUMNS, row, strict=True))
    if isinstance(out["summary"], str):
        out["summary"] = json.loads(out["summary"] or "{}")
    return out


def heartbeat_age(target: Path | str, session_id: int) -> float:
    """Seconds since the session's last heartbeat (the database stores UTC)."""
    from datetime import UTC, datetime

    (beat,) = query(
        target, "select heartbeat_at from restore_restoresession where id = ?", session_id
    )[0]
    if isinstance(beat, str):
        beat = datetime.fromisoformat(beat)
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return (datetime.now(UTC) - beat).total_seconds()


def results_count(data_dir: Path | str, session_id: int, final: bool = True) -> int:
    sql = "select count(*) from restore_restoreitemresult where session_id = ?"
    if final:
        sql += " and action != 'pending'"
    return query(data_dir, sql, session_id)[0][0]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_for_end(
    target: Path | str, session_id: int, what: str, stalled_after: float = 240
) -> None:
    """Until the session is completed or failed. Fails only when no item has been recorded for
    `stalled_after` seconds: a loaded machine may take longer than usual, a stuck session not."""
    seen, deadline = -1, time.monotonic() + stalled_after
    while session_row(target, session_id)["status"] not in ("completed", "failed"):
        count = results_count(target, session_id, final=False)
        if count != seen:
            seen, deadline = count, time.monotonic() + stalled_after
        elif time.monotonic() > deadline:
            raise AssertionError(f"{what}: no item recorded for {stalled_after}s ({seen} so far)")
        time.sleep(1.0)


def mapping(data_dir: Path | str) -> dict[tuple[int, str], str]:
    rows = query(data_dir, "select content_type, source_id, destination_id from restore_idmapping")
    return {(ct, sid): did for ct, sid, did in rows}


def object_ids(emu: RunningEmulator) -> dict[str, set[str]]:
    return {
        name: {str(o.get("id", o.get("name"))) for o in rows}
        for name, rows in emu.export()["tables"].items()
    }


def assert_no_duplicates(emu: RunningEmulator, before: dict, data_dir: Path | str) -> None:
    """Every object added to the emulator is in the ID map: nothing was created twice."""
    now = object_ids(emu)
    mapped = mapping(data_dir)
    creates = emu.stats()["creates"]
    for ct in RESTORE_ORDER:
        table = ct.slug + "s"
        added = now[table] - before.get(table, set())
        ids = {did for (c, _), did in mapped.items() if c == int(ct)}
        assert added <= ids, (table, sorted(added - ids)[:10])
        # Each create made an object that is still there and mapped (users also bring their
        # personal folders, hence <=): a second create of one item would be an unmapped object.
        assert creates.get(ct.slug, 0) <= len(added), (ct.slug, creates.get(ct.slug), len(added))


def compare_with_backup(backup_path: Path, emu: RunningEmulator, data_dir: Path | str) -> list[str]:
    from compare import compare_backup
    from exec_helpers import client_for

    from restore.engine.backup.reader import open_backup

    with open_backup(backup_path) as reader:
        result = compare_backup(reader, client_for(emu), mapping(data_dir), same=False)
    return result.diffs


def kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def run_manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
