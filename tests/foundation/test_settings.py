"""Settings: SQLite tuned for concurrent writers; production settings pass `check --deploy`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import connection

from lookervault_web.settings import database_config
from tests.procs import ROOT, app_env


def test_sqlite_is_configured_for_concurrent_writers():
    config = database_config("sqlite:////tmp/x.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["timeout"] >= 20


def test_postgres_url_is_parsed():
    config = database_config("postgres://u:p@db.example:5433/lv")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", 5433, "lv")


def test_wal_is_on_for_the_test_database(db):
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    # In-memory test databases cannot use WAL; file databases must.
    assert mode in ("wal", "memory")


def test_production_settings_pass_check_deploy(tmp_path):
    env = app_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="lookervault_web.settings_production",
        SECRET_KEY="k" * 30 + "-Production-Secret-Key-0123456789-abcdef",
        LOOKERVAULT_ENCRYPTION_KEY="e" * 40,
        ALLOWED_HOSTS="lookervault.example.com",
    )
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "LOOKERVAULT_ENCRYPTION_KEY"])
def test_production_settings_refuse_to_start_without_their_keys(tmp_path, missing):
    keys = {"SECRET_KEY": "k" * 50, "LOOKERVAULT_ENCRYPTION_KEY": "e" * 40}
    env = app_env(tmp_path, DJANGO_SETTINGS_MODULE="lookervault_web.settings_production", **keys)
    env.pop(missing)
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert f"{missing} must be set" in proc.stderr


def test_check_deploy_says_when_secrets_have_no_key_of_their_own(tmp_path):
    env = app_env(tmp_path, SECRET_KEY="k" * 50)
    env.pop("LOOKERVAULT_ENCRYPTION_KEY", None)
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (
        "restore.E002" in proc.stderr + proc.stdout and "LOOKERVAULT_ENCRYPTION_KEY" in proc.stderr
    )
