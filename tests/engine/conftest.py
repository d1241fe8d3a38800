"""Fixtures for the engine: emulators, destinations pointing at them, backups extracted from them."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from looker_emulator.extract import extract
from looker_emulator.testing import RunningEmulator, running_emulator
from restore.engine.looker.client import LookerClient, LookerSettings
from restore.models import Backup, Destination

sys.path.insert(0, str(Path(__file__).parent))

from spec_check import SpecRecorder  # noqa: E402


@pytest.fixture
def source_emu() -> Iterator[RunningEmulator]:
    with running_emulator(items=120, seed=11) as emu:
        yield emu


@pytest.fixture
def empty_emu() -> Iterator[RunningEmulator]:
    with running_emulator() as emu:
        yield emu


def make_destination(emu: RunningEmulator, name: str = "emu") -> Destination:
    dest = Destination(name=name, base_url=emu.url, client_id=emu.client_id)
    dest.set_client_secret(emu.client_secret)
    dest.save()
    return dest


def make_backup(emu: RunningEmulator, path: Path) -> Backup:
    extract(emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret, shape="raw")
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    return backup


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
    """A RestoreConfig with no rate ceiling (the product's default since issue 17)."""
    from restore.engine.core.config import RestoreConfig

    config.setdefault("rate_limit_per_second", None)
    return RestoreConfig(**config)
