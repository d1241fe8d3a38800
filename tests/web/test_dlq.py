"""Dead-letter queue: filters, detail, dismiss with a note, triage groups and group actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.engine.core.content_types import ContentType
from restore.models import AuditEvent, DeadLetterItem, RestoreSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_items(session):
    rows = [
        DeadLetterItem(
            session=session,
            content_type=ContentType.LOOK,
            content_id=str(i),
            name=f"Look {i}",
            error_message="Rate limited" if i % 3 else "Not found",
            error_class="LookerApiError",
            http_status=429 if i % 3 else 404,
        )
        for i in range(120)
    ]
    return DeadLetterItem.objects.bulk_create(rows)


def test_list_paginates_and_filters(client, auditor_user, many_items):
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_list")).content.decode()
    assert "Rows 1–50" in page and "Next" in page
    page = client.get(reverse("dlq_list"), {"http_status": "404"}).content.decode()
    assert page.count('<span class="badge bad">404</span>') == 40
    page = client.get(reverse("dlq_list"), {"q": "Look 7"}).content.decode()
    assert "Look 7<" in page or "Look 7\n" in page


def test_item_detail_shows_payload_response_traceback_and_attempts(client, auditor_user, dlq_item):
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_item", args=[dlq_item.pk])).content.decode()
    for text in ("Validation Failed", "Traceback", "POST /api/4.0/dashboards", "&quot;title&quot;"):
        assert text in page


def test_dismiss_one_with_a_note(client, support_user, dlq_item):
    client.force_login(support_user)
    client.post(reverse("dlq_resolve_one", args=[dlq_item.pk]), {"note": "deleted on purpose"})
    dlq_item.refresh_from_db()
    assert dlq_item.status == DeadLetterItem.Status.DISMISSED
    assert dlq_item.resolved_by == support_user and dlq_item.resolution_note == "deleted on purpose"


def test_dismiss_all_matching_the_filter(client, support_user, many_items):
    client.force_login(support_user)
    client.post(
        reverse("dlq_bulk"),
        {"action": "resolve_filter", "http_status": "404", "note": "gone", "dismiss_shown": "40"},
    )
    assert DeadLetterItem.objects.filter(status="dismissed").count() == 40
    assert DeadLetterItem.objects.filter(status="open", http_status=429).count() == 80


def test_dismiss_needs_a_note(client, support_user, many_items, dlq_item):
    client.force_login(support_user)
    ids = [many_items[0].pk, many_items[1].pk]
    response = client.post(
        reverse("dlq_bulk"), {"action": "resolve_selected", "item": ids}, follow=True
    )
    assert "Write a note saying why" in response.content.decode()
    response = client.post(
        reverse("dlq_resolve_one", args=[dlq_item.pk]), {"note": " "}, follow=True
    )
    assert "Write a note saying why" in response.content.decode()
    assert not DeadLetterItem.objects.filter(status="dismissed").exists()


def test_dismiss_selected_is_recorded_and_can_be_undone(client, support_user, many_items):
    client.force_login(support_user)
    ids = [many_items[0].pk, many_items[1].pk]
    response = client.post(
        reverse("dlq_bulk"),
        {"action": "resolve_selected", "item": ids, "note": "deleted on purpose"},
        follow=True,
    )
    assert set(
        DeadLetterItem.objects.filter(status="dismissed").values_list("pk", flat=True)
    ) == set(ids)
    event = AuditEvent.objects.get()
    html = response.content.decode()
    assert "Dismissed 2 items." in html and reverse("dlq_undo", args=[event.pk]) in html
    history = client.get(reverse("history")).content.decode()
    assert "deleted on purpose" in history and "2 items of session" in history
    response = client.post(reverse("dlq_undo", args=[event.pk]), follow=True)
    assert "Open again: 2 items." in response.content.decode()
    assert not DeadLetterItem.objects.filter(status="dismissed").exists()
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["reopen", "dismiss"]
    history = client.get(reverse("history")).content.decode()
    assert "Undo dismissal" in history


def test_a_dismissed_item_can_still_be_retried(client, support_user, many_items):
    from django_q.models import OrmQ

    DeadLetterItem.objects.filter(pk__in=[i.pk for i in many_items[:3]]).update(status="dismissed")
    client.force_login(support_user)
    response = client.post(
        reverse("dlq_bulk"),
        {"action": "retry_filter", "status": "dismissed", "retry_shown": "3"},
        follow=True,
    )
    retry = RestoreSession.objects.get(kind="retry")
    # The new run's own page, with a notice that links to it.
    assert response.redirect_chain[-1][0] == reverse("session_detail", args=[retry.pk])
    page = response.content.decode()
    assert f'<a href="/sessions/{retry.pk}/">Retrying 3 items in retry {retry.pk}.</a>' in page
    assert f"<h1>Retry {retry.pk} " in page
    assert OrmQ.objects.get().args() == (retry.pk,)
    assert len(retry.options.dlq_item_ids) == 3
    assert AuditEvent.objects.get().action == "retry"  # the retry is in the history too


def test_triage_offers_no_retry_on_resolved_items(client, support_user, many_items):
    DeadLetterItem.objects.update(status="resolved")
    client.force_login(support_user)
    page = client.get(reverse("dlq_triage"), {"status": "resolved"}).content.decode()
    assert ">80<" in page and "Retry 80" not in page and "nothing to do" in page


def test_triage_groups_by_error_class_and_status(client, auditor_user, many_items):
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_triage")).content.decode()
    assert ">80<" in page and ">40<" in page
    assert "Rate limited" in page and "Not found" in page


def test_triage_group_dismiss(client, support_user, many_items):
    client.force_login(support_user)
    client.post(
        reverse("dlq_triage_action"),
        {
            "action": "resolve",
            "error_class": "LookerApiError",
            "group_status": "404",
            "note": "ok",
            "dismiss_shown": "40",
        },
    )
    assert DeadLetterItem.objects.filter(status="dismissed").count() == 40


def test_row_poll_stops_when_not_retrying(client, auditor_user, dlq_item):
    client.force_login(auditor_user)
    assert client.get(reverse("dlq_row", args=[dlq_item.pk])).status_code == 286
    dlq_item.status = DeadLetterItem.Status.RETRYING
    dlq_item.save()
    response = client.get(reverse("dlq_row", args=[dlq_item.pk]))
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in response.content.decode()


def test_one_click_retry_marks_the_row_and_queues_the_retry(client, support_user, dlq_item):
    from django_q.models import OrmQ

    client.force_login(support_user)
    response = client.post(reverse("dlq_retry_one", args=[dlq_item.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert f'id="dlq-row-{dlq_item.pk}"' in html and 'hx-trigger="every 2s"' in html
    dlq_item.refresh_from_db()
    assert dlq_item.status == DeadLetterItem.Status.RETRYING
    # A retry is a session of its own, linked to the session the item failed in, and queued
    # like any session; the row links to it.
    retry = dlq_item.retry_session
    assert (retry.kind, retry.retry_of_id, retry.status) == (
        "retry",
        dlq_item.session_id,
        "pending",
    )
    assert retry.options.dlq_item_ids == [dlq_item.pk] and retry.started_by == support_user
    assert f'href="/sessions/{retry.pk}/"' in html
    task = OrmQ.objects.get()
    assert task.func() == "restore.tasks.run_session_task"
    assert task.args() == (retry.pk,)


def test_retry_all_matching_the_filter_queues_only_open_matches(client, support_user, many_items):
    from django_q.models import OrmQ

    DeadLetterItem.objects.filter(pk=many_items[1].pk).update(status="dismissed")
    client.force_login(support_user)
    client.post(
        reverse("dlq_bulk"), {"action": "retry_filter", "http_status": "429", "retry_shown": "79"}
    )
    retry = RestoreSession.objects.get(pk=OrmQ.objects.get().args()[0])
    ids = retry.options.dlq_item_ids
    assert len(ids) == 79 and many_items[1].pk not in ids
    assert DeadLetterItem.objects.filter(status="retrying").count() == 79


def test_retry_of_a_resolved_item_does_nothing(client, support_user, dlq_item):
    dlq_item.status = DeadLetterItem.Status.RESOLVED
    dlq_item.save()
    client.force_login(support_user)
    response = client.post(reverse("dlq_retry_one", args=[dlq_item.pk]), follow=True)
    assert b"resolved already" in response.content
    dlq_item.refresh_from_db()
    assert dlq_item.status == DeadLetterItem.Status.RESOLVED


def test_rerun_and_group_retry_ask_first(client, admin_user, many_items, session):
    """Re-running a session's failed items, and a triage group's Retry, ask for confirmation
    (a real Chromium click is tested in the browser suite; here the question on the button)."""
    session.status = RestoreSession.Status.COMPLETED_WITH_FAILURES
    session.save()
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert 'value="retry_filter" data-confirm="Re-run the 120 failed items of this session?' in page
    triage = client.get(reverse("dlq_triage")).content.decode()
    assert 'data-confirm="Retry the 80 items of this group?' in triage
    # The triage group's retry lands on the new run's page too.
    response = client.post(
        reverse("dlq_triage_action"),
        {
            "action": "retry",
            "error_class": "LookerApiError",
            "group_status": "404",
            "retry_shown": "80",  # the count the button showed: a bulk action says what it touches
        },
    )
    retry = RestoreSession.objects.get(kind="retry")
    assert response["Location"] == reverse("session_detail", args=[retry.pk])


def test_the_queue_says_what_it_is_before_its_rows(client, auditor_user, many_items):
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_list")).content.decode()
    sentence = page.index('id="dlq-what">Items a restore could not write, set aside')
    assert sentence < page.index('id="dlq-table"')
