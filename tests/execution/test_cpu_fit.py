"""A process that keeps its core busy against a destination answering at once restores the same
backup the same way, fewer items at once and without fan-out."""

from __future__ import annotations

import pytest
from exec_helpers import compare, creates_by_type, make_backup, make_destination, new_session

from looker_emulator.testing import running_emulator
from restore.engine.kinds import kind_for
from restore.engine.limits import cpu_load
from restore.engine.run.runner import SessionRunner

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def source_state():
    with running_emulator(items=150, seed=7) as emu:
        yield emu.export()


def migrate(source_state, tmp_path, name: str, **config) -> tuple[dict, SessionRunner, dict]:
    with running_emulator(source_state) as src:
        backup = make_backup(src, tmp_path / f"{name}.db")
    with running_emulator() as emu:
        dest = make_destination(emu, name)
        runner = SessionRunner(new_session(backup, dest, workers=8, **config).pk, kind_for=kind_for)
        summary = runner.run()
        assert summary["status"] == "completed" and summary["failed"] == 0, summary
        assert compare(backup, emu, dest) == []
        return summary, runner, creates_by_type(emu)


def test_a_busy_process_runs_fewer_items_at_once_and_restores_the_same(
    source_state, tmp_path, monkeypatch
):
    calm_summary, calm, calm_creates = migrate(source_state, tmp_path, "calm", fit_to_cpu=False)
    assert calm.items.active.limit == 8

    monkeypatch.setattr(cpu_load, "STEP_S", 0.0)  # one step per item finished
    monkeypatch.setattr(cpu_load.cpu_load, "busy", lambda: 1.0)  # a core fully used throughout
    monkeypatch.setattr(cpu_load.cpu_load, "needed", lambda: 1)  # and answers at once
    busy_summary, busy, busy_creates = migrate(source_state, tmp_path, "busy")
    assert busy.items.active.limit == cpu_load.LEAST_ITEMS
    assert busy_creates == calm_creates
    for key in ("created", "updated", "unchanged", "skipped", "failed", "by_type"):
        assert busy_summary[key] == calm_summary[key], key
