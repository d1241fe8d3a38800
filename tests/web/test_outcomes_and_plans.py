"""What a person sees of a session's outcome and of a plan: red when anything failed, counts that
stay what the session did, a plan in the conditional with "Apply this plan"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from restore.engine.core.content_types import ContentType
from restore.engine.run.runner import refresh_counters
from restore.models import RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_run(session) -> RestoreSession:
    """A restore of 3 items, 1 created, 1 updated, 1 failed (rows and counters agree)."""
    for sid, action in (("101", "created"), ("102", "updated"), ("103", "failed")):
        RestoreItemResult.objects.create(
            session=session,
            content_type=ContentType.DASHBOARD,
            source_id=sid,
            name=f"Dash {sid}",
            action=action,
        )
    session.status = RestoreSession.Status.COMPLETED_WITH_FAILURES
    session.save()
    refresh_counters(session)
    return session


def test_a_run_with_failures_is_red_on_its_page_home_and_history(client, auditor_user, failed_run):
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[failed_run.pk])).content.decode()
    assert re.search(r'class="outcome bad".*?1 of 3 items failed', page, re.S)
    assert 'class="status completed_with_failures">completed with failures' in page
    for url in (reverse("home"), reverse("history")):
        html = client.get(url).content.decode()
        assert 'class="status completed_with_failures"' in html, url
        assert '<span class="error">1 failed</span>' in html, url


def test_counts_stay_what_the_session_did_after_a_dlq_retry(client, auditor_user, failed_run):
    # A DLQ retry fixed the failed item: its row now says created, marked retried.
    RestoreItemResult.objects.filter(session=failed_run, source_id="103").update(
        action="created", retried_at=timezone.now()
    )
    refresh_counters(failed_run)
    client.force_login(auditor_user)
    html = client.get(reverse("history")).content.decode()
    assert '<span class="error">1 failed</span> (1 since retried)' in html
    assert "1 created · 1 updated" in html  # not 2 created
    page = client.get(reverse("session_detail", args=[failed_run.pk])).content.decode()
    assert "1 of 3 items failed; 1 fixed since by a retry" in page


def test_a_plan_reads_as_a_plan(client, admin_user, plan):
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[plan.pk])).content.decode()
    assert "Plan: 1 to create, 1 to update, 1 unchanged" in page
    assert "Would create" in page and "Would update" in page and "Left alone" in page
    # The folder was pulled in by the dashboard: listed by name, marked as a dependency.
    assert re.search(
        r"folder <a [^>]*>Finance</a> <span class=\"muted\">#7</span> <span class=\"badge\">dependency",
        page,
    )
    assert "would update" in page and ">updated<" not in page
    # Nothing of a run: no bar, no items/s, no rate limiter.
    assert "items/s" not in page and "progressbar" not in page and "Rate limit" not in page
    assert "throttled" not in page and "scope" not in page
    assert "Apply this plan" in page
    history = client.get(reverse("history")).content.decode()
    assert f'<span class="kind plan">Plan</span> {plan.pk}</a>' in history
    assert "1 to update" in history


def test_apply_runs_exactly_the_planned_items(client, admin_user, plan):
    from django_q.models import OrmQ

    client.force_login(admin_user)
    response = client.post(reverse("session_apply", args=[plan.pk]), {"confirm": "yes"})
    applied = RestoreSession.objects.get(config__plan_session_id=plan.pk)
    assert response["Location"] == reverse("session_detail", args=[applied.pk])
    assert not applied.dry_run and applied.started_by == admin_user
    selection = applied.options.selection
    assert sorted(selection["content_types"]) == [
        int(ContentType.DASHBOARD),
        int(ContentType.FOLDER),
    ]
    # Each ID with its type (the unchanged look is left alone).
    assert sorted(selection["ids"]) == ["dashboard::101", "folder::7"]
    assert OrmQ.objects.get().args() == (applied.pk,)
    page = client.get(response["Location"]).content.decode()
    assert f'Applies <a href="/sessions/{plan.pk}/">plan {plan.pk}</a>' in page


def test_apply_needs_the_confirmation(client, admin_user, plan):
    client.force_login(admin_user)
    client.post(reverse("session_apply", args=[plan.pk]))
    assert not RestoreSession.objects.filter(config__plan_session_id=plan.pk).exists()


def test_a_changed_destination_is_shown_and_nothing_written(client, admin_user, plan):
    applied = RestoreSession.objects.create(
        backup=plan.backup,
        destination=plan.destination,
        status=RestoreSession.Status.FAILED,
        error_message="nothing was written: 1 object changed",
        config={**plan.config, "dry_run": False, "plan_session_id": plan.pk},
        summary={
            "changed_since_plan": ["dashboard 'Sales' (101): title is now 'X', the plan saw 'Y'"],
            "changed_since_plan_count": 1,
        },
    )
    client.force_login(admin_user)
    page = client.get(reverse("session_detail", args=[applied.pk])).content.decode()
    assert "1 object changed or appeared in prod since plan" in page
    assert "title is now &#x27;X&#x27;, the plan saw &#x27;Y&#x27;" in page
    assert "Nothing was written." in page and f"Apply plan {plan.pk} anyway" in page
