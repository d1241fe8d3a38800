"""Human wording and names on the pages: no epochs, no raw booleans, names beside IDs, live lists."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from restore.engine.core.content_types import ContentType
from restore.models import IDMapping, RestoreItemResult

pytestmark = pytest.mark.django_db


def test_dlq_attempt_times_and_retries_read_as_words(client, auditor_user, dlq_item):
    dlq_item.attempts = [{"at": 1795951265.4856925, "status": 503, "message": "busy"}]
    dlq_item.retry_count = 1
    dlq_item.save()
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_item", args=[dlq_item.pk])).content.decode()
    assert "1795951265" not in page and 'title="2026-11-29 ' in page
    assert "after 1 retry of the request<" in page and "1 retries" not in page


def test_mappings_show_names_and_sort_numerically(client, auditor_user, destination, session):
    for sid in ("100", "2", "10"):
        IDMapping.objects.create(
            source_instance="https://source.example.com",
            destination_instance=destination,
            content_type=ContentType.DASHBOARD,
            source_id=sid,
            destination_id=f"5{sid}",
            session=session,
        )
        RestoreItemResult.objects.create(
            session=session,
            content_type=ContentType.DASHBOARD,
            source_id=sid,
            name=f"Board {sid}",
            action="created",
        )
    client.force_login(auditor_user)
    page = client.get(reverse("mappings")).content.decode()
    assert page.index("Board 2<") < page.index("Board 10<") < page.index("Board 100<")


def test_ticked_items_prefill_the_restore_form(client, admin_user, backup, destination):
    client.force_login(admin_user)
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert 'name="pick" value="dashboard:101"' in page and "Restore the ticked items" in page
    assert "Rows 1–23 of 23" in page  # paging says how many there are
    form = client.get(
        reverse("restore_new"), {"backup": backup.pk, "pick": ["dashboard:101", "look:55"]}
    ).content.decode()
    assert 'value="101, 55"' in form
    assert re.search(r'value="dashboard" id="id_types_\d+" checked', form)
    assert re.search(r'value="look" id="id_types_\d+" checked', form)


def test_running_session_items_and_cancel(client, admin_user, running_session):
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[running_session.pk])).content.decode()
    # The items table refreshes while the session runs; Cancel asks first.
    assert 'id="session-results" hx-get=' in page and 'hx-trigger="every 3s"' in page
    assert "Items appear here as they finish." in page
    assert 'data-confirm="Cancel this restore?' in page
    # Workers and checkpoints are folded under "Advanced".
    assert page.index("<summary>Advanced</summary>") < page.index("Workers</dt>")


def test_dlq_list_refreshes_while_a_restore_runs(client, auditor_user, running_session, dlq_item):
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_list")).content.decode()
    assert "this list refreshes by itself" in page and "every 5s" in page
    assert '<datalist id="dlq-error-classes"><option value="LookerApiError">' in page
