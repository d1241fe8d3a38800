"""Honest outcomes: a session in which every item failed ends `failed`, one in which some failed
ends `completed_with_failures`, and the CLI's `--json`, its exit code, the session page, history
and home all say so. A DLQ retry that succeeds later is shown beside the failure, not instead."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from exec_helpers import GROUPS, make_destination

from looker_emulator.testing import running_emulator
from restore.models import Backup, DeadLetterItem, RestoreSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


def restore_cli(backup: Backup, *extra: str) -> tuple[int, dict]:
    out = io.StringIO()
    args = ["restore", "all", "--backup", str(backup.pk), "--destination", "emu"]
    try:
        call_command(*args, "--rate-limit-per-second", "1000", "--json", *extra, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue())


def pages(client, session_id: int) -> dict[str, str]:
    return {
        "session": client.get(reverse("session_detail", args=[session_id])).content.decode(),
        "history": client.get(reverse("history")).content.decode(),
        "home": client.get(reverse("home")).content.decode(),
    }


def test_every_item_failed_is_a_failed_session(groups_backup, client, auditor_user):
    with running_emulator() as emu:
        make_destination(emu)
        emu.set_faults(
            add_rules=[{"method": "POST", "path": "*/groups", "status": 422, "count": 1000}]
        )
        code, summary = restore_cli(groups_backup)
    assert (summary["status"], summary["failed"], code) == ("failed", GROUPS, 1), summary
    assert summary["error"] == f"every item failed ({GROUPS} of {GROUPS})"
    client.force_login(auditor_user)
    for name, page in pages(client, summary["session_id"]).items():
        assert 'class="status failed"' in page, name
        assert 'class="status completed' not in page, name


def test_some_items_failed_is_completed_with_failures_then_retried(
    groups_backup, client, auditor_user
):
    with running_emulator() as emu:
        make_destination(emu)
        emu.set_faults(
            add_rules=[{"method": "POST", "path": "*/groups", "status": 422, "count": 2}]
        )
        code, summary = restore_cli(groups_backup, "--workers", "1")
        assert summary["status"] == "completed_with_failures", summary
        assert (summary["failed"], summary["created"], code) == (2, GROUPS - 2, 3), summary
        session = RestoreSession.objects.get(pk=summary["session_id"])
        client.force_login(auditor_user)
        for name, page in pages(client, session.pk).items():
            assert 'class="status completed_with_failures">completed with failures<' in page, name

        # The retry fixes both; the session still says what happened, and what happened since.
        out = io.StringIO()
        call_command("restore", "dlq", "retry", "--session", str(session.pk), "--json", stdout=out)
        assert json.loads(out.getvalue())["resolved"] == 2
    status = io.StringIO()
    call_command("restore", "status", str(session.pk), "--json", stdout=status)
    doc = json.loads(status.getvalue())
    assert (doc["status"], doc["failed"], doc["since_retried"]) == ("completed_with_failures", 2, 2)
    assert doc["created"] == GROUPS - 2
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    (retry,) = session.retries.all()
    assert f"2 of {GROUPS} items failed; 2 fixed since by retry {retry.pk}" in page
    history = client.get(reverse("history")).content.decode()
    assert "(2 since retried)" in history


def test_a_dry_run_item_retried_from_the_dlq_is_planned_again_not_resolved(groups_backup):
    with running_emulator() as emu:
        make_destination(emu)
        emu.set_faults(
            add_rules=[{"method": "GET", "path": "*/groups*", "status": 422, "count": 1000}]
        )
        code, plan = restore_cli(groups_backup, "--dry-run")
        assert (plan["status"], plan["failed"], code) == ("failed", GROUPS, 1), plan
        emu.set_faults(clear=True)
        emu.reset()
        out = io.StringIO()
        call_command("restore", "dlq", "retry", "--session", str(plan["session_id"]), stdout=out)
        assert emu.stats()["creates"] == {}
        assert all(
            r["method"] == "GET" or r["route"].endswith("/login") for r in emu.stats()["requests"]
        )
    items = DeadLetterItem.objects.filter(session_id=plan["session_id"])
    assert {i.status for i in items} == {DeadLetterItem.Status.DISMISSED}
    assert all("would be created" in i.resolution_note for i in items)
    session = RestoreSession.objects.get(pk=plan["session_id"])
    assert set(session.results.values_list("action", flat=True)) == {"created"}
    assert (session.failed, session.summary["since_retried"]) == (GROUPS, GROUPS)


def test_a_restore_with_a_wrong_secret_says_so_in_words(groups_backup):
    with running_emulator() as emu:
        dest = make_destination(emu)
        dest.set_client_secret("not-the-secret")
        dest.save()
        code, summary = restore_cli(groups_backup)
    assert (summary["status"], code) == ("failed", 1), summary
    assert summary["error"].startswith("login refused: wrong client ID or secret for "), summary
    session = RestoreSession.objects.get(pk=summary["session_id"])
    assert "Not found" not in session.error_message
