"""Undo a restore: a session of kind rollback, run by the production runner with its lease,
heartbeat, cancel and resume. After wreck → restore → rollback the instance equals its wrecked
state (a second backup taken right before the restore), field by field, trashed items included."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_backup, make_destination, quick, run
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from looker_emulator.wreck import wreck
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import RestoreError
from restore.engine.kinds import UnknownSessionKind
from restore.engine.kinds.rollback import start_rollback
from restore.engine.limits import retries as retry
from restore.engine.run.runner import SessionBusy
from restore.engine.run.session import start_session
from restore.models import Backup, IDMapping, RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_retries():
    retry.set_testing(True, max_wait=0.05)
    yield
    retry.set_testing(False)


@pytest.fixture(scope="module")
def wrecked_world(tmp_path_factory) -> tuple[Path, Path, dict]:
    """Made once for the module (the same for every test): the backup taken before the wreck,
    the one taken after it, and the wrecked instance's state."""
    folder = tmp_path_factory.mktemp("wrecked-world")
    with running_emulator(items=300, seed=13) as emu:
        extract(emu.url, folder / "before.db", client_id=emu.client_id,
                client_secret=emu.client_secret, shape="raw")  # fmt: skip
        wreck(
            emu.url, seed=3, fraction=0.15, client_id=emu.client_id, client_secret=emu.client_secret
        )
        extract(emu.url, folder / "wrecked.db", client_id=emu.client_id,
                client_secret=emu.client_secret, shape="raw")  # fmt: skip
        return folder / "before.db", folder / "wrecked.db", emu.export()


def registered(source: Path, tmp_path: Path) -> Backup:
    """A test's own copy of a module-wide backup file, registered and verified."""
    path = tmp_path / source.name
    shutil.copyfile(source, path)
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    return backup


@pytest.fixture
def restored(tmp_path, wrecked_world):
    """An emulator wrecked then restored: (emu, destination, restore session, wrecked backup)."""
    before, after, state = wrecked_world
    with running_emulator(state) as emu:
        backup = registered(before, tmp_path)
        dest = make_destination(emu)
        wrecked = registered(after, tmp_path)
        session = start_session(backup, dest, quick())
        summary = run(session, client_for(emu))
        assert summary["failed"] == 0 and summary["updated"] > 20 and summary["created"] > 5, (
            summary
        )
        session.refresh_from_db()
        yield emu, dest, session, wrecked


def differences(emu, wrecked) -> list[str]:
    with open_backup(wrecked.path) as reader:
        result = compare_backup(
            reader, client_for(emu), {}, same=True, selection=Selection(include_deleted=True)
        )
    assert result.compared > 3000
    return result.diffs


def failures(session_id: int) -> list:
    return list(
        RestoreItemResult.objects.filter(
            session_id=session_id, action__in=["failed", "blocked"]
        ).values_list("content_type", "source_id", "message")
    )


def writes(emu) -> int:
    """Successful writes the emulator answered since its stats were last reset."""
    return sum(
        r["count"]
        for r in emu.stats()["requests"]
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
        and int(r["status"]) < 300
        and not r["route"].endswith("/login")
    )


def test_rollback_returns_the_instance_to_its_state_before_the_restore(restored, recorder):
    emu, _dest, session, wrecked = restored
    undo = run(start_rollback(session), client_for(emu, recorder))
    assert undo["status"] == "completed" and undo["failed"] == 0, failures(undo["session_id"])
    assert differences(emu, wrecked) == []

    # A second rollback changes nothing: what it deletes is gone, what it puts back is in place.
    emu.reset()
    again = run(start_rollback(session), client_for(emu))
    assert again["status"] == "completed", again
    assert (again["created"], again["updated"], again["failed"]) == (0, 0, 0), again
    assert writes(emu) == 0
    assert differences(emu, wrecked) == []


