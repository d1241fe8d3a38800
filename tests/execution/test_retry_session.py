"""A DLQ retry is a session of kind `retry` run by the production runner: the web's one-click and
group retries and the CLI create one, linked to the session whose items it retries; it resolves
them, the original shows "since retried"; cancelled and resumed it finishes only its own items;
a dry run's items are planned again, never written."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_q.models import OrmQ
from exec_helpers import GROUPS, make_destination

from looker_emulator.backup import BackupWriter
from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.engine.kinds import retry as dlq_retry
from restore.engine.kinds.restore import session_backup
from restore.models import AuditEvent, Backup, DeadLetterItem, Destination, RestoreSession
from restore.tasks import run_session_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


def restore_cli(backup: Backup, *extra: str) -> dict:
    out = io.StringIO()
    args = ["restore", "all", "--backup", str(backup.pk), "--destination", "emu", "--workers", "1"]
    # The exit code follows the status (CommandError when not completed); the summary says it all.
    with contextlib.suppress(CommandError):
        call_command(*args, "--rate-limit-per-second", "1000", "--json", *extra, stdout=out)
    return json.loads(out.getvalue())


def failing_posts(emu, count: int | None) -> None:
    emu.set_faults(
        add_rules=[{"method": "POST", "path": "*/groups", "status": 422, "count": count}]
    )


def wait_until(predicate, what: str, timeout: float = 120):
    """Poll a condition (the test waits on state, never on a fixed delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_web_retry_is_a_session_that_resolves_the_items_and_the_original_says_so(
    groups_backup, client, support_user
):
    with running_emulator() as emu:
        make_destination(emu)
        failing_posts(emu, 2)
        summary = restore_cli(groups_backup)
        original = RestoreSession.objects.get(pk=summary["session_id"])
        assert (original.status, original.failed) == ("completed_with_failures", 2)

        client.force_login(support_user)
        client.post(
            reverse("dlq_bulk"),
            {
                "action": "retry_filter",
                "session": str(original.pk),
                "status": "open",
                "retry_shown": "2",
            },
        )
        task = OrmQ.objects.get()  # what the qcluster picks up: the retry session, by ID
        assert task.func() == "restore.tasks.run_session_task"
        run_session_task(*task.args())
        assert emu.stats()["creates"] == {"group": GROUPS}  # each created once, in all

    retry_session = RestoreSession.objects.get(kind="retry")
    assert retry_session.retry_of == original and retry_session.status == "completed"
    assert (retry_session.total, retry_session.created, retry_session.failed) == (2, 2, 0)
    items = DeadLetterItem.objects.filter(session=original)
    assert {(i.status, i.retry_session_id) for i in items} == {("resolved", retry_session.pk)}
    assert AuditEvent.objects.get().action == "retry"

    original.refresh_from_db()
    assert (original.failed, original.created, original.summary["since_retried"]) == (2, 4, 2)
    page = client.get(reverse("session_detail", args=[original.pk])).content.decode()
    assert f"2 of {GROUPS} items failed; 2 fixed since by retry {retry_session.pk}" in page
    assert f'href="/sessions/{retry_session.pk}/">retry {retry_session.pk}</a>' in page
    page = client.get(reverse("session_detail", args=[retry_session.pk])).content.decode()
    assert f"<h1>Retry {retry_session.pk} " in page
    assert f'of <a href="/sessions/{original.pk}/">session {original.pk}</a>' in page
    history = client.get(reverse("history")).content.decode()
    assert "(2 since retried)" in history
    retried = (
        f'<span class="kind retry">Retry</span> {retry_session.pk}</a><span class="sub">failed'
    )
    assert retried in history
    row = client.get(reverse("dlq_row", args=[items[0].pk])).content.decode()
    assert f">retry {retry_session.pk}</a>" in row
    # A fixed item reads as fixed, by the retry (not signed with the name of who started it).
    item = items.first()
    detail = client.get(reverse("dlq_item", args=[item.pk])).content.decode()
    assert "not retried" not in detail and "; fixed since" in detail
    assert (
        f'succeeded in <a href="/sessions/{retry_session.pk}/">retry {retry_session.pk}</a>'
        in detail
    )
    assert (
        f"created as #{item.session.results.get(source_id=item.content_id).destination_id} by retry {retry_session.pk}"
        in detail
    )
    assert f"by {support_user.username}" not in detail
    page = client.get(reverse("session_detail", args=[retry_session.pk])).content.decode()
    assert "created created" not in page and "unchanged unchanged" not in page


def test_a_cancelled_retry_resumes_with_its_own_items_only_and_creates_nothing_twice(
    groups_backup,
):
    with running_emulator() as emu:
        make_destination(emu)
        failing_posts(emu, None)
        summary = restore_cli(groups_backup)
        assert summary["failed"] == GROUPS
        emu.set_faults(clear=True)
        # The retry's second POST is held unanswered (then dropped): the retry is cancelled
        # while it waits, so it stops mid-way whatever the machine's load.
        emu.set_faults(
            hang_s=15,
            rules=[
                {"method": "POST", "path": "*/groups", "action": "delay", "count": 1},
                {"method": "POST", "path": "*/groups", "action": "hang", "count": 1},
            ],
        )
        out = io.StringIO()
        call_command(
            "restore", "dlq", "retry", "--session", str(summary["session_id"]), "--enqueue",
            "--json", stdout=out,
        )  # fmt: skip
        (retry_id,) = json.loads(out.getvalue())["sessions"]
        thread = threading.Thread(target=run_session, args=(retry_id,))
        thread.start()
        wait_until(lambda: emu.stats()["faults"].get("rule_hang"), "the held POST")
        RestoreSession.objects.get(pk=retry_id).cancel()
        thread.join(120)
        cancelled = RestoreSession.objects.get(pk=retry_id)
        assert cancelled.status == "cancelled", cancelled.error_message
        assert cancelled.created == 1 and cancelled.total == GROUPS
        # What it did not run is back in the queue meanwhile, still naming the retry.
        released = DeadLetterItem.objects.filter(retry_session_id=retry_id, status="open")
        assert released.count() == GROUPS - 1
        assert not DeadLetterItem.objects.filter(status="retrying").exists()

        # Support retries one of them afresh meanwhile: a new retry session takes it.
        taken = released.order_by("pk").first()
        (fresh,) = dlq_retry.start_retries([taken.pk])

        # Resume: the same retry session goes on with the items it claimed and nobody took since,
        # once the user confirms running it beside the fresh retry writing into the destination.
        out = io.StringIO()
        with pytest.raises(CommandError, match=f"retry session {fresh.pk} .pending. is writing"):
            call_command("restore", "resume", str(retry_id), "--json", stdout=out)
        assert RestoreSession.objects.get(pk=retry_id).status == "cancelled"
        alongside = ["--alongside", str(fresh.pk)]
        call_command("restore", "resume", str(retry_id), "--json", *alongside, stdout=out)
        resumed = RestoreSession.objects.get(pk=retry_id)
        assert (resumed.status, resumed.created, resumed.failed) == ("completed", GROUPS - 1, 0)
        taken.refresh_from_db()
        assert (taken.status, taken.retry_session_id) == ("retrying", fresh.pk)
        run_session(fresh.pk)
        assert emu.stats()["creates"] == {"group": GROUPS}
    assert RestoreSession.objects.get(pk=fresh.pk).created == 1
    assert RestoreSession.objects.count() == 3  # the restore and two retries: no new restore
    assert set(DeadLetterItem.objects.values_list("status", flat=True)) == {"resolved"}


def test_a_retry_of_a_plans_items_plans_again_and_writes_nothing(
    groups_backup, client, auditor_user
):
    with running_emulator() as emu:
        make_destination(emu)
        emu.set_faults(
            add_rules=[{"method": "GET", "path": "*/groups*", "status": 422, "count": None}]
        )
        plan = restore_cli(groups_backup, "--dry-run")
        assert plan["failed"] == GROUPS
        emu.set_faults(clear=True)
        emu.reset()
        out = io.StringIO()
        call_command("restore", "dlq", "retry", "--session", str(plan["session_id"]), stdout=out)
        stats = emu.stats()
    writes = [r for r in stats["requests"] if r["method"] != "GET" and "login" not in r["route"]]
    assert writes == [] and stats["creates"] == {}
    retry_session = RestoreSession.objects.get(kind="retry")
    assert retry_session.dry_run and retry_session.status == "completed"
    items = DeadLetterItem.objects.filter(session_id=plan["session_id"])
    assert {i.status for i in items} == {"dismissed"}  # planned again, never "resolved"
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[retry_session.pk])).content.decode()
    assert f"<h1>Re-plan {retry_session.pk}" in page and "Nothing was written." in page


