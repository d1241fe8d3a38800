"""A rollback preview counts what the rollback then does: an object the restore created and
someone deleted since is "already gone", not "to delete"; one changed back by hand to how it was
is "unchanged", not "to put back"; a row older code recorded "updated" for an object it created
(its POST among the changes) is deleted, not put back. Through the page, the CLI and the
emulator over HTTP."""

from __future__ import annotations

import io
import json

import pytest
from conftest import client_for, make_backup, make_destination, quick, run
from django.core.management import call_command
from django.urls import reverse

from looker_emulator.testing import running_emulator
from looker_emulator.wreck import wreck
from restore.engine.core.content_types import ContentType
from restore.engine.core.documents import read_diff
from restore.engine.item.restorers import RESTORERS
from restore.engine.run.session import start_session
from restore.models import RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)

COUNTS = ("created", "updated", "unchanged", "skipped", "failed")


def object_path(row: RestoreItemResult) -> str:
    return RESTORERS[ContentType(row.content_type)].object_path(row.destination_id)


def changed_back_by_hand(looker, session: RestoreSession) -> RestoreItemResult:
    """A dashboard or look the restore updated with one PATCH of its own fields, those fields set
    back by hand to what they were: the rollback has nothing left to put back there."""
    for row in session.results.filter(action="updated", content_type__in=[1, 2]).order_by("pk"):
        changes = read_diff(row.diff).changes
        if len(changes) == 1 and changes[0].method == "PATCH" and changes[0].fields:
            looker.patch(changes[0].path, {k: b for k, (b, _a) in changes[0].fields.items()})
            return row
    raise AssertionError("no dashboard or look updated by one PATCH of its own fields")


def counts(summary: dict) -> tuple[int, ...]:
    return tuple(summary[k] for k in COUNTS)


def test_the_preview_counts_what_the_rollback_then_does(tmp_path, client, admin_user):
    with running_emulator(items=80, seed=5) as emu:
        backup = make_backup(emu, tmp_path / "before.db")
        wreck(emu.url, seed=3, fraction=0.2, client_id=emu.client_id,
              client_secret=emu.client_secret)  # fmt: skip
        session = start_session(backup, make_destination(emu), quick())
        restored = run(session, client_for(emu))
        assert restored["failed"] == 0 and restored["created"] >= 3, restored
        looker = client_for(emu)
        by_hand = changed_back_by_hand(looker, session)
        created = list(session.results.filter(action="created").order_by("pk"))
        looker.delete(object_path(created[0]))  # created by the restore, deleted since by hand
        # Older code recorded an object the session created as "updated" (its POST kept).
        older = created[1]
        RestoreItemResult.objects.filter(pk=older.pk).update(action="updated")

        client.force_login(admin_user)
        client.post(reverse("session_rollback_preview", args=[session.pk]))
        preview = RestoreSession.objects.get(kind="rollback", dry_run=True)
        previewed = run(preview, client_for(emu))
        assert previewed["status"] == "completed", previewed
        page = client.get(reverse("session_detail", args=[preview.pk])).content.decode()

        out = io.StringIO()
        call_command("restore", "rollback", str(session.pk), "--json", stdout=out)
        done = json.loads(out.getvalue())
        assert done["status"] == "completed" and done["failed"] == 0, done

    assert counts(previewed) == counts(done), (previewed, done)
    deleted, put_back, already = done["created"], done["updated"], done["unchanged"]
    assert deleted == len(created) - 1 and already >= 2
    assert f"{deleted} to delete · {put_back} to put back · {already} unchanged" in page
    assert (
        f"would delete {deleted} objects it created and put back {put_back} objects it updated; "
        f"{already} objects are already as before it"
    ) in page
    steps = {(r.source_id, r.action, r.message) for r in preview.results.all()}
    assert (created[0].source_id, "unchanged", "already gone") in steps
    assert any(s[:2] == (by_hand.source_id, "unchanged") for s in steps), steps
    assert any(s[:2] == (older.source_id, "created") for s in steps), steps


def test_the_cli_preview_speaks_of_deleting_and_putting_back(tmp_path):
    with running_emulator(items=40, seed=5) as emu:
        backup = make_backup(emu, tmp_path / "before.db")
        wreck(emu.url, seed=3, fraction=0.2, client_id=emu.client_id,
              client_secret=emu.client_secret)  # fmt: skip
        session = start_session(backup, make_destination(emu), quick())
        restored = run(session, client_for(emu))
        out = io.StringIO()
        call_command("restore", "rollback", str(session.pk), "--dry-run", stdout=out)
    said = out.getvalue()
    assert f"(dry run): {restored['created']} to delete, " in said, said
    assert " to put back, " in said and " created," not in said, said
