"""Helpers for the execution tests: destinations on emulators, backups extracted from them."""

from __future__ import annotations

import sys
from pathlib import Path

from looker_emulator.testing import RunningEmulator
from restore.engine.core.config import RestoreConfig
from restore.engine.looker.client import LookerClient, LookerSettings
from restore.engine.run.session import start_session
from restore.models import Backup, Destination, RestoreSession

ENGINE_TESTS = Path(__file__).resolve().parent.parent / "engine"
for folder in (ENGINE_TESTS, ENGINE_TESTS.parent):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

# make_destination and make_backup are imported from here by the execution tests.
from helpers import make_backup, make_destination  # noqa: E402, F401

GROUPS = 6  # the groups of `groups_backup`


def client_for(emu: RunningEmulator, in_flight: int = 32) -> LookerClient:
    settings = LookerSettings(emu.url, emu.client_id, emu.client_secret)
    return LookerClient(settings, in_flight=in_flight)


def new_session(backup: Backup, dest: Destination, **config) -> RestoreSession:
    config.setdefault("rate_limit_per_second", None)
    return start_session(backup, dest, RestoreConfig(**config))


def creates_by_type(emu: RunningEmulator) -> dict:
    return emu.stats().get("creates", {})


def compare(backup: Backup, emu: RunningEmulator, dest: Destination) -> list[str]:
    """Field-by-field differences between the backup and the emulator (the engine tests' checker)."""
    from compare import compare_backup, mapping_of

    from restore.engine.backup.reader import open_backup

    with open_backup(backup.path) as reader:
        result = compare_backup(reader, client_for(emu), mapping_of(dest), same=False)
    return result.diffs
