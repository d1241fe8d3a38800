"""Crafted backup IDs (a newline, a question mark, markup) never break a page: the backup's item
list, the item page and a plan of it answer 200 and link to the item."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from looker_emulator.backup import BackupWriter
from restore.engine.core.content_types import ContentType
from restore.models import Backup, RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db

CRAFTED = ["7\n8", "10?x=1#y", "11\r\n<b>"]


@pytest.fixture
def crafted_backup(tmp_path) -> Backup:
    path = tmp_path / "crafted.db"
    with BackupWriter(path, source="https://elsewhere.example.com") as out:
        for n, item_id in enumerate(CRAFTED):
            out.add("group", {"id": item_id, "name": f"crafted {n}"})
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    return backup


def test_crafted_ids_break_no_page(client, admin_user, crafted_backup, destination):
    client.force_login(admin_user)
    listing = client.get(reverse("backup_detail", args=[crafted_backup.pk]), {"type": "group"})
    assert listing.status_code == 200
    for n, item_id in enumerate(CRAFTED):
        url = reverse("backup_item", args=[crafted_backup.pk, "group", item_id])
        assert url in listing.content.decode()
        page = client.get(url)
        assert page.status_code == 200 and f"crafted {n}" in page.content.decode()
    plan = RestoreSession.objects.create(
        backup=crafted_backup,
        destination=destination,
        status="completed",
        dry_run=True,
        config={"dry_run": True, "selection": {"content_types": [int(ContentType.GROUP)]}},
        finished_at=timezone.now(),
    )
    for item_id in CRAFTED:
        RestoreItemResult.objects.create(
            session=plan, content_type=ContentType.GROUP, source_id=item_id, action="created"
        )
    RestoreSession.objects.filter(pk=plan.pk).update(created=len(CRAFTED))
    page = client.get(reverse("session_detail", args=[plan.pk]))
    assert page.status_code == 200 and "Apply this plan" in page.content.decode()
