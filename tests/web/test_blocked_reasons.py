"""The session page says why items are blocked and puts the source-instance picker right there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.engine import RestoreConfig, store
from restore.engine.core.documents import BlockedReason, Summary
from restore.models import Destination, RestoreSession

pytestmark = pytest.mark.django_db

REASON = (
    "6 looks need their query: it is not in this backup; name the source instance to read it"
    " — 1 more item waits on them"
)


def test_blocked_reasons_with_the_source_picker(client, admin_user, backup, destination):
    source = Destination(name="dev", base_url="https://dev.looker.example", client_id="x")
    source.set_client_secret("s")
    source.save()
    config = RestoreConfig(dry_run=True, selection={"content_types": [2, 12]})
    summary = Summary(
        status="completed_with_failures",
        dry_run=True,
        blocked=7,
        blocked_reasons=[BlockedReason(text=REASON, items=6, waiting=1, needs_source=True)],
    )
    session = RestoreSession.objects.create(
        backup=backup,
        destination=destination,
        config=config.model_dump(mode="json"),
        dry_run=True,
        status=RestoreSession.Status.COMPLETED_WITH_FAILURES,
        summary=store(summary),
    )
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "Blocked, and what unblocks it" in page and REASON in page
    assert f'<option value="{source.pk}">dev — https://dev.looker.example</option>' in page
    # the picker opens the form again with this session's options
    assert f'<input type="hidden" name="backup" value="{backup.pk}">' in page
    assert '<input type="hidden" name="types" value="look">' in page
    form = client.get(
        reverse("restore_new"), {"backup": backup.pk, "types": "look", "source": source.pk}
    ).content.decode()
    assert f'<option value="{source.pk}" selected>dev</option>' in form
