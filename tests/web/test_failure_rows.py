"""A session's failed rows speak as its dead letters do: what Looker's answer means and what to
do ("422: Looker refused this data: …"), Looker's raw answer folded behind a <details> for the
engineers, never as the row's sentence. Through a real run against the emulator and the real
session and item pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from helpers import make_backup, make_destination

from looker_emulator.testing import running_emulator
from restore.engine import ContentType, RestoreConfig, run_session
from restore.engine import start_session as new_session
from restore.models import RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)


def outside_details(page: str) -> str:
    """The page without what is folded: what a person reads without opening anything."""
    return re.sub(r"<details.*?</details>", "", page, flags=re.S)


def test_failed_rows_say_what_failed_and_fold_lookers_answer(client, admin_user, tmp_path):
    with running_emulator(items=20, seed=1) as emu:
        backup = make_backup(emu, tmp_path / "backup.db")
        destination = make_destination(emu)
        # Every request about a look is refused with Looker's 422: a permanent failure.
        emu.set_faults(
            add_rules=[{"method": "*", "path": "*/looks/*", "status": 422, "count": None}]
        )
        selection = {"content_types": [int(ContentType.LOOK)]}
        session = new_session(
            backup, destination, RestoreConfig(selection=selection, rate_limit_per_second=None)
        )
        run_session(session.pk)
    failed = RestoreItemResult.objects.filter(session=session, action="failed")
    assert failed.count() > 0
    assert all(r.message.startswith("Looker API 422") for r in failed)
    client.force_login(admin_user)

    page = client.get(reverse("session_detail", args=[session.pk]), {"action": "failed"})
    page = page.content.decode()
    shown = outside_details(page)
    assert shown.count("422: Looker refused this data") == failed.count(), shown
    assert "Looker API 422" not in shown and "documentation_url" not in shown
    folded = re.findall(r'<details class="raw-error">(.*?)</details>', page, flags=re.S)
    assert len(folded) == failed.count() and all("Looker API 422" in f for f in folded)

    row = failed.first()
    item = client.get(reverse("result_detail", args=[session.pk, row.pk])).content.decode()
    assert "422: Looker refused this data" in outside_details(item)
    assert "Looker API 422" not in outside_details(item)
    assert "Looker API 422" in item  # folded, for the engineers
