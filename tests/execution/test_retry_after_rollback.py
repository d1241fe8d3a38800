"""A rolled-back restore's dead-letter items are closed ("rolled back"), and no retry of them
writes anything: the CLI and the web refuse, saying why."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from exec_helpers import GROUPS, make_destination
from test_retry_session import failing_posts, restore_cli

from looker_emulator.testing import running_emulator
from restore.models import DeadLetterItem, RestoreSession
from restore.tasks import run_session_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


def writes(emu) -> int:
    return sum(
        r["count"]
        for r in emu.stats()["requests"]
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE") and "login" not in r["route"]
    )


def test_a_rolled_back_restores_items_are_closed_and_no_retry_writes(
    groups_backup, client, admin_user
):
    with running_emulator() as emu:
        make_destination(emu)
        failing_posts(emu, 2)
        original = RestoreSession.objects.get(pk=restore_cli(groups_backup)["session_id"])
        assert original.failed == 2
        dismissed = original.dlq_items.order_by("pk").first()
        dismissed.dismiss(admin_user, note="no need")  # a dismissed item is retryable, normally

        client.force_login(admin_user)
        client.post(reverse("session_rollback", args=[original.pk]), {"confirm": "yes"})
        rollback = RestoreSession.objects.get(kind="rollback")
        run_session_task(rollback.pk)
        rollback.refresh_from_db()
        assert rollback.status == "completed", rollback.error_message
        assert set(original.dlq_items.values_list("status", flat=True)) == {
            "rolled_back",
            "dismissed",
        }

        before = writes(emu)
        with pytest.raises(CommandError, match=f"session {original.pk} was rolled back"):
            call_command(
                "restore", "dlq", "retry", "--session", str(original.pk), stdout=io.StringIO()
            )
        with pytest.raises(CommandError, match="rolled back"):
            call_command("restore", "dlq", "retry", str(dismissed.pk), stdout=io.StringIO())
        page = client.post(
            reverse("dlq_retry_one", args=[dismissed.pk]), follow=True
        ).content.decode()
        assert f"Nothing was retried: session {original.pk} was rolled back" in page
        listing = client.get(reverse("dlq_list"), {"session": original.pk, "status": ""})
        assert ">rolled back<" in listing.content.decode()
        assert writes(emu) == before
    assert not RestoreSession.objects.filter(kind="retry").exists()
    assert DeadLetterItem.objects.filter(status="retrying").count() == 0
    assert GROUPS > 2