def test_preview_rollback_page_plans_it_then_rolls_back_for_real(restored, client, admin_user):
    """From the restore's page: "Preview rollback" plans it (nothing written) and shows what would
    be deleted and put back; the real rollback is started from the preview's page."""
    emu, _dest, session, wrecked = restored
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "Preview rollback" in page and "Roll back this restore" in page

    response = client.post(reverse("session_rollback_preview", args=[session.pk]))
    preview = RestoreSession.objects.get(kind=RestoreSession.Kind.ROLLBACK)
    assert preview.dry_run and preview.rollback_of == session
    assert response["Location"] == reverse("session_detail", args=[preview.pk])
    emu.reset()
    planned = run(preview, client_for(emu))
    assert planned["status"] == "completed" and planned["failed"] == 0, planned
    assert writes(emu) == 0

    page = client.get(response["Location"]).content.decode()
    deletes = session.results.filter(action="created").count()
    restored_updated = session.results.filter(action="updated").count()
    assert "Rollback preview" in page
    step = preview.results.filter(message__startswith="would be deleted").first()
    detail = client.get(reverse("result_detail", args=[preview.pk, step.pk])).content.decode()
    # The step in Looker's words ("removed dashboard 'x'"), not as the API request.
    assert "removed" in detail and f"would be deleted: created by session {session.pk}" in detail
    assert reverse("session_rollback", args=[session.pk]) in page

    # The sentence, the counts beside it and the summary table say the same numbers.
    preview.refresh_from_db()
    put_back, already = preview.updated, preview.unchanged  # some are already as they were
    assert preview.created == deletes and put_back + already == restored_updated
    assert f"{deletes} to delete · {put_back} to put back · {already} unchanged" in page
    assert (
        f"would delete {deletes} objects it created and put back {put_back} objects it updated; "
        f"{already} objects are already as before it; nothing was written"
    ) in page
    deleted_steps = preview.results.filter(message__startswith="would be deleted")
    assert set(deleted_steps.values_list("action", flat=True)) == {"created"}

    response = client.post(reverse("session_rollback", args=[session.pk]), {"confirm": "yes"})
    real = RestoreSession.objects.get(kind=RestoreSession.Kind.ROLLBACK, dry_run=False)
    emu.reset()
    undone = run(real, client_for(emu))
    assert undone["status"] == "completed" and undone["failed"] == 0, failures(real.pk)
    assert differences(emu, wrecked) == []
    # "N deleted · M put back" is what the emulator saw: N objects deleted, M written back.
    page = client.get(reverse("session_detail", args=[real.pk])).content.decode()
    gone = [
        r
        for r in session.results.filter(action="created")
        if client_for(emu).get_or_none(object_path(r)) is None
    ]
    assert len(gone) == deletes == deleted_objects(emu)
    real.refresh_from_db()
    assert real.created == deletes
    counts = f"{deletes} deleted · {real.updated} put back · {real.unchanged} unchanged"
    assert counts in page
    assert f"deleted {deletes} objects it created and put back {real.updated} objects" in page
    history = client.get(reverse("history")).content.decode()
    assert f"rolled back by {real.pk}" in history


def object_path(row: RestoreItemResult) -> str:
    from restore.engine.item.restorers import RESTORERS

    return RESTORERS[ContentType(row.content_type)].object_path(row.destination_id)


def deleted_objects(emu) -> int:
    """Objects the emulator deleted since its stats were reset: DELETE /<objects>/{id}, not the
    tiles, filters or group members a put-back removes."""
    deletes = [
        r
        for r in emu.stats()["requests"]
        if r["method"] == "DELETE"
        and r["route"].count("{") == 1
        and r["route"].split("/")[3] not in CHILDREN
    ]
    assert all(str(r["status"]).startswith("2") for r in deletes), deletes
    return sum(r["count"] for r in deletes)


