"""No double submit writes twice: one apply per plan, one rollback per restore, and a second
session writing into a destination starts only when the user confirms the one running there."""

from __future__ import annotations

import io
import json
import re
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from restore.models import RestoreSession
from tests.web.test_new_restore import form_data

pytestmark = pytest.mark.django_db


def applies(plan) -> list[RestoreSession]:
    return list(RestoreSession.objects.filter(config__plan_session_id=plan.pk, dry_run=False))


def test_two_apply_posts_make_one_apply_session(client, admin_user, plan):
    client.force_login(admin_user)
    url = reverse("session_apply", args=[plan.pk])
    client.post(url, {"confirm": "yes"})
    response = client.post(url, {"confirm": "yes"}, follow=True)
    (applied,) = applies(plan)
    assert f"plan {plan.pk} is being applied by session {applied.pk}" in response.content.decode()
    # Once it ended, applying again needs asking for it, on a page that offers it.
    RestoreSession.objects.filter(pk=applied.pk).update(status="completed", updated=1)
    response = client.post(url, {"confirm": "yes"}, follow=True)
    assert "was applied already" in response.content.decode() and len(applies(plan)) == 1
    assert 'name="again" value="yes"' in response.content.decode()
    client.post(url, {"confirm": "yes", "again": "yes"})
    assert len(applies(plan)) == 2


def at_once(user, url: str, data: dict, clicks: int = 2) -> None:
    """POST the same form `clicks` times at once, each on its own connection, as double clicks
    reach two web workers."""
    start = threading.Barrier(clicks)

    def click() -> None:
        try:
            browser = Client()
            browser.force_login(user)
            start.wait()
            browser.post(url, data)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.django_db(transaction=True)
