"""Content in a user's personal folder follows the user to a new instance, without searches.

Looker gives every new user an empty personal folder; the backup's personal folder maps to it, and
since nothing can be in it yet, the looks and dashboards going there skip their title search.
"""

from __future__ import annotations

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_backup, make_destination, quick, run

from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)

SELECTION = {"content_types": ["user", "look", "dashboard"]}


def content_searches(emu) -> int:
    """Title searches for looks and dashboards (a user's email search is still needed)."""
    routes = ("/api/4.0/looks/search", "/api/4.0/dashboards/search")
    return sum(r["count"] for r in emu.stats()["requests"] if r["route"] in routes)


def test_personal_folder_content_lands_in_the_new_users_folder_with_no_search(tmp_path):
    with running_emulator() as src, running_emulator() as empty:
        client = client_for(src)
        user = client.post("/users", {"first_name": "Grace", "last_name": "Hopper"})
        client.post(f"/users/{user['id']}/credentials_email", {"email": "grace@example.com"})
        folder = client.get(f"/users/{user['id']}")["personal_folder_id"]
        fields = {"model": "thelook", "view": "order_items", "fields": ["order_items.count"]}
        query = client.post("/queries", fields)
        client.post("/looks", {"title": "Mine", "folder_id": folder, "query_id": query["id"]})
        client.post("/dashboards", {"title": "My board", "folder_id": folder})
        backup = make_backup(src, tmp_path / "personal.db")
        dest = make_destination(empty, "empty")

        config = quick(selection=SELECTION)
        first = run(start_session(backup, dest, config), client_for(empty))
        assert first["failed"] == 0, first
        assert first["by_type"]["look"]["created"] == first["by_type"]["dashboard"]["created"] == 1
        assert content_searches(empty) == 0  # 4 before: 2 per item

        dest_client = client_for(empty)
        new_user = next(u for u in dest_client.get("/users") if u.get("first_name") == "Grace")
        new_folder = str(new_user["personal_folder_id"])
        assert [x["title"] for x in dest_client.get(f"/folders/{new_folder}/looks")] == ["Mine"]
        assert [x["title"] for x in dest_client.get(f"/folders/{new_folder}/dashboards")] == [
            "My board"
        ]

        again = run(start_session(backup, dest, config), client_for(empty))
        assert again["failed"] == 0 and again["created"] == 0, again
        with open_backup(backup.path) as reader:
            result = compare_backup(
                reader, dest_client, mapping_of(dest), same=False, selection=Selection(**SELECTION)
            )
        assert result.diffs == [], "\n".join(result.diffs[:20])
        assert result.compared > 20  # fields compared
