"""Roles are groups with permissions; every page needs a login and the right role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from restore import roles

pytestmark = pytest.mark.django_db


def test_migration_creates_the_three_roles_with_their_permissions():
    perms = {
        g.name: {f"restore.{p}" for p in g.permissions.values_list("codename", flat=True)}
        for g in Group.objects.all()
    }
    assert perms == {name: set(codes) for name, codes in roles.ROLE_PERMISSIONS.items()}


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_is_open(client):
    assert client.get(reverse("login")).status_code == 200


@pytest.mark.parametrize("fixture", ["admin_user", "support_user", "auditor_user"])
def test_each_role_sees_home(client, request, fixture):
    client.force_login(request.getfixturevalue(fixture))
    assert client.get(reverse("home")).status_code == 200


def test_user_without_a_role_is_refused(client, no_role_user):
    client.force_login(no_role_user)
    assert client.get(reverse("home")).status_code == 403


def test_login_with_password_works(client, auditor_user):
    response = client.post(reverse("login"), {"username": "audrey", "password": "pw-audrey"})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