def test_two_apply_posts_at_once_make_one_apply_session(admin_user, plan):
    at_once(admin_user, reverse("session_apply", args=[plan.pk]), {"confirm": "yes"})
    assert len(applies(plan)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_restores_started_at_once_on_one_destination_make_one(admin_user, backup, destination):
    data = form_data(backup, destination, types="dashboard", ids="101", action="start")
    data |= {"confirm": "yes", "confirm_count": "1", "confirm_destination": destination.name}
    at_once(admin_user, reverse("restore_new"), data)
    assert RestoreSession.objects.filter(dry_run=False).count() == 1


def test_a_second_restore_into_a_busy_destination_needs_confirming(
    client, admin_user, backup, destination, running_session
):
    client.force_login(admin_user)
    data = form_data(backup, destination, types="dashboard", ids="101", action="start")
    data |= {"confirm": "yes", "confirm_count": "1", "confirm_destination": destination.name}
    response = client.post(reverse("restore_new"), data)
    html = response.content.decode()
    assert "Nothing was started" in html and f"session {running_session.pk}" in html
    assert f'name="alongside" value="{running_session.pk}"' in html
    assert RestoreSession.objects.count() == 1
    # Confirming another session than the one running is no confirmation.
    client.post(reverse("restore_new"), {**data, "alongside": str(running_session.pk + 100)})
    assert RestoreSession.objects.count() == 1
    response = client.post(reverse("restore_new"), {**data, "alongside": str(running_session.pk)})
    started = RestoreSession.objects.exclude(pk=running_session.pk).get()
    assert response["Location"] == reverse("session_detail", args=[started.pk])


def test_a_plan_of_a_busy_destination_is_applied_only_alongside(
    client, admin_user, plan, running_session
):
    client.force_login(admin_user)
    url = reverse("session_apply", args=[plan.pk])
    page = client.post(url, {"confirm": "yes"}, follow=True).content.decode()
    assert f"restore session {running_session.pk} (running) is writing into" in page
    assert f'name="alongside" value="{running_session.pk}"' in page and not applies(plan)
    client.post(url, {"confirm": "yes", "alongside": running_session.pk})
    assert len(applies(plan)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_rollback_posts_at_once_make_one_rollback(admin_user, session, results):
    at_once(admin_user, reverse("session_rollback", args=[session.pk]), {"confirm": "yes"}, 3)
    assert RestoreSession.objects.filter(kind="rollback").count() == 1


def test_the_writing_buttons_are_disabled_once_clicked(client, admin_user, plan, session, results):
    client.force_login(admin_user)
    plan_page = client.get(reverse("session_detail", args=[plan.pk])).content.decode()
    assert 'class="apply" hx-disabled-elt="find button"' in plan_page
    restore_page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert 'class="rollback" hx-disabled-elt="find button"' in restore_page


def test_a_dlq_retry_into_a_busy_destination_needs_confirming(
    client, support_user, dlq_item, running_session
):
    """One click on a dead item of a destination another session writes into: nothing is
    claimed; its page says why and offers running it alongside that very session."""
    client.force_login(support_user)
    url = reverse("dlq_retry_one", args=[dlq_item.pk])
    response = client.post(url, HTTP_HX_REQUEST="true")
    item_page = reverse("dlq_item", args=[dlq_item.pk])
    assert response["HX-Redirect"] == item_page
    dlq_item.refresh_from_db()
    assert dlq_item.status == "open" and not RestoreSession.objects.filter(kind="retry").exists()
    html = client.get(item_page).content.decode()
    assert "Nothing was retried" in html
    assert f"restore session {running_session.pk} (running) is writing into" in html
    assert f'name="alongside" value="{running_session.pk}"' in html
    # Confirming another session than the one running is no confirmation.
    client.post(url, {"alongside": str(running_session.pk + 100)})
    assert not RestoreSession.objects.filter(kind="retry").exists()
    client.post(url, {"alongside": str(running_session.pk)})
    dlq_item.refresh_from_db()
    assert dlq_item.status == "retrying" and dlq_item.retry_session.kind == "retry"


def test_a_resume_beside_a_busy_destination_needs_confirming(
    client, admin_user, session, running_session
):
    """Resuming a cancelled restore while another session writes into its destination."""
    RestoreSession.objects.filter(pk=session.pk).update(status="cancelled")
    client.force_login(admin_user)
    url = reverse("session_resume", args=[session.pk])
    page = client.post(url, follow=True).content.decode()
    assert f"Not resumed: restore session {running_session.pk} (running) is writing into" in page
    assert f'name="alongside" value="{running_session.pk}"' in page
    session.refresh_from_db()
    assert session.status == "cancelled"
    client.post(url, {"alongside": str(running_session.pk)})
    session.refresh_from_db()
    assert session.status == "pending"


def restore_command(*args: str) -> str:
    out = io.StringIO()
    call_command("restore", *args, stdout=out)
    return out.getvalue()


def test_the_commands_retry_and_resume_beside_a_busy_destination_only_alongside(
    session, dlq_item, running_session
):
    """`restore dlq retry` and `restore resume` say what `restore all` says, and go on with
    --alongside naming the session writing there."""
    busy = f"restore session {running_session.pk} (running) is writing into"
    with pytest.raises(CommandError, match=re.escape(busy)):
        restore_command("dlq", "retry", str(dlq_item.pk), "--enqueue")
    dlq_item.refresh_from_db()
    assert dlq_item.status == "open" and not RestoreSession.objects.filter(kind="retry").exists()
    queued = json.loads(
        restore_command(
            "dlq",
            "retry",
            str(dlq_item.pk),
            "--enqueue",
            "--json",
            "--alongside",
            str(running_session.pk),
        )  # fmt: skip
    )
    assert queued["queued"] == [dlq_item.pk]

    RestoreSession.objects.filter(pk=session.pk).update(status="failed")
    retry = queued["sessions"][0]
    busy = f"restore session {running_session.pk} (running), retry session {retry} (pending)"
    with pytest.raises(CommandError, match=re.escape(busy + " is writing into")):
        restore_command("resume", str(session.pk), "--enqueue")
    session.refresh_from_db()
    assert session.status == "failed"
    alongside = [str(running_session.pk), "--alongside", str(retry)]
    restore_command("resume", str(session.pk), "--enqueue", "--alongside", *alongside)
    session.refresh_from_db()
    assert session.status == "pending"


@pytest.mark.parametrize("page", ["list", "triage"])
def test_dlq_bulk_and_triage_retries_offer_and_honour_running_alongside(
    client, support_user, dlq_item, running_session, page
):
    """The list's bulk retry and the triage page's group retry are refused into a busy
    destination like one click, and their forms offer ticking the session writing there."""
    client.force_login(support_user)
    shown = client.get(reverse(f"dlq_{page}")).content.decode()
    assert f'name="alongside" value="{running_session.pk}"' in shown
    assert (
        f"session {running_session.pk}</a>, running in {running_session.destination.name}" in shown
    )
    if page == "list":
        url, data = reverse("dlq_bulk"), {"action": "retry_selected", "item": [dlq_item.pk]}
    else:
        url = reverse("dlq_triage_action")
        data = {"action": "retry", "error_class": "LookerApiError", "group_status": "422"}
        data |= {"retry_shown": "1", "status": "open"}
    refused = client.post(url, data, follow=True).content.decode()
    assert "Nothing was retried" in refused
    dlq_item.refresh_from_db()
    assert dlq_item.status == "open" and not RestoreSession.objects.filter(kind="retry").exists()
    client.post(url, {**data, "alongside": str(running_session.pk)})
    dlq_item.refresh_from_db()
    assert dlq_item.status == "retrying" and dlq_item.retry_session.kind == "retry"
