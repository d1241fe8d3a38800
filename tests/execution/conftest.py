"""Fixtures shared by the execution tests (their helpers are in exec_helpers.py)."""

from __future__ import annotations

import pytest
from exec_helpers import GROUPS

from looker_emulator.backup import BackupWriter
from restore.engine.limits import retries as retry
from restore.models import Backup


@pytest.fixture
def fast_retries():
    """Backoff waits of at most 50 ms: the retries are what is tested, not their pauses."""
    retry.set_testing(True, max_wait=0.05)
    yield
    retry.set_testing(False)


@pytest.fixture
def groups_backup(tmp_path) -> Backup:
    """A verified backup of GROUPS groups from another instance (no dependencies, quick)."""
    path = tmp_path / "groups.db"
    with BackupWriter(path, source="https://elsewhere.example.com") as out:
        for n in range(1, GROUPS + 1):
            out.add("group", {"id": str(n), "name": f"group {n}"})
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    return backup
