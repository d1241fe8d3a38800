"""Every restore refuses a backup that is not verified, or whose file is no longer the one verified
(its SHA-256 changed), and says why; verifying it again is one command."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from exec_helpers import make_destination

from looker_emulator.backup import BackupWriter
from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.engine.core.config import RestoreConfig
from restore.engine.run.session import start_session
from restore.models import Backup

pytestmark = pytest.mark.django_db(transaction=True)


def write_groups(path: Path, n: int) -> None:
    path.unlink(missing_ok=True)
    with BackupWriter(path, source="https://elsewhere.example.com") as out:
        for i in range(1, n + 1):
            out.add("group", {"id": str(i), "name": f"group {i}"})


def restore_all(backup: Backup) -> dict:
    out = io.StringIO()
    call_command(
        "restore", "all", "--backup", str(backup.pk), "--destination", "emu", "--json",
        "--rate-limit-per-second", "1000", stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def test_a_backup_that_failed_verification_is_refused(tmp_path):
    path = tmp_path / "b.db"
    write_groups(path, 3)
    backup = Backup.register(path)
    Backup.objects.filter(pk=backup.pk).update(
        status=Backup.Status.FAILED, verification_error="blob 7 is not valid JSON"
    )
    with running_emulator() as emu:
        make_destination(emu)
        with pytest.raises(CommandError, match="is not verified .failed: blob 7 is not valid JSON"):
            restore_all(backup)
        assert emu.stats()["total"] == 0


def test_a_backup_replaced_on_disk_is_refused_until_verified_again(tmp_path):
    path = tmp_path / "b.db"
    write_groups(path, 3)
    backup = Backup.register(path)
    assert backup.verify()
    with running_emulator() as emu:
        dest = make_destination(emu)
        queued = start_session(backup, dest, RestoreConfig(rate_limit_per_second=None))
        write_groups(path, 4)  # another file under the same name

        with pytest.raises(CommandError, match="file changed since it was verified"):
            restore_all(backup)
        # A session created before the change (queued, or resumed later) is refused by the runner.
        refused = run_session(queued.pk)
        assert refused["status"] == "failed" and "changed since it was verified" in refused["error"]
        assert emu.stats()["creates"] == {}

        call_command("backups", "verify", str(backup.pk), stdout=io.StringIO())
        done = restore_all(backup)
        assert (done["status"], done["created"]) == ("completed", 4), done
