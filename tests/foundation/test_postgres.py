"""The production path: PostgreSQL (and the Redis broker) exercised for real when reachable."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import pytest

from looker_emulator.extract import extract, get_json, make_sdk, send_json
from looker_emulator.testing import running_emulator
from tests.conftest import PARALLEL_BACKUP
from tests.procs import app_env, manage, qcluster

PG_HOST, PG_PORT = "127.0.0.1", 5432
pytestmark = pytest.mark.postgres


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_url():
    if not reachable(PG_HOST, PG_PORT):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is expected at 127.0.0.1:5432 on CI")
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    name = f"lv_test_{uuid.uuid4().hex[:10]}"
    admin = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@{PG_HOST}:{PG_PORT}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_it_migrates_and_runs_commands_on_postgres(tmp_path, pg_url):
    env = app_env(tmp_path, DATABASE_URL=pg_url, LV_SECRET="pg-secret")
    manage(env, "migrate", "-v", "0")
    manage(env, "destinations", "add", "prod", "--url", "https://x.looker.com",
           "--client-id", "cid", "--client-secret-env", "LV_SECRET")  # fmt: skip
    listed = json.loads(manage(env, "destinations", "list", "--json"))
    assert [d["name"] for d in listed] == ["prod"]
    if PARALLEL_BACKUP.exists():
        added = json.loads(manage(env, "backups", "add", str(PARALLEL_BACKUP), "--json"))
        assert added["status"] == "verified" and added["total_items"] == 23


def test_it_runs_tasks_on_postgres_with_the_redis_broker(tmp_path, pg_url):
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis not reachable")
    redis_url = f"redis://127.0.0.1:6379/{(uuid.uuid4().int % 14) + 1}"
    env = app_env(tmp_path, DATABASE_URL=pg_url, REDIS_URL=redis_url, Q_WORKERS="4",
                  Q_CLUSTER_NAME=f"lvtest{uuid.uuid4().hex[:8]}")  # fmt: skip
    manage(env, "migrate", "-v", "0")
    setup = (
        "from restore.models import Destination, RestoreSession\n"
        "d = Destination(name='d', base_url='http://127.0.0.1:1', client_id='x')\n"
        "d.set_client_secret('x'); d.save()\n"
        "s = RestoreSession.objects.create(destination=d)\n"
        "from django_q.tasks import async_task\n"
        "for n in range(100): async_task('restore.diagnostics.hammer_write', s.pk, n)\n"
        "print(s.pk)\n"
    )
    manage(env, "shell", "-c", setup)
    check = "from restore.models import RestoreSession as S; print(S.objects.get().created)"
    with qcluster(env, tmp_path / "qcluster.log"):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if int(manage(env, "shell", "-c", check).split()[-1]) >= 100:
                break
            time.sleep(1)
    assert int(manage(env, "shell", "-c", check).split()[-1]) == 100


def test_it_restores_and_updates_in_place_on_postgres(tmp_path, pg_url):
    """A restore's per-item rows (intents, results, ID map: hand-written SQL) on PostgreSQL:
    a cross-instance restore, then a wrecked dashboard put back, its pre-image kept as JSON."""
    with running_emulator(items=60, seed=5) as src, running_emulator() as dst:
        backup = tmp_path / "b.db"
        extract(
            src.url, backup, client_id=src.client_id, client_secret=src.client_secret, shape="raw"
        )
        env = app_env(tmp_path, DATABASE_URL=pg_url, LV_SECRET=dst.client_secret)
        manage(env, "migrate", "-v", "0")
        manage(env, "destinations", "add", "dst", "--url", dst.url,
               "--client-id", dst.client_id, "--client-secret-env", "LV_SECRET")  # fmt: skip
        restore = ("restore", "all", "--backup", str(backup), "--destination", "dst", "--json")
        first = json.loads(manage(env, *restore, timeout=300))
        assert first["status"] == "completed" and first["failed"] == 0 and first["created"] > 50
        creates = sum(dst.stats()["creates"].values())

        sdk = make_sdk(dst.url, dst.client_id, dst.client_secret)
        board = get_json(sdk, "/dashboards/search", limit=1)[0]
        send_json(sdk, "PATCH", f"/dashboards/{board['id']}", {"title": "wrecked"})
        second = json.loads(manage(env, *restore, timeout=300))
        assert second["failed"] == 0 and second["created"] == 0 and second["updated"] >= 1
        assert sum(dst.stats()["creates"].values()) == creates  # nothing created twice
        assert get_json(sdk, f"/dashboards/{board['id']}")["title"] == board["title"]

        check = (
            "from restore.models import IDMapping, RestoreItemResult as R\n"
            f"r = R.objects.get(session_id={second['session_id']}, action='updated',"
            f" destination_id='{board['id']}', content_type=1)\n"
            "import json\n"
            "print(json.dumps([r.pre_image['title'], r.diff['changes'], IDMapping.objects.count()]))\n"
        )
        out = manage(env, "shell", "-c", check)
        title, changes, mapped = json.loads(out.strip().splitlines()[-1])
        assert title == "wrecked" and changes and mapped >= first["created"], out
