"""User strings (titles from backups included) are escaped; errors are plain words, never traces."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.web.conftest import XSS

pytestmark = pytest.mark.django_db


def test_script_titles_are_escaped_everywhere(
    client, admin_user, dlq_item, results, running_session
):
    client.force_login(admin_user)
    urls = [
        reverse("dlq_list"),
        reverse("dlq_item", args=[dlq_item.pk]),
        reverse("dlq_triage"),
        reverse("session_detail", args=[dlq_item.session_id]),
        reverse("session_progress", args=[running_session.pk]),
        reverse("session_detail", args=[running_session.pk]),
    ]
    for url in urls:
        html = client.get(url).content.decode()
        assert XSS not in html, url
    assert "&lt;script&gt;" in client.get(reverse("dlq_list")).content.decode()


def test_unknown_page_is_a_plain_404(client, auditor_user):
    client.force_login(auditor_user)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert b"Traceback" not in response.content


def test_missing_session_is_a_plain_404(client, auditor_user):
    client.force_login(auditor_user)
    response = client.get(reverse("session_detail", args=[999999]))
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_403_page_says_why_in_words(client, auditor_user):
    client.force_login(auditor_user)
    response = client.get(reverse("restore_new"))
    assert response.status_code == 403
    assert b"You are not allowed to do this" in response.content


def test_forms_carry_csrf_tokens(client, admin_user, dlq_item, destination):
    client.force_login(admin_user)
    for url in (reverse("backup_list"), reverse("destination_add"), reverse("dlq_list")):
        assert b"csrfmiddlewaretoken" in client.get(url).content


def test_post_without_csrf_token_is_refused(admin_user, destination):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(reverse("destination_test", args=[destination.pk]))
    assert response.status_code == 403
    assert b"form expired" in response.content.lower()


def test_server_error_page_has_no_stack_trace(client, admin_user, settings):
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong" in html and "Traceback" not in html
