"""`manage.py backups`: register and verify lookervault backups, with clear errors."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from restore.models import Backup
from tests.conftest import PARALLEL_BACKUP, SEQUENTIAL_BACKUP

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("backups", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "path", [PARALLEL_BACKUP, SEQUENTIAL_BACKUP], ids=["parallel", "sequential"]
)
def test_add_verifies_and_counts_both_id_styles(path):
    if not path.exists():
        pytest.skip("shared fixtures missing")
    data = json.loads(run("add", str(path), "--json"))
    assert data["status"] == "verified"
    assert data["schema_version"] == 4
    assert data["total_items"] == 23
    assert data["item_counts"]["dashboard"] == 2
    assert data["item_counts"]["user"] == 3
    assert len(data["sha256"]) == 64


def test_add_is_idempotent_per_path(fixture_backup_path):
    run("add", str(fixture_backup_path))
    run("add", str(fixture_backup_path))
    assert Backup.objects.count() == 1


def test_corrupt_file_fails_with_clear_message(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CommandError, match="failed verification"):
        run("add", str(bad))
    backup = Backup.objects.get()
    assert backup.status == Backup.Status.FAILED
    assert backup.verification_error


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no backup file"):
        run("add", str(tmp_path / "nope.db"))


def test_list_json(fixture_backup_path):
    run("add", str(fixture_backup_path))
    assert [b["path"] for b in json.loads(run("list", "--json"))] == [str(fixture_backup_path)]
