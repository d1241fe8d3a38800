"""Two sessions writing into one destination at once (the user confirmed the second alongside
the first) never both restore one item: the item held by the running session is left to it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from exec_helpers import GROUPS, make_destination
from test_retry_session import restore_cli

from looker_emulator.testing import running_emulator
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import ContentType
from restore.engine.identity.idmap import hold_item
from restore.engine.run.session import start_session
from restore.models import DeadLetterItem, RestoreSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


def test_a_session_alongside_another_leaves_it_the_items_it_holds(groups_backup):
    with running_emulator() as emu:
        destination = make_destination(emu)
        first = start_session(groups_backup, destination, RestoreConfig(workers=1))
        # The first session is running and restoring group 1 (as its runner holds each item
        # before looking it up and writing it).
        RestoreSession.objects.filter(pk=first.pk).update(status="running")
        assert hold_item(destination.pk, first.pk, (int(ContentType.GROUP), "1")) == (None, True)

        with pytest.raises(CommandError, match=f"session {first.pk} \\(running\\) is writing"):
            call_command(
                "restore", "all", "--backup", str(groups_backup.pk), "--destination", "emu",
                stdout=io.StringIO(),
            )  # fmt: skip
        second = restore_cli(groups_backup, "--alongside", str(first.pk))
        assert (second["created"], second["failed"]) == (GROUPS - 1, 1)
        (left,) = DeadLetterItem.objects.filter(session_id=second["session_id"])
        assert left.content_id == "1"
        assert f"by session {first.pk} now: left to it" in left.error_message
        assert emu.stats()["creates"] == {"group": GROUPS - 1}

        # Once the first has ended, the item is free: a retry restores it, once.
        RestoreSession.objects.filter(pk=first.pk).update(status="cancelled")
        call_command(
            "restore", "dlq", "retry", "--session", str(second["session_id"]), stdout=io.StringIO()
        )
        assert emu.stats()["creates"] == {"group": GROUPS}