CHILDREN = ("dashboard_elements", "dashboard_filters", "dashboard_layouts", "board_sections")
CHILDREN += ("board_items", "dashboard_layout_components")


def rollback_cli(session_id: int, *extra: str) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("restore", "rollback", str(session_id), "--json", *extra, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue())


def written_row(session, ct: ContentType, action: str, field: str) -> RestoreItemResult:
    """A result row of the restore whose own object it wrote `field` of (POST body or PATCH)."""
    for row in session.results.filter(content_type=int(ct), action=action).order_by("pk"):
        for change in (row.diff or {}).get("changes") or []:
            if change["path"].count("/") == (1 if action == "created" else 2) and field in (
                change.get("fields") or change.get("body") or {}
            ):
                return row
    raise AssertionError(f"no {action} {ct.slug} with {field} written")


def test_a_rollback_is_refused_when_the_destination_changed_since_the_restore(
    restored, client, admin_user
):
    """Someone edits a dashboard the restore updated and a look it created: the rollback is
    refused before any write, naming both; a preview lists them; confirmed, it rolls back."""
    emu, _dest, session, wrecked = restored
    dashboard = written_row(session, ContentType.DASHBOARD, "updated", "title")
    look = written_row(session, ContentType.LOOK, "created", "title")
    looker = client_for(emu)
    looker.patch(f"/dashboards/{dashboard.destination_id}", {"title": "Edited after the restore"})
    looker.patch(f"/looks/{look.destination_id}", {"title": "Renamed after the restore"})
    emu.reset()

    code, refused = rollback_cli(session.pk)
    assert (code, refused["status"]) == (1, "failed"), refused
    assert refused["changed_since_restore_count"] == 2, refused
    assert set(refused["changed_since_restore"]) == {
        f"dashboard {dashboard.destination_id} '{dashboard.name}': title changed since the restore",
        f"look {look.destination_id} '{look.name}': title changed since the restore",
    }
    assert "refused: 2 objects changed" in refused["error"]
    assert "--confirm-changed" in refused["error"]
    assert (
        writes(emu) == 0
        and not RestoreItemResult.objects.filter(session_id=refused["session_id"]).exists()
    )

    # Resuming the refused rollback checks again: still refused, still nothing written.
    with pytest.raises(CommandError) as resumed:
        call_command("restore", "resume", str(refused["session_id"]), stdout=io.StringIO())
    assert resumed.value.returncode == 1
    again = RestoreSession.objects.get(pk=refused["session_id"])
    assert again.status == "failed" and again.error_message.startswith("refused: 2 objects")
    assert writes(emu) == 0

    # The preview lists them too, and the page offers the confirmation.
    code, preview = rollback_cli(session.pk, "--dry-run")
    assert (code, preview["status"], preview["changed_since_restore_count"]) == (0, "completed", 2)
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[preview["session_id"]])).content.decode()
    assert "2 objects changed in emu since session" in page
    assert "title changed since the restore" in page and 'name="confirm_changed"' in page
    assert writes(emu) == 0

    # From the page, confirmed: the rollback overwrites the edits and finishes.
    client.post(
        reverse("session_rollback", args=[session.pk]), {"confirm": "yes", "confirm_changed": "yes"}
    )
    confirmed = RestoreSession.objects.filter(kind="rollback", dry_run=False).latest("pk")
    assert confirmed.options.confirm_changed
    undone = run(confirmed, client_for(emu))
    assert undone["status"] == "completed" and undone["failed"] == 0, failures(confirmed.pk)
    assert undone["changed_since_restore_count"] == 2
    assert differences(emu, wrecked) == []


