"""Migration into an empty emulator: everything arrives, references follow, a re-run creates nothing."""

from __future__ import annotations

import pytest
from conftest import client_for, make_destination, quick, run

from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_cross_instance_migration_then_rerun_creates_nothing(
    source_emu, empty_emu, backup_factory, recorder
):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    session = start_session(backup, dest, quick())
    summary = run(session, client=client_for(empty_emu, recorder))
    print(summary)
    assert summary["failed"] == 0, list(
        session.results.exclude(
            action__in=["created", "updated", "unchanged", "skipped"]
        ).values_list("content_type", "source_id", "message")[:10]
    )
    creates_after_first = empty_emu.stats()["creates"]

    again = start_session(backup, dest, quick())
    summary2 = run(again, client=client_for(empty_emu, recorder))
    print(summary2)
    assert summary2["created"] == 0
    assert summary2["failed"] == 0
    assert empty_emu.stats()["creates"] == creates_after_first


def test_cross_instance_every_field_and_reference_follows(
    source_emu, empty_emu, backup_factory, recorder
):
    from compare import compare_backup, mapping_of

    from restore.engine.backup.reader import open_backup

    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    summary = run(start_session(backup, dest, quick()), client=client_for(empty_emu, recorder))
    assert summary["failed"] == 0
    with open_backup(backup.path) as reader:
        result = compare_backup(reader, client_for(empty_emu), mapping_of(dest), same=False)
    assert result.diffs == [], "\n".join(result.diffs[:30])
    print("compared", result.compared)
    assert result.compared > 1000
