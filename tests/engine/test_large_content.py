"""Very large content: a 300-tile dashboard and a look with a ~1 MB vis config restore exactly;
an item the API refuses as too large (413) is reported as such, not retried."""

from __future__ import annotations

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_backup, make_destination, quick, run

from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.errors import ItemTooLargeError
from restore.engine.item.restore import restore_item
from restore.engine.run.session import open_context, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def build(client) -> tuple[str, str]:
    shared = next(f for f in client.get("/folders") if f.get("is_shared_root"))
    folder = client.post("/folders", {"name": "Big", "parent_id": shared["id"]})
    vis = {"type": "looker_grid", "series_labels": {f"s{i}": "x" * 200 for i in range(5000)}}
    query = client.post(
        "/queries",
        {
            "model": "thelook",
            "view": "order_items",
            "fields": ["order_items.count"],
            "vis_config": vis,
        },
    )
    look = client.post(
        "/looks", {"title": "Huge vis", "folder_id": folder["id"], "query_id": query["id"]}
    )
    dash = client.post("/dashboards", {"title": "Wall of tiles", "folder_id": folder["id"]})
    for i in range(300):
        client.post(
            "/dashboard_elements",
            {
                "dashboard_id": dash["id"],
                "type": "text",
                "title_text": f"T{i}",
                "body_text": "b" * (i % 50),
            },
        )
    return str(dash["id"]), str(look["id"])


def test_large_dashboard_and_look_migrate_exactly(tmp_path, recorder):
    with running_emulator(items=10, seed=1) as src, running_emulator() as dst:
        dash_id, look_id = build(client_for(src))
        backup = make_backup(src, tmp_path / "big.db")
        dest = make_destination(dst)
        config = quick(
            with_dependencies=True,
            selection={"content_types": ["dashboard", "look"], "ids": [dash_id, look_id]},
        )
        summary = run(start_session(backup, dest, config), client_for(dst, recorder))
        assert summary["failed"] == 0, summary
        with open_backup(backup.path) as reader:
            result = compare_backup(
                reader,
                client_for(dst),
                mapping_of(dest),
                same=False,
                selection=Selection(content_types=["dashboard", "look"], ids=[dash_id, look_id]),
            )
        assert result.diffs == [], "\n".join(result.diffs[:10])
        assert (
            len(
                client_for(dst).get(f"/dashboards/{mapping_of(dest)[(1, dash_id)]}")[
                    "dashboard_elements"
                ]
            )
            == 300
        )


def test_item_refused_as_too_large_is_reported_not_retried(tmp_path):
    with running_emulator(items=10, seed=1) as src, running_emulator() as dst:
        dash_id, _ = build(client_for(src))
        backup = make_backup(src, tmp_path / "big.db")
        dest = make_destination(dst)
        dst.set_faults(add_rules=[{"method": "POST", "path": "*/looks", "status": 413, "count": 5}])
        session = start_session(backup, dest, quick(with_dependencies=True))
        with open_backup(backup.path) as reader:
            ctx = open_context(session, reader, client_for(dst))
            look = next(reader.iter_items(Selection(content_types=["look"], search="Huge vis")))
            with pytest.raises(ItemTooLargeError, match="too large"):
                restore_item(ctx, look)
        posts = [
            r
            for r in dst.stats()["requests"]
            if r["method"] == "POST" and r["route"].endswith("/looks")
        ]
        assert sum(r["count"] for r in posts) == 1
