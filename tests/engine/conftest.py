"""Fixtures for the engine: emulators, destinations pointing at them, backups extracted from them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from looker_emulator.testing import RunningEmulator, running_emulator
from restore.engine.looker.client import LookerClient, LookerSettings
from restore.models import Backup

sys.path.insert(0, str(Path(__file__).parent))
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parents[1]))

# make_destination and make_backup are imported from here by the engine tests.
from helpers import make_backup, make_destination  # noqa: E402, F401
from spec_check import SpecRecorder  # noqa: E402


@pytest.fixture
def source_emu() -> Iterator[RunningEmulator]:
    with running_emulator(items=120, seed=11) as emu:
        yield emu


@pytest.fixture
def empty_emu() -> Iterator[RunningEmulator]:
    with running_emulator() as emu:
        yield emu


def client_for(emu: RunningEmulator, recorder: SpecRecorder | None = None) -> LookerClient:
    client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret), in_flight=4)
    if recorder is not None:
        client.add_observer(recorder)
    return client


@pytest.fixture
def recorder() -> Iterator[SpecRecorder]:
    rec = SpecRecorder()
    yield rec
    assert rec.errors == [], "requests invalid against the spec:\n" + "\n".join(rec.errors[:20])


@pytest.fixture
def backup_factory(tmp_path: Path) -> Callable[[RunningEmulator], Backup]:
    counter = iter(range(1000))
    return lambda emu: make_backup(emu, tmp_path / f"backup-{next(counter)}.db")


def run(session, client: LookerClient | None = None) -> dict:
    """Run a session (any kind) to its end with the production runner, as users run it."""
    from restore.engine import run_session

    return run_session(session.pk, client=client)


def quick(**config):
    """A RestoreConfig with no rate ceiling (the product's default)."""
    from restore.engine.core.config import RestoreConfig

    config.setdefault("rate_limit_per_second", None)
    return RestoreConfig(**config)
