"""A reference cycle in a backup (two folders each the other's parent) never loops: both are created
under Shared, the second pass sets what Looker allows and reports what it refuses."""

from __future__ import annotations

import pytest
from conftest import client_for, make_destination, quick, run

from looker_emulator.backup import BackupWriter
from restore.engine.kinds.rollback import start_rollback
from restore.engine.run.session import start_session
from restore.models import Backup, RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)


def folder(fid: str, name: str, parent: str | None, **flags) -> dict:
    return {"id": fid, "name": name, "parent_id": parent, "is_personal": False, **flags}


def test_folder_cycle_is_broken_not_looped(empty_emu, tmp_path, recorder):
    path = tmp_path / "cycle.db"
    with BackupWriter(path, source="https://elsewhere.example.com") as out:
        out.add("folder", folder("1", "Shared", None, is_shared_root=True))
        out.add("folder", folder("50", "Alpha", "51"))
        out.add("folder", folder("51", "Beta", "50"))
        out.add("folder", folder("52", "Child of alpha", "50"))
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    dest = make_destination(empty_emu)
    summary = run(start_session(backup, dest, quick()), client_for(empty_emu, recorder))
    rows = {
        r.source_id: r for r in RestoreItemResult.objects.filter(session_id=summary["session_id"])
    }
    # Alpha is created under Shared (the cycle broken), Beta and the child under Alpha; the second
    # pass gives Alpha its parent Beta, which Looker refuses: that closes the loop. Reported.
    assert (rows["51"].action, rows["52"].action) == ("created", "created")
    assert rows["50"].action == "failed" and "moved into itself" in rows["50"].message
    folders = {f["name"]: f for f in client_for(empty_emu).get("/folders")}
    assert folders["Child of alpha"]["parent_id"] == folders["Alpha"]["id"]
    assert (
        folders["Alpha"]["parent_id"] == folders["Beta"]["id"]
        or folders["Beta"]["parent_id"] == folders["Alpha"]["id"]
    )

    # The undo still knows Alpha was created (its second pass failed): everything goes away.
    undo = run(
        start_rollback(RestoreSession.objects.get(pk=summary["session_id"])),
        client_for(empty_emu),
    )
    assert undo["failed"] == 0
    names = {f["name"] for f in client_for(empty_emu).get("/folders")}
    assert not names & {"Alpha", "Beta", "Child of alpha"}
