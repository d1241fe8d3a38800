"""Same-instance disaster recovery: generate ≥2,000 items, back up, wreck, restore all, compare."""

from __future__ import annotations

import time

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_backup, make_destination, quick, run
from wreck import wreck

from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import open_backup
from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)


def emulator_wreck(emu) -> dict:
    from looker_emulator.wreck import wreck as emulator_wreck_fn

    return emulator_wreck_fn(
        emu.url, seed=8, fraction=0.1, client_id=emu.client_id, client_secret=emu.client_secret
    )


@pytest.mark.parametrize("disaster", ["emulator-wreck", "test-wreck"])
def test_disaster_recovery_restores_every_writable_field(disaster, tmp_path, recorder):
    with running_emulator(items=2000, seed=3) as emu:
        backup = make_backup(emu, tmp_path / "dr.db")
        assert backup.total_items >= 2000
        dest = make_destination(emu)
        if disaster == "emulator-wreck":
            damage = emulator_wreck(emu)
        else:
            damage = wreck(client_for(emu), seed=5)
        with open_backup(backup.path) as reader:
            before = compare_backup(reader, client_for(emu), {}, same=True)
        assert len(before.diffs) > 50, damage  # the wreck really changed things

        started = time.monotonic()
        summary = run(start_session(backup, dest, quick()), client_for(emu, recorder))
        elapsed = time.monotonic() - started
        print(f"restored {summary['total']} items in {elapsed:.1f}s: {summary}")
        assert summary["status"] == "completed"
        assert summary["failed"] == 0, summary
        assert summary["created"] > 0 and summary["updated"] > 0

        with open_backup(backup.path) as reader:
            after = compare_backup(reader, client_for(emu), mapping_of(dest), same=True)
        (tmp_path / "diffs.txt").write_text("\n".join(after.diffs))
        print("DIFFS FILE", tmp_path / "diffs.txt")
        assert after.diffs == [], "\n".join(after.diffs[:40])
        assert after.compared > 20_000
