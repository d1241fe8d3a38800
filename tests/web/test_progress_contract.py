"""The session page reads what the runner publishes: its real progress document, rendered."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.engine.core.errors import LookerApiError

pytestmark = pytest.mark.django_db


def test_runner_progress_document_renders(client, auditor_user, running_session):
    from restore.engine.core import documents
    from restore.engine.run import runner

    progress = runner.Progress({"dashboard": 10, "look": 5}, {})
    for _ in range(4):
        progress.count("look", "created")
    progress.count("dashboard", "updated")
    progress.error(
        "dashboard",
        "77",
        LookerApiError("Too many requests", status=429, method="PATCH", path="/dashboards/77"),
    )
    progress.count("dashboard", "failed")
    for _ in range(3):
        progress.document({})  # builds the throughput series
    doc = progress.document(
        {"configured_rate": 10.0, "current_rate": 5.0, "throttled": True, "throttle_events": 1}
    )
    running_session.progress = documents.store(doc)  # as the runner's heartbeat stores it
    running_session.save()
    client.force_login(auditor_user)
    html = client.get(
        reverse("session_progress", args=[running_session.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "6 of 15 items" in html
    assert "4 created" in html and "1 updated" in html and "1 failed" in html
    assert 'look <small class="muted">4/5' in html and 'dashboard <small class="muted">2/10' in html
    # Even a small session shows the limiter once Looker throttled it, in words.
    assert "Slowed to 5 requests/s after 1 “too many requests” answer from Looker." in html
    assert "throttled: True" not in html and "paused for" not in html
    # The error in words people act on, not as the request that got it.
    assert "dashboard 77" in html and "429: Looker asked us to slow down — safe to retry" in html
    assert "on PATCH /dashboards/77" not in html
    assert 'aria-valuetext="40% done, 1 failed"' in html  # the failed part of the bar is red


@pytest.mark.parametrize(
    ("done", "elapsed", "shown"),
    [
        (40, 57.0, "about 1 min 26 s left"),  # 60 left at the pace so far, not the 5 s promised
        (5, 57.0, None),  # too few items done to say
        (40, 4.0, None),  # too early to say
    ],
)
def test_time_left_is_shown_only_when_it_means_something(
    client, auditor_user, running_session, done, elapsed, shown
):
    running_session.progress = {
        **running_session.progress,
        "done": done,
        "elapsed_seconds": elapsed,
    }
    running_session.save()
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[running_session.pk])).content.decode()
    assert "about 5 s left" not in page
    if shown:
        assert shown in page
    else:
        assert " left</span>" not in page
