"""A bulk DLQ action reaches no further than the filter the user saw: a filter that does not
validate is refused, never widened to "every open item"; the buttons say how many items they touch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.engine.core.content_types import ContentType
from restore.models import DeadLetterItem, RestoreSession

pytestmark = pytest.mark.django_db


def open_items(session: RestoreSession, n: int) -> None:
    DeadLetterItem.objects.bulk_create(
        DeadLetterItem(
            session=session,
            content_type=ContentType.LOOK,
            content_id=f"look{session.pk}x{i}",
            name=f"Look {i}",
            error_message="Not found",
            error_class="LookerApiError",
            http_status=404,
        )
        for i in range(n)
    )


@pytest.fixture
def other_session(session) -> RestoreSession:
    """A second session with more open items than the first."""
    other = RestoreSession.objects.create(
        backup=session.backup, destination=session.destination, status="completed_with_failures"
    )
    open_items(session, 3)
    open_items(other, 44)
    return other


def dismissed(session: RestoreSession) -> int:
    return DeadLetterItem.objects.filter(session=session, status="dismissed").count()


@pytest.mark.parametrize(
    "bad",
    [{"status": "all"}, {"http_status": "1000"}, {"q": "x" * 201}],
    ids=["status-all", "http-1000", "long-search"],
)
def test_a_bulk_dismiss_with_a_filter_that_does_not_validate_is_refused(
    client, support_user, session, other_session, bad
):
    client.force_login(support_user)
    data = {"action": "resolve_filter", "session": session.pk, "note": "gone"}
    response = client.post(reverse("dlq_bulk"), {**data, **bad, "dismiss_shown": 3}, follow=True)
    assert "The filter is not valid" in response.content.decode()
    assert dismissed(other_session) == 0 and dismissed(session) == 0
    triage = {"action": "resolve", "error_class": "LookerApiError", "group_status": "404"}
    client.post(reverse("dlq_triage_action"), {**data, **triage, **bad, "dismiss_shown": 3})
    assert dismissed(other_session) == 0 and dismissed(session) == 0


def test_the_session_pages_link_to_its_items_shows_only_them(
    client, support_user, session, other_session, admin_user
):
    retry = RestoreSession.objects.create(
        backup=session.backup, destination=session.destination, kind="retry", retry_of=session
    )
    client.force_login(support_user)
    page = client.get(reverse("session_detail", args=[retry.pk])).content.decode()
    link = page.split('">Its dead-letter items')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    listing = client.get(link).content.decode()
    assert f"look{session.pk}x0" in listing and f"look{other_session.pk}x0" not in listing
    assert "Dismiss all 3 open matching the filter" in listing
    # What the page's "Dismiss all" posts back: its own filter and count.
    query = dict(pair.split("=", 1) for pair in link.split("?", 1)[1].split("&"))
    response = client.post(
        reverse("dlq_bulk"),
        {**query, "action": "resolve_filter", "note": "gone", "dismiss_shown": 3},
        follow=True,
    )
    assert "Dismissed 3 items." in response.content.decode()
    assert dismissed(session) == 3 and dismissed(other_session) == 0


def test_an_invalid_filter_lists_nothing_and_says_why(client, auditor_user, other_session):
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_list"), {"http_status": "1000"}).content.decode()
    assert "The filter is not valid" in page and "No dead-letter items match." in page
    triage = client.get(reverse("dlq_triage"), {"status": "all"}).content.decode()
    assert "The filter is not valid" in triage and "No failures match." in triage


def test_a_bulk_action_touching_more_than_shown_is_refused(
    client, support_user, session, other_session
):
    client.force_login(support_user)
    base = {"action": "resolve_filter", "status": "open", "note": "gone"}
    response = client.post(reverse("dlq_bulk"), {**base, "dismiss_shown": 3}, follow=True)
    assert "47 items match now, not the 3 shown: nothing was done" in response.content.decode()
    response = client.post(reverse("dlq_bulk"), base, follow=True)  # no count at all
    assert "47 items match now: nothing was done" in response.content.decode()
    retry = {"action": "retry_filter", "status": "open"}
    client.post(reverse("dlq_bulk"), {**retry, "retry_shown": 44})
    assert DeadLetterItem.objects.filter(status="open").count() == 47
    assert not RestoreSession.objects.filter(kind="retry").exists()
