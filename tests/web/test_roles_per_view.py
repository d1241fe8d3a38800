"""Every page and action, for every role, through the real test client: allowed or 403."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from restore import roles

VIEW, RUN, RETRY, BACKUPS, DESTS = (
    roles.VIEW,
    roles.RUN,
    roles.RETRY_DLQ,
    roles.MANAGE_BACKUPS,
    roles.MANAGE_DESTINATIONS,
)

# (url name, kwargs names taken from fixtures, method, permission needed)
ROUTES = [
    ("home", {}, "get", VIEW),
    ("home_running", {}, "get", VIEW),
    ("backup_list", {}, "get", VIEW),
    ("backup_detail", {"backup_id": "backup"}, "get", VIEW),
    ("backup_status", {"backup_id": "backup"}, "get", VIEW),
    ("backup_upload", {}, "post", BACKUPS),
    ("backup_register", {}, "post", BACKUPS),
    ("backup_verify", {"backup_id": "backup"}, "post", BACKUPS),
    ("destination_list", {}, "get", VIEW),
    ("destination_add", {}, "get", DESTS),
    ("destination_add", {}, "post", DESTS),
    ("destination_edit", {"destination_id": "destination"}, "get", DESTS),
    ("destination_edit", {"destination_id": "destination"}, "post", DESTS),
    ("destination_test", {"destination_id": "destination"}, "post", DESTS),
    ("restore_new", {}, "get", RUN),
    ("restore_new", {}, "post", RUN),
    ("restore_count", {}, "get", RUN),
    ("session_detail", {"session_id": "session"}, "get", VIEW),
    ("session_progress", {"session_id": "session"}, "get", VIEW),
    ("session_cancel", {"session_id": "session"}, "post", RUN),
    ("session_resume", {"session_id": "session"}, "post", RUN),
    ("session_rollback", {"session_id": "session"}, "post", RUN),
    ("session_rollback_preview", {"session_id": "session"}, "post", RUN),
    ("session_summary_json", {"session_id": "session"}, "get", VIEW),
    ("session_summary_csv", {"session_id": "session"}, "get", VIEW),
    ("session_results_csv", {"session_id": "session"}, "get", VIEW),
    ("dlq_list", {}, "get", VIEW),
    ("dlq_triage", {}, "get", VIEW),
    ("dlq_triage_action", {}, "post", RETRY),
    ("dlq_bulk", {}, "post", RETRY),
    ("dlq_item", {"item_id": "dlq_item"}, "get", VIEW),
    ("dlq_row", {"item_id": "dlq_item"}, "get", VIEW),
    ("dlq_retry_one", {"item_id": "dlq_item"}, "post", RETRY),
    ("dlq_resolve_one", {"item_id": "dlq_item"}, "post", RETRY),
    ("history", {}, "get", VIEW),
    ("mappings", {}, "get", VIEW),
]

USERS = {
    "admin_user": roles.ROLE_PERMISSIONS[roles.RESTORE_ADMIN],
    "support_user": roles.ROLE_PERMISSIONS[roles.SUPPORT],
    "auditor_user": roles.ROLE_PERMISSIONS[roles.AUDITOR],
    "no_role_user": (),
}


def action_shown(html: str, label: str) -> bool:
    """A button or button-styled link (or an edit link) whose text starts with `label`."""
    pattern = rf"(<button[^>]*>|<a [^>]*>)\s*{re.escape(label)}"
    return re.search(pattern, html) is not None and (label != "Edit" or "/edit/" in html)


def url_for(request, name: str, kwargs: dict) -> str:
    return reverse(name, kwargs={k: request.getfixturevalue(v).pk for k, v in kwargs.items()})


@pytest.mark.parametrize("user_fixture", list(USERS))
@pytest.mark.parametrize(("name", "kwargs", "method", "perm"), ROUTES)
def test_each_role_is_allowed_or_refused(request, client, user_fixture, name, kwargs, method, perm):
    request.getfixturevalue("dlq_item")  # every object exists for every route
    client.force_login(request.getfixturevalue(user_fixture))
    url = url_for(request, name, kwargs)
    response = getattr(client, method)(url)
    if perm in USERS[user_fixture]:
        assert response.status_code != 403, f"{user_fixture} refused {method} {url}"
        assert response.status_code < 500, f"{method} {url} crashed: {response.status_code}"
    else:
        assert response.status_code == 403, f"{user_fixture} allowed {method} {url}"
        assert b"not allowed" in response.content


@pytest.mark.parametrize(("name", "kwargs", "method", "perm"), ROUTES)
def test_anonymous_is_sent_to_login(request, client, name, kwargs, method, perm):
    request.getfixturevalue("dlq_item")
    response = getattr(client, method)(url_for(request, name, kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_auditor_sees_no_action_buttons(client, auditor_user, dlq_item, results, backup):
    client.force_login(auditor_user)
    pages = {
        reverse("home"): ["New restore"],
        reverse("backup_list"): ["Upload", "Register"],
        reverse("backup_detail", args=[backup.pk]): ["Restore from this backup", "Verify again"],
        reverse("backup_item", args=[backup.pk, "dashboard", "101"]): ["Restore this"],
        reverse("destination_list"): ["Add destination", "Test connection", "Edit"],
        reverse("session_detail", args=[dlq_item.session_id]): ["Roll back", "Resume", "Cancel"],
        reverse("dlq_list"): ["Retry", "Dismiss selected"],
        reverse("dlq_item", args=[dlq_item.pk]): ["Retry", "Dismiss"],
        reverse("dlq_triage"): ["Retry", "Dismiss group"],
    }
    for url, labels in pages.items():
        html = client.get(url).content.decode()
        for label in labels:
            assert not action_shown(html, label), f"{label!r} shown on {url}"


def test_support_sees_retry_but_not_restore_buttons(client, support_user, dlq_item):
    client.force_login(support_user)
    html = client.get(reverse("dlq_list")).content.decode()
    assert ">Retry</button>" in html
    html = client.get(reverse("session_detail", args=[dlq_item.session_id])).content.decode()
    assert "Roll back this restore" not in html
    assert "New restore" not in client.get(reverse("home")).content.decode()


def test_admin_sees_action_buttons(client, admin_user, dlq_item, results):
    client.force_login(admin_user)
    html = client.get(reverse("session_detail", args=[dlq_item.session_id])).content.decode()
    assert "Roll back this restore" in html
    assert "Test connection" in client.get(reverse("destination_list")).content.decode()
    assert "New restore" in client.get(reverse("home")).content.decode()


def test_only_restore_admins_see_client_ids_and_backup_paths(
    client, admin_user, support_user, auditor_user, destination, backup
):
    for user, sees in ((admin_user, True), (support_user, False), (auditor_user, False)):
        client.force_login(user)
        destinations = client.get(reverse("destination_list")).content.decode()
        detail = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
        assert (f"<code>{destination.client_id}</code>" in destinations) is sees, user
        assert (backup.path in detail) is sees, user
