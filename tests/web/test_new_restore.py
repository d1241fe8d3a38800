"""New restore: defaults, validation, live count, and the explicit confirmation before writing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from restore.models import RestoreSession

pytestmark = pytest.mark.django_db


def form_data(backup, destination, **extra) -> dict:
    data = {
        "backup": backup.pk,
        "destination": destination.pk,
        "workers": 8,
        "rate_limit_per_second": 10,
        "max_retries": 5,
        "checkpoint_interval": 100,
    }
    return data | extra


def test_form_has_sensible_defaults_and_prefill(client, admin_user, backup, destination):
    client.force_login(admin_user)
    page = client.get(
        reverse("restore_new"), {"backup": backup.pk, "types": "dashboard", "ids": "101"}
    ).content.decode()
    assert 'name="workers" value="8"' in page and 'name="max_retries" value="5"' in page
    assert 'value="dashboard" id="id_types_8" checked' in page
    assert 'value="101"' in page


def test_live_count_of_selected_items(client, admin_user, backup, destination):
    client.force_login(admin_user)
    html = client.get(
        reverse("restore_count"), form_data(backup, destination, types="dashboard")
    ).content.decode()
    assert "<strong>2</strong> items selected" in html
    html = client.get(
        reverse("restore_count"), form_data(backup, destination, types="dashboard", ids="101")
    ).content.decode()
    assert "<strong>1</strong> item selected" in html
    html = client.get(
        reverse("restore_count"), form_data(backup, destination, workers=99)
    ).content.decode()
    assert 'class="error"' in html


def test_validation_messages(client, admin_user, backup, destination):
    client.force_login(admin_user)
    response = client.post(
        reverse("restore_new"),
        form_data(
            backup,
            destination,
            workers=0,
            fanout=5,
            updated_after="2026-02-01",
            updated_before="2026-01-01",
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "greater than or equal to 1" in html
    assert "less than or equal to 4" in html
    assert "end date is before the start date" in html


def test_review_names_the_destination_and_count_and_writes_nothing(
    client, admin_user, backup, destination
):
    client.force_login(admin_user)
    response = client.post(
        reverse("restore_new"), form_data(backup, destination, types="dashboard", action="review")
    )
    html = response.content.decode()
    assert "Restore 2 items into prod" in html
    assert 'name="confirm_count" value="2"' in html
    assert not RestoreSession.objects.exists()


def test_start_without_confirmation_writes_nothing(client, admin_user, backup, destination):
    client.force_login(admin_user)
    client.post(
        reverse("restore_new"), form_data(backup, destination, types="dashboard", action="start")
    )
    assert not RestoreSession.objects.exists()


def test_start_with_a_stale_count_asks_again(client, admin_user, backup, destination):
    client.force_login(admin_user)
    response = client.post(
        reverse("restore_new"),
        form_data(
            backup,
            destination,
            types="dashboard",
            action="start",
            confirm="yes",
            confirm_count="7",
            confirm_destination="prod",
        ),
        follow=True,
    )
    assert b"selection changed" in response.content
    assert not RestoreSession.objects.exists()


def test_confirmed_start_records_the_session(client, admin_user, backup, destination):
    client.force_login(admin_user)
    response = client.post(
        reverse("restore_new"),
        form_data(
            backup,
            destination,
            types="dashboard",
            ids="101",
            with_dependencies="on",
            fanout="2",
            action="start",
            confirm="yes",
            confirm_count="1",
            confirm_destination="prod",
        ),
    )
    session = RestoreSession.objects.get()
    assert response["Location"] == reverse("session_detail", args=[session.pk])
    assert session.started_by == admin_user and not session.dry_run
    assert session.config["selection"]["ids"] == ["101"]
    assert session.config["with_dependencies"] is True
    assert session.config["fanout"] == 2
    page = client.get(response["Location"]).content.decode()
    assert "8 × 2 sub-requests" in page
    del session.config["fanout"]  # a session recorded before the option existed
    session.save(update_fields=["config"])
    page = client.get(response["Location"]).content.decode()
    assert "8 × 4 sub-requests" in page  # today's default


def test_plan_records_a_dry_run_session(client, admin_user, backup, destination):
    client.force_login(admin_user)
    client.post(reverse("restore_new"), form_data(backup, destination, action="plan"))
    session = RestoreSession.objects.get()
    assert session.dry_run and session.config["dry_run"] is True


def test_the_form_overrides_the_same_instance_decision(client, admin_user, backup, destination):
    client.force_login(admin_user)
    page = client.get(reverse("restore_new")).content.decode()
    assert "Is the destination the instance the backup came from?" in page
    client.post(
        reverse("restore_new"), form_data(backup, destination, action="plan", instance="other")
    )
    assert RestoreSession.objects.get().options.instance == "other"


def test_advanced_options_are_folded_until_they_need_a_look(
    client, admin_user, backup, destination
):
    client.force_login(admin_user)
    page = client.get(reverse("restore_new"), {"backup": backup.pk}).content.decode()
    assert '<details class="advanced" id="advanced">' in page  # closed
    folded = page[page.index('<details class="advanced"') : page.index("</details>")]
    for name in ("workers", "fanout", "checkpoint_interval", "rate_limit_per_second"):
        assert f'name="{name}"' in folded, name
    assert 'name="skip_if_modified"' not in folded  # what the restore does stays in view
    # A value that is not the default, or an error, opens it.
    page = client.get(reverse("restore_new"), {"backup": backup.pk, "workers": 4}).content.decode()
    assert '<details class="advanced" id="advanced" open>' in page
    data = form_data(backup, destination, workers=0, rate_limit_per_second="")
    page = client.post(reverse("restore_new"), data).content.decode()
    assert '<details class="advanced" id="advanced" open>' in page
    data = form_data(backup, destination, types="dashboard", rate_limit_per_second="", fanout=4)
    page = client.post(reverse("restore_new"), {**data, "search": "zzz"}).content.decode()
    assert '<details class="advanced" id="advanced">' in page  # only a selection error


def test_the_confirm_page_offers_plan_first_then_the_plan_it_found(
    client, admin_user, backup, destination
):
    client.force_login(admin_user)
    data = form_data(backup, destination, types="dashboard", action="review")
    html = client.post(reverse("restore_new"), data).content.decode()
    assert "Run a plan first" not in html
    assert (
        '<button type="submit" name="action" value="plan" class="secondary" formnovalidate>' in html
    )
    assert "Plan first (writes nothing)" in html and 'id="plan-found"' not in html

    # "Plan first" plans exactly this selection.
    client.post(reverse("restore_new"), {**data, "action": "plan"})
    plan = RestoreSession.objects.get(dry_run=True)
    assert plan.config["selection"]["content_types"] == [1]
    plan.status, plan.created, plan.updated = RestoreSession.Status.COMPLETED, 1, 1
    plan.save()
    html = client.post(reverse("restore_new"), data).content.decode()
    assert f'You planned this selection: <a href="/sessions/{plan.pk}/">plan {plan.pk}</a>' in html
    assert "1 to create, 1 to update" in html
    assert f'action="{reverse("session_apply", args=[plan.pk])}"' in html
    assert f"Apply plan {plan.pk}" in html and "Plan again (writes nothing)" in html
    # Another selection's plan is not offered.
    other = {**data, "ids": "101"}
    html = client.post(reverse("restore_new"), other).content.decode()
    assert 'id="plan-found"' not in html


def test_the_owner_and_folder_are_picked_by_name(client, admin_user, backup, destination):
    client.force_login(admin_user)
    page = client.get(reverse("restore_new"), {"backup": backup.pk}).content.decode()
    assert 'list="backup-owners"' in page and 'placeholder="type a name or email"' in page
    assert '<option value="lloyd@example.com">Lloyd Llookicorn · #7</option>' in page
    assert '<option value="12">Sales</option>' in page and 'list="backup-folders"' in page
    # Choosing another backup in the form reloads both lists from it (htmx, on change).
    assert 'hx-get="/restores/pickers/"' in page and 'hx-trigger="change from:#id_backup"' in page
    lists = client.get(reverse("restore_pickers"), {"backup": backup.pk}).content.decode()
    assert "Lloyd Llookicorn · #7" in lists and '<option value="12">Sales</option>' in lists
    empty = client.get(reverse("restore_pickers"), {"backup": ""}).content.decode()
    assert "<option" not in empty and 'id="backup-owners"' in empty
    # A picked owner (their email) selects their items.
    html = client.get(
        reverse("restore_count"), form_data(backup, destination, owner="lloyd@example.com")
    ).content.decode()
    assert "<strong>4</strong> items selected" in html


def test_the_form_names_a_source_instance_read_only(client, admin_user, backup, destination):
    from restore.models import Destination

    source = Destination(name="dev", base_url="https://dev.looker.example", client_id="x")
    source.set_client_secret("s")
    source.save()
    client.force_login(admin_user)
    page = client.get(reverse("restore_new"), {"source": source.pk}).content.decode()
    assert "Source instance (read only)" in page
    assert f'<option value="{source.pk}" selected>dev</option>' in page
    client.post(
        reverse("restore_new"), form_data(backup, destination, action="plan", source=source.pk)
    )
    session = RestoreSession.objects.get()
    assert session.options.source_destination_id == source.pk
    detail = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "https://dev.looker.example · read only" in detail
