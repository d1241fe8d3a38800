"""Undo a whole restore: after wreck → restore → rollback, the instance equals its wrecked state
(a second backup taken right before the restore), field by field, trashed items included."""

from __future__ import annotations

import pytest
from compare import compare_backup
from conftest import client_for, make_backup, make_destination

from looker_emulator.testing import running_emulator
from looker_emulator.wreck import wreck
from restore.engine.backup_reader import Selection, open_backup
from restore.engine.config import RestoreConfig
from restore.engine.rollback import rollback_session
from restore.engine.session import run_session, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_rollback_returns_the_instance_to_its_state_before_the_restore(tmp_path, recorder):
    with running_emulator(items=300, seed=13) as emu:
        backup = make_backup(emu, tmp_path / "before.db")
        dest = make_destination(emu)
        wreck(
            emu.url, seed=3, fraction=0.15, client_id=emu.client_id, client_secret=emu.client_secret
        )
        wrecked = make_backup(emu, tmp_path / "wrecked.db")

        restored = start_session(backup, dest, RestoreConfig())
        summary = run_session(restored, client_for(emu, recorder))
        assert summary["failed"] == 0 and summary["updated"] > 20 and summary["created"] > 5, (
            summary
        )

        undo = rollback_session(restored, client=client_for(emu, recorder))
        from restore.models import RestoreItemResult

        bad = list(
            RestoreItemResult.objects.filter(
                session_id=undo["session_id"], action__in=["failed", "blocked"]
            ).values_list("content_type", "source_id", "message")
        )
        assert undo["failed"] == 0, bad
        with open_backup(wrecked.path) as reader:
            result = compare_backup(
                reader, client_for(emu), {}, same=True, selection=Selection(include_deleted=True)
            )
        assert result.diffs == [], "\n".join(result.diffs[:30])
        assert result.compared > 3000
