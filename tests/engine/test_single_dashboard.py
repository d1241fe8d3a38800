"""One dashboard of 25 tiles, 3 filters and a layout: restored alone, with and without its dependencies,
through `manage.py restore single ... --json`, then rolled back with `manage.py restore rollback`."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_backup, make_destination
from django.core.management import CommandError, call_command

from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup

pytestmark = pytest.mark.django_db(transaction=True)


def build_dashboard(client) -> str:
    """A folder chain, three looks and a 25-tile dashboard with filters and a laid-out grid."""
    shared = next(f for f in client.get("/folders") if f.get("is_shared_root"))
    a = client.post("/folders", {"name": "Ops", "parent_id": shared["id"]})
    b = client.post("/folders", {"name": "Weekly", "parent_id": a["id"]})
    owner = client.post("/users", {"first_name": "Ada", "last_name": "Owner"})
    client.post(f"/users/{owner['id']}/credentials_email", {"email": "ada.owner@example.com"})
    query = {"model": "thelook", "view": "order_items", "fields": ["order_items.count"]}
    looks = [
        client.post(
            "/looks",
            {
                "title": f"Look {i}",
                "folder_id": b["id"],
                "query_id": client.post("/queries", {**query, "limit": str(10 + i)})["id"],
            },
        )
        for i in range(3)
    ]
    dash = client.post("/dashboards", {"title": "Weekly ops", "folder_id": b["id"]})
    client.patch(f"/dashboards/{dash['id']}", {"user_id": owner["id"], "description": "25 tiles"})
    for i in range(3):
        client.post(
            "/dashboard_filters",
            {
                "dashboard_id": dash["id"],
                "name": f"f{i}",
                "title": f"Filter {i}",
                "type": "field_filter",
                "model": "thelook",
                "explore": "order_items",
                "dimension": "order_items.id",
            },
        )
    for i in range(25):
        body = {"dashboard_id": dash["id"], "title": f"Tile {i}"}
        if i % 5 == 0:
            body["look_id"] = looks[i % 3]["id"]
        elif i % 2:
            body["query_id"] = client.post("/queries", {**query, "limit": str(i)})["id"]
        else:
            body.update(type="text", title_text=f"Note {i}", body_text="text " * i)
        client.post("/dashboard_elements", body)
    layout = client.get(f"/dashboards/{dash['id']}/dashboard_layouts")[0]
    for n, comp in enumerate(layout["dashboard_layout_components"]):
        client.patch(
            f"/dashboard_layout_components/{comp['id']}",
            {"row": (n // 4) * 6, "column": (n % 4) * 6, "width": 6, "height": 6},
        )
    return str(dash["id"])


def restore_cli(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.suppress(CommandError):  # a non-zero exit; the JSON summary came first
        call_command("restore", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def dashboard_state(client, dash_id: str) -> dict:
    d = client.get(f"/dashboards/{dash_id}")
    return {
        "title": d["title"],
        "description": d["description"],
        "folder_id": d["folder_id"],
        "filters": sorted((f["name"], f["title"]) for f in d["dashboard_filters"]),
        "tiles": sorted(
            (e["title"], e["look_id"] or "", e["type"]) for e in d["dashboard_elements"]
        ),
        "grid": sorted(
            (c["row"], c["column"], c["width"], c["height"])
            for lay in d["dashboard_layouts"]
            for c in lay["dashboard_layout_components"]
        ),
    }


def assert_matches_backup(backup, client, dest, dash_id: str) -> None:
    with open_backup(backup.path) as reader:
        sel = Selection(content_types=["dashboard"], ids=[dash_id])
        result = compare_backup(reader, client, mapping_of(dest), same=True, selection=sel)
    assert result.diffs == [], "\n".join(result.diffs[:20])
    assert result.compared > 300


def test_single_dashboard_with_dependencies_present_then_rollback(tmp_path, recorder):
    with running_emulator(items=40, seed=4) as emu:
        client = client_for(emu)
        dash_id = build_dashboard(client)
        backup = make_backup(emu, tmp_path / "one.db")
        dest = make_destination(emu)
        d = client.get(f"/dashboards/{dash_id}")
        for e in d["dashboard_elements"][:6]:
            client.delete(f"/dashboard_elements/{e['id']}")
        client.delete(f"/dashboard_filters/{d['dashboard_filters'][0]['id']}")
        client.patch(f"/dashboards/{dash_id}", {"title": "Broken", "deleted": True})
        comp = d["dashboard_layouts"][0]["dashboard_layout_components"][-1]
        client.patch(f"/dashboard_layout_components/{comp['id']}", {"row": 90})
        wrecked = dashboard_state(client, dash_id)

        summary = restore_cli(
            "single", "dashboard", dash_id, "--backup", backup.path, "--destination", dest.name
        )
        assert summary["updated"] == 1 and summary["failed"] == 0, summary
        assert summary["by_type"]["dashboard"]["updated"] == 1
        assert_matches_backup(backup, client, dest, dash_id)

        undo = restore_cli("rollback", str(summary["session_id"]))
        assert undo["failed"] == 0, undo
        assert dashboard_state(client, dash_id) == wrecked


def test_single_dashboard_without_dependencies_needs_them(tmp_path, recorder):
    with running_emulator(items=40, seed=4) as src, running_emulator() as empty:
        dash_id = build_dashboard(client_for(src))
        backup = make_backup(src, tmp_path / "one.db")
        dest = make_destination(empty, "empty")
        before = empty.stats()["state_counts"]

        blocked = restore_cli(
            "single", "dashboard", dash_id, "--backup", backup.path, "--destination", "empty"
        )
        assert blocked["failed"] == 1 and blocked["created"] == 0, blocked
        assert empty.stats()["creates"] == {}

        summary = restore_cli(
            "single",
            "dashboard",
            dash_id,
            "--backup",
            backup.path,
            "--destination",
            "empty",
            "--with-dependencies",
        )
        assert summary["failed"] == 0, summary
        by_type = summary["by_type"]
        assert by_type["dashboard"]["created"] == 1
        assert by_type["folder"]["created"] == 2  # Ops, then Weekly
        assert by_type["look"]["created"] == 3
        assert by_type["user"]["created"] == 1  # the owner, matched by email next time
        with open_backup(backup.path) as reader:
            sel = Selection(content_types=["dashboard"], ids=[dash_id])
            result = compare_backup(
                reader, client_for(empty), mapping_of(dest), same=False, selection=sel
            )
        assert result.diffs == [], "\n".join(result.diffs[:20])

        undo = restore_cli("rollback", str(summary["session_id"]))
        assert undo["failed"] == 0, undo
        after = empty.stats()["state_counts"]
        for table in ("dashboards", "looks", "users", "dashboard_elements"):
            assert after.get(table, 0) == before.get(table, 0), table
        # Looker deletes a user's personal folder with the user: every folder the restore made
        # (the owner's personal one included) is gone.
        assert after["folders"] == before["folders"]
        names = {f["name"] for f in client_for(empty).get("/folders")}
        assert not names & {"Ops", "Weekly"}
