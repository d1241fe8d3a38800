"""Fixtures shared by every test: users in each role, a destination, fixture backups, a fresh
data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from helpers import FIXTURES, lookervault_fixture

from restore import roles
from restore.models import Destination

PARALLEL_BACKUP = lookervault_fixture("parallel")
SEQUENTIAL_BACKUP = lookervault_fixture("sequential")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite tests use a file database (WAL, like production), not shared-cache memory: the
    parallel runner's threads write at once, and shared-cache memory DBs lock whole tables."""
    from django.conf import settings as django_settings

    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("testdb") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings, tmp_path_factory):
    """Every test writes backups and uploads into its own directory, never into ./data."""
    data = tmp_path_factory.mktemp("data")
    settings.DATA_DIR = data
    settings.BACKUP_DIR = data / "backups"
    settings.MEDIA_ROOT = data / "media"
    return data


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw-" + username)
    if role:
        roles.ensure_role_groups()
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(db) -> User:
    return make_user("alice", roles.RESTORE_ADMIN)


@pytest.fixture
def support_user(db) -> User:
    return make_user("sam", roles.SUPPORT)


@pytest.fixture
def auditor_user(db) -> User:
    return make_user("audrey", roles.AUDITOR)


@pytest.fixture
def no_role_user(db) -> User:
    return make_user("nobody", None)


@pytest.fixture
def destination(db) -> Destination:
    d = Destination(name="prod", base_url="https://looker.example.com", client_id="cid")
    d.set_client_secret("TOP-SECRET-VALUE")
    d.save()
    return d


@pytest.fixture
def fixture_backup_path() -> Path:
    if not PARALLEL_BACKUP.exists():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return PARALLEL_BACKUP
