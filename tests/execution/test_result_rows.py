"""Each item's result row is written without being read back when nothing came before it, and
says the same: a migration's rows in one or two statements each."""

from __future__ import annotations

import re
import threading

import pytest
from django.db.backends import utils
from exec_helpers import compare, make_backup, make_destination, new_session

from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.models import RestoreItemResult

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]

# A statement about one item's result row: its key in the WHERE clause.
ONE_ROW = re.compile(r'restore_restoreitemresult".*WHERE .*"source_id" = ', re.S)


class Statements:
    """Every SQL statement any thread sends while recording (observed, sent unchanged)."""

    def __init__(self, monkeypatch) -> None:
        self.seen: list[str] = []
        lock = threading.Lock()
        execute = utils.CursorWrapper.execute

        def observed(cursor, sql, params=None):
            with lock:
                self.seen.append(sql)
            return execute(cursor, sql, params)

        monkeypatch.setattr(utils.CursorWrapper, "execute", observed)

    def reading_a_row(self) -> list[str]:
        return [s for s in self.seen if s.lstrip().startswith("SELECT") and ONE_ROW.search(s)]


def test_a_migration_never_reads_an_items_row_back_and_records_the_same(tmp_path, monkeypatch):
    with running_emulator(items=120, seed=3) as src:
        backup = make_backup(src, tmp_path / "b.db")
    with running_emulator() as emu:
        dest = make_destination(emu)
        session = new_session(backup, dest, workers=8)
        statements = Statements(monkeypatch)
        summary = run_session(session.pk)
        monkeypatch.undo()
        assert summary["status"] == "completed" and summary["failed"] == 0, summary
        assert summary["created"] > 100
        # Only the second pass (a user's groups and roles) reads the rows its first pass wrote,
        # once each. Before: a SELECT of the row (under a lock) per item, one more per look and
        # dashboard ("attempted before?") and per deferred item: over 250 here.
        again = RestoreItemResult.objects.filter(session=session, diff__has_key="second_pass")
        assert 0 < len(statements.reading_a_row()) == again.count()
        rows = RestoreItemResult.objects.filter(session=session)
        assert not rows.filter(action="pending").exists()
        created = rows.filter(action="created")
        assert created.count() == summary["created"]
        assert not created.filter(destination_id="").exists()
        assert not created.exclude(pre_image=None).exists()  # created: nothing to put back
        assert all(r.diff and r.diff["changes"] for r in created)  # the POST, for a rollback
        assert compare(backup, emu, dest) == []

        # A second session into the same destination finds everything there, creates nothing.
        again = run_session(new_session(backup, dest, workers=8).pk)
        assert again["status"] == "completed" and again["created"] == 0, again
        assert again["unchanged"] + again["skipped"] == again["total"], again
