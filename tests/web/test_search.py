"""One search box: an item's name finds it in the latest backups, the sessions that did something
to it, and its dead letters, from any page's menu."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.engine.core.content_types import ContentType
from restore.models import DeadLetterItem, RestoreItemResult

pytestmark = pytest.mark.django_db


def test_a_name_finds_the_item_its_sessions_and_its_dead_letters(
    client, auditor_user, backup, session
):
    RestoreItemResult.objects.create(
        session=session, content_type=ContentType.DASHBOARD, source_id="101",
        name="An SDK dashboard", action="created",
    )  # fmt: skip
    DeadLetterItem.objects.create(
        session=session, content_type=ContentType.DASHBOARD, content_id="101",
        name="An SDK dashboard", error_message="Forbidden", error_class="LookerApiError 403",
        http_status=403, request_method="GET",
    )  # fmt: skip
    client.force_login(auditor_user)
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("search")}"' in home  # in the menu of every page
    page = client.get(reverse("search"), {"q": "sdk dash"}).content.decode()
    found = page[page.index('id="search-backups"') :]
    item = reverse("backup_item", args=[backup.pk, "dashboard", "101"])
    assert f'<a href="{item}">An SDK dashboard</a>' in found
    sessions = page[page.index('id="search-sessions"') :]
    assert f'href="/sessions/{session.pk}/" class="kind-link"' in sessions
    dead = page[page.index('id="search-dead"') :]
    assert "An SDK dashboard</a>" in dead and "403: the API user&#x27;s role cannot read" in dead
    nothing = client.get(reverse("search"), {"q": "no such thing"}).content.decode()
    assert "No item of the latest backups is named like" in nothing
