"""A plan's item diff reads like Terraform's plan, through the real result page: a moved dashboard
is `~ folder "A" → "B"` by name, a new one a summary (`+ dashboard "X" in folder "Y"`,
`+ 9 tiles, 1 filter`), never tile positions one by one; a plan writes nothing, so it offers no
"saved for rollback"."""

from __future__ import annotations

import html
import re

import pytest
from conftest import client_for, make_destination, quick, run
from django.urls import reverse

from restore.engine.backup.reader import open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)

CT = ContentType


def plan(backup, dest, emu, dashboard_id: str, **config):
    selection = {"content_types": [int(CT.DASHBOARD)], "ids": [dashboard_id]}
    session = start_session(backup, dest, quick(dry_run=True, selection=selection, **config))
    assert run(session, client_for(emu))["failed"] == 0
    session.refresh_from_db()
    return session


def item_page(client, session, dashboard_id: str) -> str:
    row = session.results.get(content_type=int(CT.DASHBOARD), source_id=dashboard_id)
    page = client.get(reverse("result_detail", args=[session.pk, row.pk])).content.decode()
    return html.unescape(re.sub(r"<[^>]+>", "", page))  # the text a person reads


def test_plan_diffs_read_like_terraform(source_emu, empty_emu, backup_factory, admin_client):
    backup = backup_factory(source_emu)
    with open_backup(backup.path) as reader:
        folders = {f.id: f.content["name"] for f in reader.iter_items({"types": ["folder"]})}
        dashboards = [d.content for d in reader.iter_items({"types": ["dashboard"]})]
    moved = next(d for d in dashboards if str(d.get("folder_id")) in folders)
    was = str(moved["folder_id"])
    other = next(f for f, name in folders.items() if f != was and name != folders[was])
    looker = client_for(source_emu)
    looker.patch(f"/dashboards/{moved['id']}", {"folder_id": other})

    same = plan(backup, make_destination(source_emu), source_emu, str(moved["id"]))
    page = item_page(admin_client, same, str(moved["id"]))
    assert f'~ folder "{folders[other]}" → "{folders[was]}"' in page
    assert "saved for rollback" not in page and "folder id" not in page

    new = next(d for d in dashboards if d.get("dashboard_elements") and d.get("folder_id"))
    fresh = plan(backup, make_destination(empty_emu, "fresh"), empty_emu, str(new["id"]),
                 with_dependencies=True)  # fmt: skip
    page = item_page(admin_client, fresh, str(new["id"]))
    tiles = len(new["dashboard_elements"])
    filters = len(new.get("dashboard_filters") or [])
    assert f'+ dashboard "{new["title"]}" in folder "{folders[str(new["folder_id"])]}"' in page
    summary = f"+ {tiles} tile{'s' if tiles != 1 else ''}"
    if filters:
        summary += f", {filters} filter{'s' if filters != 1 else ''}"
    assert summary in page
    assert "position" not in page and "(empty) →" not in page
    assert "saved for rollback" not in page
