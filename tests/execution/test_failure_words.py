"""Failures in words people act on: Looker's real answers (403, 500, 422 from the emulator, through
the real client) recorded in the dead-letter queue read as what they mean and what to do; the
request, Looker's answer and the stack trace stay folded for engineers, with no server path."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from exec_helpers import client_for, make_destination, new_session

from looker_emulator.testing import running_emulator
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import LookerApiError
from restore.engine.run import dlq
from restore.models import DeadLetterItem

pytestmark = pytest.mark.django_db(transaction=True)


def failure(call) -> LookerApiError:
    with pytest.raises(LookerApiError) as info:
        call()
    return info.value


def test_dead_letters_say_what_failed_and_what_to_do(groups_backup, client, support_user):
    with running_emulator(items=20, seed=1) as emu:
        dest = make_destination(emu)
        looker = client_for(emu)
        emu.set_faults(rules=[{"path": "*/looks/*", "method": "GET", "status": 403}])
        forbidden = failure(lambda: looker.get("/looks/1"))
        emu.set_faults(rules=[{"path": "*/dashboards/*", "method": "GET", "status": 500}])
        broken = failure(lambda: looker.get("/dashboards/1"))
        refused = failure(lambda: looker.post("/folders", {"name": "Mine", "parent_id": "2"}))
    session = new_session(groups_backup, dest)
    items = {
        "look": dlq.record_failure(session, ContentType.LOOK, "1", forbidden, name="Sales"),
        "dashboard": dlq.record_failure(session, ContentType.DASHBOARD, "1", broken, name="KPIs"),
        "folder": dlq.record_failure(session, ContentType.FOLDER, "9", refused, name="Mine"),
    }
    client.force_login(support_user)

    listing = client.get(reverse("dlq_list")).content.decode()
    look = "403: the API user&#x27;s role cannot read looks — fix the role in Looker, then Retry"
    assert look in listing
    assert "500: Looker failed — safe to retry" in listing
    assert (
        "422: Looker refused this data: field parent_id: folders cannot be created in the Users "
        "folder"
    ) in listing
    assert "documentation_url" not in listing

    triage = client.get(reverse("dlq_triage")).content.decode()
    assert look in triage and "500: Looker failed — safe to retry" in triage

    page = client.get(reverse("dlq_item", args=[items["look"].pk])).content.decode()
    assert f'<dd class="error" id="failure-words">{look}</dd>' in page
    folded = page[page.index('<details id="for-engineers">') :]
    assert "Traceback" in folded and "GET /api/4.0/looks/1" in folded
    assert "<details" in folded and " open" not in folded.split(">")[0]
    # Files named from their package, never by where the server keeps them.
    files = re.findall(r"File &quot;([^&]+)&quot;", folded)
    assert files and not [f for f in files if f.startswith("/")], files
    assert "restore/engine/looker/client.py" in files
    assert DeadLetterItem.objects.count() == 3