def test_a_retry_queued_before_retries_were_sessions_still_runs_as_one(groups_backup):
    from restore.tasks import run_dlq_retry_task

    with running_emulator() as emu:
        make_destination(emu)
        failing_posts(emu, 2)
        summary = restore_cli(groups_backup)
        # What the previous version left: items marked retrying, a task naming them.
        ids = list(DeadLetterItem.objects.values_list("pk", flat=True))
        DeadLetterItem.objects.update(status="retrying")
        doc = run_dlq_retry_task(ids, None)
    assert (doc["resolved"], doc["failed"]) == (2, 0)
    retry_session = RestoreSession.objects.get(kind="retry")
    assert retry_session.retry_of_id == summary["session_id"] and doc["sessions"] == [
        retry_session.pk
    ]
    assert set(DeadLetterItem.objects.values_list("status", flat=True)) == {"resolved"}


def test_a_retry_reads_no_dependency_from_a_backup_file_changed_since_it_was_verified(
    groups_backup, tmp_path
):
    """A dead letter carries its own content; the backup is read only for dependencies, and only
    while it is still the file that was verified."""
    destination = Destination(name="elsewhere", base_url="https://elsewhere.example.com")
    destination.save()
    session = RestoreSession.objects.create(backup=groups_backup, destination=destination)
    with session_backup(session) as reader:
        assert reader is not None
    with BackupWriter(tmp_path / "other.db", source="") as out:
        out.add("group", {"id": "1", "name": "group 1, replaced"})
    (tmp_path / "other.db").replace(groups_backup.path)
    guard = session_backup(session)
    with guard as reader:
        assert reader is None
    assert "changed since it was verified" in guard.refusal
