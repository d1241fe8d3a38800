"""A finished run's counts never change and add up: a DLQ retry is a run of its own beside it
(its fixes are said beside the original's counts, never added into them), and every total of a
run (status, per type, summary CSV) is created + updated + unchanged + skipped + failed."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from exec_helpers import make_backup, make_destination

from looker_emulator.testing import running_emulator
from restore.models import RestoreSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]

COUNTED = ("created", "updated", "unchanged", "skipped", "failed")


def restore(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.suppress(CommandError):  # the exit code follows the status
        call_command("restore", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def status(session_id: int) -> dict:
    out = io.StringIO()
    call_command("restore", "status", str(session_id), "--json", stdout=out)
    return json.loads(out.getvalue())


def adds_up(doc: dict) -> None:
    assert sum(doc[k] for k in COUNTED) == doc["total"], doc
    per_type = {k: sum(c[k] for c in doc["by_type"].values()) for k in COUNTED}
    assert per_type == {k: doc[k] for k in COUNTED}, doc


@pytest.mark.parametrize(
    "fault",
    [
        {"path": "*/looks*", "status": 403},  # after the dependencies were restored
        {"path": "*/looks/search*", "method": "GET", "status": 403},  # before: the retry does
    ],
    ids=["dependencies-first", "dependencies-by-the-retry"],
)
def test_a_retry_of_looks_with_dependencies_leaves_the_original_counts_as_they_were(
    tmp_path, fault, client, admin_user
):
    with running_emulator(items=120, seed=4) as source:
        backup = make_backup(source, tmp_path / "source.db")
    with running_emulator() as emu:
        make_destination(emu)
        emu.set_faults(rules=[{**fault, "count": None}])
        first = restore(
            "all", "--backup", str(backup.pk), "--destination", "emu", "--types", "look",
            "--with-dependencies", "--workers", "2", "--max-retries", "0",
        )  # fmt: skip
        session_id = first["session_id"]
        before = status(session_id)
        looks = before["by_type"]["look"]
        # Looks failed; the folders, users and model sets restored on the way for them are items
        # of the run too: the total counts them.
        assert looks["failed"] == before["failed"] > 0, before
        assert before["total"] > sum(looks[k] for k in COUNTED)
        adds_up(before)

        emu.set_faults(clear=True)
        report = restore("dlq", "retry", "--session", str(session_id))
        assert report["failed"] == 0 and report["resolved"] == before["failed"], report

        after = status(session_id)
        adds_up(after)
        assert {k: after[k] for k in ("total", *COUNTED)} == {
            k: before[k] for k in ("total", *COUNTED)
        }
        assert after["by_type"] == before["by_type"]
        assert after["since_retried"] == before["failed"]
        (retry_id,) = report["sessions"]
        retried = status(retry_id)
        adds_up(retried)
        assert retried["failed"] == 0
    assert RestoreSession.objects.get(pk=session_id).status == before["status"]

    # The original's page: its counts as they were, the fixes beside them, no "pending".
    client.force_login(admin_user)
    url = reverse("session_detail", args=[session_id])
    page = client.get(url).content.decode()
    n, total = before["failed"], before["total"]
    assert f"{n} of {total} items failed; {n} fixed since by retry {retry_id}" in page, page
    assert f"{before['created']} created" in page
    assert f"{sum(before[k] for k in COUNTED)} of {total} items done" in page
    assert ">pending<" not in page
    failed = client.get(url, {"action": "failed"}).content.decode()
    assert failed.count("fixed since by a retry") == min(n, 50)
