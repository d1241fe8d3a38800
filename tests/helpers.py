"""Helpers the engine and execution tests share: the shared fixtures folder, a destination on an
emulator, a verified backup extracted from one."""

from __future__ import annotations

from pathlib import Path

from looker_emulator.extract import extract
from looker_emulator.testing import RunningEmulator
from restore.models import Backup, Destination

# The shared folder beside the repository: Looker's spec and lookervault's own backups. Resolved
# (it may be a link), as the app resolves a backup's path when it registers it.
SHARED = (Path(__file__).resolve().parents[2] / "shared").resolve()
FIXTURES = SHARED / "fixtures"


def lookervault_fixture(style: str) -> Path:
    """One of lookervault 0.1.0's own backups: `style` is "parallel" or "sequential"."""
    return FIXTURES / f"lookervault-0.1.0-{style}.db"


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
