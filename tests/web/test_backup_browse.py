"""Browsing a backup through the reader: counts, filters, pagination, item page, dependencies."""

from __future__ import annotations

import shutil
import sqlite3

import msgspec
import pytest
from django.conf import settings
from django.urls import reverse

from restore.models import Backup
from tests.web.conftest import XSS

pytestmark = pytest.mark.django_db


def test_items_are_listed_and_filtered(client, auditor_user, backup):
    client.force_login(auditor_user)
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert "An SDK dashboard" in page and "Sales board" in page
    partial = client.get(
        reverse("backup_detail", args=[backup.pk]),
        {"content_type": "dashboard"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "<html" not in partial
    assert "An SDK dashboard" in partial and "Sales board" not in partial
    page = client.get(
        reverse("backup_detail", args=[backup.pk]), {"search": "emea"}
    ).content.decode()
    assert "EMEA activity" in page and "An SDK dashboard</a>" not in page


def test_item_page_shows_json_dependencies_and_restore_link(client, admin_user, backup):
    client.force_login(admin_user)
    page = client.get(reverse("backup_item", args=[backup.pk, "dashboard", "101"])).content.decode()
    assert "&quot;title&quot;: &quot;An SDK dashboard&quot;" in page
    assert reverse("backup_item", args=[backup.pk, "folder", "12"]) in page  # its folder
    assert "Restore this dashboard" in page
    assert "types=dashboard&amp;ids=101&amp;with_dependencies=on" in page


def test_composite_ids_are_accepted(client, auditor_user, backup):
    client.force_login(auditor_user)
    response = client.get(reverse("backup_item", args=[backup.pk, "dashboard", "dashboard::101"]))
    assert response.status_code == 200


def test_missing_item_is_a_plain_404(client, auditor_user, backup):
    client.force_login(auditor_user)
    response = client.get(reverse("backup_item", args=[backup.pk, "dashboard", "999"]))
    assert response.status_code == 404
    assert b"No dashboard 999 in this backup" in response.content


def test_unreadable_backup_file_says_so(client, auditor_user, backup):
    backup.path = str(settings.DATA_DIR / "gone.db")
    backup.save()
    client.force_login(auditor_user)
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert "could not be read" in page


def test_script_titles_from_a_backup_are_escaped(client, auditor_user, fixture_backup_path):
    path = settings.DATA_DIR / "xss.db"
    shutil.copy(fixture_backup_path, path)
    db = sqlite3.connect(path)
    blob = db.execute(
        "SELECT content_data FROM content_items WHERE id='101' AND content_type=1"
    ).fetchone()[0]
    content = msgspec.msgpack.decode(blob)
    content["title"] = XSS
    db.execute(
        "UPDATE content_items SET name=?, content_data=? WHERE id='101' AND content_type=1",
        (XSS, msgspec.msgpack.encode(content)),
    )
    db.commit()
    db.close()
    backup = Backup.objects.create(
        name=XSS, path=str(path), status=Backup.Status.VERIFIED, item_counts={"dashboard": 2}
    )
    client.force_login(auditor_user)
    for url in (
        reverse("backup_list"),
        reverse("backup_detail", args=[backup.pk]),
        reverse("backup_item", args=[backup.pk, "dashboard", "101"]),
    ):
        html = client.get(url).content.decode()
        assert XSS not in html, url
        assert "&lt;script&gt;" in html, url


def test_item_page_names_what_it_shows_by_id(client, admin_user, backup):
    client.force_login(admin_user)
    page = client.get(reverse("backup_item", args=[backup.pk, "dashboard", "101"])).content.decode()
    folder = reverse("backup_item", args=[backup.pk, "folder", "12"])
    assert f'<dt>Folder</dt><dd><a href="{folder}">Sales</a> <span class="muted">#12</span>' in page
    assert "<dt>Owner</dt><dd><a " in page and '<span class="muted">#7</span>' in page
    assert "parent folder: folder" in page and "Shared</a>" in page
    assert "via folder.parent_id" not in page


def test_the_selection_is_named_with_its_dependencies(client, admin_user, backup, destination):
    client.force_login(admin_user)
    query = {
        "backup": backup.pk,
        "destination": destination.pk,
        "types": "dashboard",
        "ids": "101",
        "with_dependencies": "on",
        "workers": 8,
        "max_retries": 5,
        "checkpoint_interval": 100,
    }
    html = client.get(reverse("restore_count"), query).content.decode()
    assert "1</strong> item selected: dashboard <strong>An SDK dashboard</strong>" in html
    assert "plus the folders, owners and looks it needs" in html


def test_the_owner_filter_offers_people_by_name_and_email(client, auditor_user, backup):
    client.force_login(auditor_user)
    url = reverse("backup_detail", args=[backup.pk])
    page = client.get(url).content.decode()
    assert 'list="backup-owners"' in page and 'placeholder="type a name or email"' in page
    # Search-as-you-type over the name and email; the ID is secondary.
    assert '<option value="lloyd@example.com">Lloyd Llookicorn · #7</option>' in page
    assert '<option value="zach@example.com">Zachary Zoomify · #8</option>' in page
    # What a pick puts in the field filters the items: Lloyd's, not Zachary's.
    html = client.get(url, {"owner": "lloyd@example.com"}, HTTP_HX_REQUEST="true").content.decode()
    assert "An SDK dashboard" in html and "Sales board" in html
    assert "EMEA activity" not in html and "Brand counts" not in html
    # The list names owners and folders, their IDs beside.
    assert 'Lloyd Llookicorn <span class="muted">#7</span>' in html
    assert 'Sales <span class="muted">#12</span>' in html
    users = client.get(url, {"content_type": "user"}, HTTP_HX_REQUEST="true").content.decode()
    assert ">Lloyd Llookicorn</a>" in users and "Untitled 7" not in users


def test_item_page_says_what_it_is_before_its_json(client, admin_user, backup):
    """A sentence first (tiles, filters, folder, owner by name); the JSON folded below it."""
    from restore.engine.backup.reader import open_backup

    with open_backup(backup.path) as reader:
        content = reader.get_item("dashboard", "101").content
    tiles, filters = (
        len(content.get("dashboard_elements") or []),
        len(content.get("dashboard_filters") or []),
    )
    client.force_login(admin_user)
    page = client.get(reverse("backup_item", args=[backup.pk, "dashboard", "101"])).content.decode()
    summary = page[page.index('id="item-summary">') :].split("</p>")[0]
    assert f"{tiles} tile" in summary if tiles else "tile" not in summary
    assert f"{filters} filter" in summary if filters else "filter" not in summary
    assert "in folder Sales" in summary and "owned by " in summary and "#7" not in summary
    assert page.index('id="item-summary"') < page.index('<details id="stored-content">')
    assert '<details id="stored-content"><summary>' in page


def test_the_list_says_how_many_deleted_items_it_hides(client, auditor_user, tmp_path):
    """The backup's counts include items that were in the trash; the list, by default, does not:
    it says how many it leaves out, so the two numbers add up."""
    from looker_emulator.backup import BackupWriter
    from restore.models import Backup

    path = tmp_path / "with-trash.db"
    with BackupWriter(path, source="https://elsewhere.example.com") as out:
        for n in range(1, 6):
            deleted = "2026-01-02T03:04:05Z" if n > 3 else None
            out.add("look", {"id": str(n), "title": f"look {n}"}, deleted_at=deleted)
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    client.force_login(auditor_user)
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert "2 more items were deleted (in the trash) when the backup was taken" in page
    assert "Rows 1–3 of 3" in page
    page = client.get(reverse("backup_detail", args=[backup.pk]), {"include_deleted": "on"})
    html = page.content.decode()
    assert 'id="hidden-deleted"' not in html and "Rows 1–5 of 5" in html
