"""lookervault 0.1.0's own backups (both ID styles) migrate into an empty emulator, and again idempotently."""

from __future__ import annotations

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_destination, quick, run
from helpers import lookervault_fixture

from restore.engine.backup.reader import open_backup
from restore.engine.run.session import start_session
from restore.models import Backup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("style", ["parallel", "sequential"])
def test_fixture_backup_migrates_and_reruns_clean(style, empty_emu, recorder):
    backup = Backup.register(lookervault_fixture(style))
    assert backup.verify(), backup.verification_error
    dest = make_destination(empty_emu)
    first = run(start_session(backup, dest, quick()), client_for(empty_emu, recorder))
    from restore.models import RestoreItemResult

    bad = list(
        RestoreItemResult.objects.filter(action__in=["failed", "blocked"]).values_list(
            "content_type", "source_id", "message"
        )
    )
    assert first["failed"] == 0, bad
    assert first["by_type"]["dashboard"]["created"] == 2
    assert first["by_type"]["explore"]["skipped"] == 1
    user1 = RestoreItemResult.objects.get(
        session_id=first["session_id"], content_type=7, source_id="1"
    )
    assert "membership not restored: group_ids refers to group 1" in user1.message
    with open_backup(backup.path) as reader:
        result = compare_backup(reader, client_for(empty_emu), mapping_of(dest), same=False)
    assert result.diffs == [], "\n".join(result.diffs[:20])
    creates = empty_emu.stats()["creates"]
    second = run(start_session(backup, dest, quick()), client_for(empty_emu, recorder))
    assert second["created"] == 0 and second["failed"] == 0, second
    assert empty_emu.stats()["creates"] == creates
