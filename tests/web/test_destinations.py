"""Destinations: admins add and edit them; the secret is write-only and never shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.models import Destination

pytestmark = pytest.mark.django_db


def test_admin_adds_a_destination_with_an_encrypted_secret(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("destination_add"),
        {
            "name": "staging",
            "base_url": "https://staging.example.com",
            "client_id": "abc",
            "client_secret": "s3cret-value",
            "verify_ssl": "on",
            "timeout": "60",
        },
    )
    assert response.status_code == 302
    d = Destination.objects.get(name="staging")
    assert d.get_client_secret() == "s3cret-value"
    assert "s3cret-value" not in d.client_secret_encrypted


def test_new_destination_needs_a_secret(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("destination_add"),
        {"name": "x", "base_url": "https://x.example.com", "client_id": "abc", "timeout": "60"},
    )
    assert response.status_code == 200
    assert b"needs its API client secret" in response.content
    assert not Destination.objects.filter(name="x").exists()


def test_edit_keeps_the_secret_when_left_blank_and_never_renders_it(
    client, admin_user, destination
):
    client.force_login(admin_user)
    page = client.get(reverse("destination_edit", args=[destination.pk])).content.decode()
    assert "TOP-SECRET-VALUE" not in page
    assert destination.client_secret_encrypted not in page
    client.post(
        reverse("destination_edit", args=[destination.pk]),
        {
            "name": "prod",
            "base_url": "https://looker.example.com/",
            "client_id": "cid2",
            "timeout": "30",
        },
    )
    destination.refresh_from_db()
    assert destination.client_id == "cid2"
    assert destination.get_client_secret() == "TOP-SECRET-VALUE"


def test_secret_never_appears_on_any_page(client, admin_user, destination, dlq_item, results):
    client.force_login(admin_user)
    for name, args in [
        ("home", []),
        ("destination_list", []),
        ("destination_edit", [destination.pk]),
        ("session_detail", [dlq_item.session_id]),
        ("session_summary_json", [dlq_item.session_id]),
        ("history", []),
    ]:
        body = client.get(reverse(name, args=args)).content.decode()
        assert "TOP-SECRET-VALUE" not in body and destination.client_secret_encrypted not in body


def test_test_connection_shows_the_exact_error(client, admin_user, destination):
    """Nothing listens at this address: the page says so in words (and the secret stays hidden)."""
    destination.base_url = "http://127.0.0.1:9"
    destination.timeout = 3
    destination.save()
    client.force_login(admin_user)
    response = client.post(
        reverse("destination_test", args=[destination.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "failing" in body
    assert "TOP-SECRET-VALUE" not in body
    destination.refresh_from_db()
    assert destination.last_check_ok is False and destination.last_check_message


def test_test_connection_shows_the_looker_version_from_the_emulator(client, admin_user):
    from looker_emulator.testing import running_emulator

    with running_emulator() as emu:
        d = Destination(name="emu", base_url=emu.url, client_id=emu.client_id, timeout=10)
        d.set_client_secret(emu.client_secret)
        d.save()
        client.force_login(admin_user)
        response = client.post(reverse("destination_test", args=[d.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    d.refresh_from_db()
    assert d.last_check_ok is True, d.last_check_message
    assert d.looker_version and d.looker_version in body
    assert "Connected" in body


def test_wrong_secret_says_so(client, admin_user):
    from looker_emulator.testing import running_emulator

    with running_emulator() as emu:
        d = Destination(name="emu", base_url=emu.url, client_id=emu.client_id, timeout=10)
        d.set_client_secret("wrong-secret")
        d.save()
        client.force_login(admin_user)
        client.post(reverse("destination_test", args=[d.pk]))
        page = client.get(reverse("destination_list")).content.decode()
    d.refresh_from_db()
    assert d.last_check_ok is False
    assert "failing" in page
    assert "wrong-secret" not in page


def test_health_follows_the_newest_evidence(client, auditor_user, destination, backup):
    """A later session that worked makes a failed (or missing) test stale, and the reverse."""
    from datetime import timedelta

    from django.utils import timezone

    from restore.models import RestoreSession

    client.force_login(auditor_user)
    assert ">untested<" in client.get(reverse("destination_list")).content.decode()
    destination.last_check_ok = False
    destination.last_check_message = "Connection refused"
    destination.last_checked_at = timezone.now() - timedelta(hours=1)
    destination.save()
    page = client.get(reverse("home")).content.decode()
    assert ">failing<" in page
    run = RestoreSession.objects.create(
        backup=backup,
        destination=destination,
        status=RestoreSession.Status.COMPLETED,
        finished_at=timezone.now(),
        updated=1,
    )
    for url in (reverse("home"), reverse("destination_list")):
        page = client.get(url).content.decode()
        assert 'class="badge ok"' in page and ">failing<" not in page, url
    assert (
        f"Session {run.pk} worked with it"
        in client.get(reverse("destination_list")).content.decode()
    )
