"""Undo of a dismissal reopens exactly the items it still holds: all of them however many, none
dismissed again since by someone else (their note kept); history offers Undo only while it can."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.engine.core.content_types import ContentType
from restore.models import AuditEvent, DeadLetterItem

pytestmark = pytest.mark.django_db


def open_items(session, n: int) -> list[DeadLetterItem]:
    return DeadLetterItem.objects.bulk_create(
        DeadLetterItem(
            session=session,
            content_type=ContentType.LOOK,
            content_id=str(i),
            error_message="Not found",
            error_class="LookerApiError",
            http_status=404,
        )
        for i in range(n)
    )


def test_undo_reopens_every_item_of_a_large_dismissal(client, support_user, session):
    open_items(session, 6000)
    client.force_login(support_user)
    client.post(
        reverse("dlq_bulk"),
        {"action": "resolve_filter", "status": "open", "note": "gone", "dismiss_shown": 6000},
    )
    assert DeadLetterItem.objects.filter(status="dismissed").count() == 6000
    event = AuditEvent.objects.get()
    response = client.post(reverse("dlq_undo", args=[event.pk]), follow=True)
    assert "Open again: 6000 items." in response.content.decode()
    assert DeadLetterItem.objects.filter(status="open").count() == 6000


def test_undo_leaves_items_dismissed_again_since_by_someone_else(
    client, support_user, admin_user, session
):
    a, b = open_items(session, 2)
    client.force_login(support_user)
    dismiss = {"action": "resolve_selected", "item": [a.pk, b.pk], "note": "first"}
    client.post(reverse("dlq_bulk"), dismiss, follow=True)
    first = AuditEvent.objects.get()
    # Item a is opened again (its retry failed, say) and dismissed by someone else.
    DeadLetterItem.objects.filter(pk=a.pk).update(status="open", dismissal=None)
    client.force_login(admin_user)
    client.post(reverse("dlq_resolve_one", args=[a.pk]), {"note": "second opinion"}, follow=True)
    second = AuditEvent.objects.exclude(pk=first.pk).get()

    client.post(reverse("dlq_undo", args=[first.pk]), follow=True)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.resolution_note, a.resolved_by) == (
        "dismissed",
        "second opinion",
        admin_user,
    )
    assert b.status == "open"
    history = client.get(reverse("history")).content.decode()
    assert reverse("dlq_undo", args=[first.pk]) not in history
    assert reverse("dlq_undo", args=[second.pk]) in history
    page = client.get(reverse("dlq_item", args=[a.pk])).content.decode()
    assert reverse("dlq_undo", args=[second.pk]) in page