def test_a_rollback_whose_login_failed_resumes_as_the_rollback(restored):
    """The login answers 503 until the retries give up: the rollback fails (not "running"), and
    resuming it finishes the rollback; nothing of the backup is restored again."""
    emu, _dest, session, wrecked = restored
    emu.set_faults(add_rules=[{"method": "POST", "path": "*/login", "status": 503, "count": 1000}])
    rollback = start_rollback(session)
    failed = run(rollback, client_for(emu))
    assert failed["status"] == "failed" and "503" in (failed["error"] or ""), failed
    assert not RestoreItemResult.objects.filter(session=rollback).exists()

    emu.set_faults(clear=True)
    emu.reset()
    resumed = run(rollback, client_for(emu))
    assert resumed["status"] == "completed" and resumed["failed"] == 0, resumed
    assert emu.stats()["creates"] == {}
    assert differences(emu, wrecked) == []
    rollback.refresh_from_db()
    assert rollback.kind == RestoreSession.Kind.ROLLBACK


def test_a_live_rollback_is_not_taken_over_and_cancel_stops_it(restored):
    emu, _dest, session, wrecked = restored
    slow = {"action": "delay", "delay_ms": 150, "count": 100_000}
    emu.set_faults(
        add_rules=[
            {"method": "DELETE", "path": "*", **slow},
            {"method": "PATCH", "path": "*", **slow},
        ]
    )
    rollback = start_rollback(session)
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(first=run(rollback, client_for(emu))), daemon=True
    )
    thread.start()
    wait_until(lambda: rollback.results.count() >= 3, "the rollback to get going")

    with pytest.raises(SessionBusy):
        run(rollback, client_for(emu))
    with pytest.raises(CommandError, match="is running"):
        call_command("restore", "resume", str(rollback.pk))
    with pytest.raises(RestoreError, match="resume or cancel it"):
        start_rollback(session)

    assert rollback.cancel()
    thread.join(120)
    assert not thread.is_alive()
    assert outcome["first"]["status"] == "cancelled", outcome
    rollback.refresh_from_db()
    assert rollback.results.count() < rollback.total

    emu.set_faults(clear=True)
    resumed = run(rollback, client_for(emu))
    assert resumed["status"] == "completed" and resumed["failed"] == 0, resumed
    assert differences(emu, wrecked) == []


def test_restore_rollback_restore_across_instances(source_emu, empty_emu, tmp_path):
    """The rollback removes the ID mappings of what it deletes: the next restore creates the
    objects again instead of referring to IDs that no longer exist."""
    backup = make_backup(source_emu, tmp_path / "source.db")
    dest = make_destination(empty_emu)
    first = run(start_session(backup, dest, quick()), client_for(empty_emu))
    assert first["failed"] == 0 and first["created"] > 50, first
    original = RestoreSession.objects.get(pk=first["session_id"])
    created = set(
        original.results.filter(action="created").values_list("content_type", "destination_id")
    )

    undo = run(start_rollback(original), client_for(empty_emu))
    assert undo["failed"] == 0, failures(undo["session_id"])
    left = set(
        IDMapping.objects.filter(destination_instance=dest).values_list(
            "content_type", "destination_id"
        )
    )
    assert not created & left

    again = run(start_session(backup, dest, quick()), client_for(empty_emu))
    assert again["status"] == "completed" and again["failed"] == 0, failures(again["session_id"])
    with open_backup(backup.path) as reader:
        assert (
            compare_backup(reader, client_for(empty_emu), mapping_of(dest), same=False).diffs == []
        )


def test_a_session_of_unknown_kind_is_refused_not_run_as_a_restore(source_emu, empty_emu, tmp_path):
    backup = make_backup(source_emu, tmp_path / "source.db")
    dest = make_destination(empty_emu)
    session = start_session(backup, dest, quick())
    RestoreSession.objects.filter(pk=session.pk).update(kind="reindex")
    empty_emu.reset()
    with pytest.raises(UnknownSessionKind, match="unknown kind 'reindex'"):
        run(session, client_for(empty_emu))
    session.refresh_from_db()
    assert session.status == RestoreSession.Status.PENDING
    assert empty_emu.stats()["total"] == 0


def wait_until(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
