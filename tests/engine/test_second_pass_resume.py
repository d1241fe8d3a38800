"""A restore stopped during its second pass (a user's groups and roles, a home folder: references
to types restored after the item) leaves that pass to the resume: nothing deferred is lost."""

from __future__ import annotations

import threading
import time

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_destination, quick, run

from restore.engine.backup.reader import open_backup
from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_restore_cancelled_in_its_second_pass_is_finished_by_its_resume(
    source_emu, empty_emu, backup_factory
):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    session = start_session(backup, dest, quick(workers=1))
    # The second pass' first role assignment is held unanswered while the session is cancelled.
    empty_emu.set_faults(
        hang_s=15,
        rules=[{"method": "PUT", "path": "*/users/*/roles", "action": "hang", "count": 1}],
    )
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(run(session, client_for(empty_emu))))
    thread.start()
    deadline = time.monotonic() + 120
    while not empty_emu.stats()["faults"].get("rule_hang") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.results.exclude(diff__has_key="deferred").exists()
    assert session.cancel()
    thread.join(120)
    assert first["status"] == "cancelled", first

    empty_emu.set_faults(clear=True)
    resumed = run(session, client_for(empty_emu))
    assert resumed["status"] == "completed" and resumed["failed"] == 0, resumed
    with open_backup(backup.path) as reader:
        result = compare_backup(reader, client_for(empty_emu), mapping_of(dest), same=False)
    assert result.diffs == [], "\n".join(result.diffs[:30])
