"""Playwright on Debian's Chromium against pytest-django's live_server, with a real qcluster.

The qcluster is a separate process, so the test database must be a file both can open: for SQLite
the test database gets a file name here (an in-memory test database cannot be shared).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_user
from tests.procs import app_env, qcluster
from tests.web.conftest import ensure_roles

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests run last: live_server flushes the database after each of them, which would
    take the migration's role groups away from the tests that follow."""
    browser = [i for i in items if "tests/browser/" in str(i.fspath)]
    for item in browser:
        item.add_marker(pytest.mark.browser)
    items[:] = [i for i in items if i not in browser] + browser


def _file_test_database() -> None:
    """Give an SQLite test database a file (the qcluster subprocess must open the same one)."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        directory = tempfile.mkdtemp(prefix="browser-test-db-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        settings_dict.setdefault("TEST", {})["NAME"] = os.path.join(directory, "test.sqlite3")


_file_test_database()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


def database_url() -> str:
    """The URL of the test database the live server uses, for the qcluster subprocess."""
    from django.db import connection

    sd = connection.settings_dict
    if sd["ENGINE"].endswith("sqlite3"):
        name = str(sd["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            pytest.skip(
                "the test database is in memory; run the browser tests in their own session"
            )
        return f"sqlite:///{name}"
    auth = sd["USER"] + (f":{sd['PASSWORD']}" if sd.get("PASSWORD") else "")
    return f"postgres://{auth}@{sd['HOST'] or '127.0.0.1'}:{sd['PORT'] or 5432}/{sd['NAME']}"


@pytest.fixture
def workers(live_server, settings, tmp_path) -> Iterator[None]:
    """A real django-q2 cluster on the live server's database."""
    env = app_env(Path(settings.DATA_DIR), DATABASE_URL=database_url(), Q_WORKERS="2")
    with qcluster(env, tmp_path / "qcluster.log"):
        yield


@pytest.fixture(scope="session", autouse=True)
def _async_unsafe_allowed() -> Iterator[None]:
    """Playwright's sync API runs an event loop in the test thread; its ORM calls are safe here.
    Only while browser tests run (they run last): `check --deploy` rightly refuses this variable."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def roles_exist(_async_unsafe_allowed, transactional_db) -> None:
    """live_server tests flush the database after each test, taking the migration's groups along."""
    ensure_roles()


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/$"))


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


__all__ = ["login", "make_user", "screenshot"]
