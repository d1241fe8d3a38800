"""Session page: live progress (polling stops when done), summaries, per-item results, actions."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from restore.models import RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db


def test_running_session_polls_every_two_seconds(client, auditor_user, running_session):
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[running_session.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "40 of 100 items" in page
    # 60 items left at the pace so far (40 in 60 s), not the 5 s the last seconds' rate says.
    assert "12.5 items/s" in page and "about 1 min 30 s left" in page
    assert 'class="throughput-chart"' in page  # drawn by uPlot from static/, with axes
    assert "&quot;rate&quot;:[1.0,5.0,9.0,12.5]" in page
    # The limiter published nothing a person needs: no raw booleans, no debug keys.
    assert "backoff" not in page and "False" not in page and "Rate limit" not in page


def test_progress_poll_is_one_cheap_request(
    client, auditor_user, running_session, django_assert_max_num_queries
):
    client.force_login(auditor_user)
    url = reverse("session_progress", args=[running_session.pk])
    client.get(url)
    with django_assert_max_num_queries(5):  # login session, user, 2 permission reads, the row
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()


def test_progress_poll_stops_with_286_when_done(client, auditor_user, session):
    client.force_login(auditor_user)
    response = client.get(reverse("session_progress", args=[session.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    assert 'hx-trigger="every 2s"' not in response.content.decode()


def test_finished_session_shows_summary_and_downloads(client, auditor_user, session, results):
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "1 created" in page and "summary (JSON)" in page
    data = json.loads(client.get(reverse("session_summary_json", args=[session.pk])).content)
    assert data["session_id"] == session.pk and data["created"] == 1 and data["failed"] == 1
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("session_summary_csv", args=[session.pk])).content.decode()
            )
        )
    )
    assert rows[0][0] == "type" and rows[1][0] == "dashboard" and rows[-1][0] == "all"
    response = client.get(reverse("session_results_csv", args=[session.pk]))
    items = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r[1] for r in items[1:]] == ["101", "102"]


def test_results_filter_by_action_and_diff_on_demand(client, auditor_user, session, results):
    client.force_login(auditor_user)
    url = reverse("session_detail", args=[session.pk])
    partial = client.get(url, {"action": "updated"}, HTTP_HX_REQUEST="true").content.decode()
    assert "102" in partial and ">101<" not in partial and "<html" not in partial
    updated = RestoreItemResult.objects.get(source_id="102")
    diff = client.get(
        reverse("result_detail", args=[session.pk, updated.pk]), HTTP_HX_REQUEST="true"
    )
    html = diff.content.decode()
    assert "title" in html and "Old" in html and "EMEA" in html


def test_cancel_asks_the_workers_to_stop(client, admin_user, running_session):
    client.force_login(admin_user)
    client.post(reverse("session_cancel", args=[running_session.pk]))
    running_session.refresh_from_db()
    assert running_session.cancel_requested is True


def test_cancel_of_a_finished_session_says_why(client, admin_user, session):
    client.force_login(admin_user)
    response = client.post(reverse("session_cancel", args=[session.pk]), follow=True)
    assert b"not running" in response.content


def test_rollback_needs_the_confirmation_box(client, admin_user, session, results):
    client.force_login(admin_user)
    response = client.post(reverse("session_rollback", args=[session.pk]), follow=True)
    assert b"Tick the confirmation box" in response.content
    assert not RestoreSession.objects.filter(kind=RestoreSession.Kind.ROLLBACK).exists()


def test_rollback_is_queued_for_the_workers(client, admin_user, session, results):
    from django_q.models import OrmQ

    client.force_login(admin_user)
    response = client.post(reverse("session_rollback", args=[session.pk]), {"confirm": "yes"})
    rollback = RestoreSession.objects.get(kind=RestoreSession.Kind.ROLLBACK)
    assert (rollback.rollback_of, rollback.started_by, rollback.status) == (
        session,
        admin_user,
        RestoreSession.Status.PENDING,
    )
    # The user lands on the rollback itself, not far above its link on the original.
    assert response["Location"] == reverse("session_detail", args=[rollback.pk])
    # The same task as every session: the runner reads the session's kind.
    assert [q.func() for q in OrmQ.objects.all()] == ["restore.tasks.run_session_task"]
    assert OrmQ.objects.get().args() == (rollback.pk,)


def test_home_shows_running_sessions_with_progress_bars(
    client, auditor_user, running_session, dlq_item
):
    client.force_login(auditor_user)
    page = client.get(reverse("home")).content.decode()
    assert 'role="progressbar"' in page and 'aria-valuenow="40"' in page
    assert "1 open dead-letter item" in page
    panel = client.get(reverse("home_running")).content.decode()
    assert f"Restore {running_session.pk}</a>" in panel


def test_history_filters(client, auditor_user, session, running_session):
    client.force_login(auditor_user)
    page = client.get(
        reverse("history"), {"status": "running"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f"/sessions/{running_session.pk}/" in page and f"/sessions/{session.pk}/" not in page
    page = client.get(reverse("history"), {"user": "alice"}).content.decode()
    assert f"/sessions/{session.pk}/" in page


def test_mappings_browse_and_search(client, auditor_user, mapping):
    client.force_login(auditor_user)
    page = client.get(reverse("mappings")).content.decode()
    assert "https://source.example.com" in page and "501" in page
    page = client.get(
        reverse("mappings"),
        {
            "source": mapping.source_instance,
            "destination": mapping.destination_instance_id,
            "q": "999",
        },
    ).content.decode()
    assert "No mappings match" in page


def test_resume_of_a_cancelled_session_queues_it_again(client, admin_user, session):
    from django_q.models import OrmQ

    session.status = RestoreSession.Status.CANCELLED
    session.cancel_requested = True
    session.save()
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert ">Resume</button>" in page
    client.post(reverse("session_resume", args=[session.pk]))
    session.refresh_from_db()
    assert session.cancel_requested is False and session.status == RestoreSession.Status.PENDING
    assert OrmQ.objects.get().args() == (session.pk,)


def test_a_failed_session_offers_resume_only_with_items_left(client, admin_user, session):
    client.force_login(admin_user)
    session.status = RestoreSession.Status.FAILED
    session.created, session.updated, session.failed, session.total = 0, 0, 3, 3
    session.save()
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert ">Resume</button>" not in page  # every item failed: nothing left to resume
    session.failed = 1  # failed at item 2 of 3 (a lost login, a crash): the rest is left
    session.save()
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert ">Resume</button>" in page


def test_a_stalled_running_session_can_be_resumed(client, admin_user, running_session):
    from datetime import timedelta

    from django.utils import timezone

    client.force_login(admin_user)
    assert (
        ">Resume</button>"
        not in client.get(reverse("session_detail", args=[running_session.pk])).content.decode()
    )
    running_session.heartbeat_at = timezone.now() - timedelta(hours=1)
    running_session.save()
    assert (
        ">Resume</button>"
        in client.get(reverse("session_detail", args=[running_session.pk])).content.decode()
    )


def test_resume_of_a_completed_session_is_refused_in_words(client, admin_user, session):
    client.force_login(admin_user)
    response = client.post(reverse("session_resume", args=[session.pk]), follow=True)
    assert b"Only a cancelled, failed or stalled session can be resumed" in response.content
