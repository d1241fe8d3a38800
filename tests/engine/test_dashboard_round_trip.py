"""Dashboards tile for tile: filter listeners and slugs survive a move into an empty instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import client_for, make_destination

from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.engine.core.config import RestoreConfig
from restore.engine.item.children import listeners
from restore.engine.run.session import start_session
from restore.models import Backup, RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURE = Path(__file__).resolve().parents[3] / "shared/fixtures/lookervault-0.1.0-parallel.db"


def test_filter_listeners_and_slugs_survive_a_migration(recorder):
    backup = Backup.register(FIXTURE)
    assert backup.verify(), backup.verification_error
    with running_emulator() as emu:
        client = client_for(emu, recorder)
        shared = client.get("/folders/search", {"is_shared_root": "true"})[0]["id"]
        taken = client.post(
            "/dashboards", {"title": "Holds a slug", "slug": "eMeAaCtV", "folder_id": shared}
        )
        dest = make_destination(emu)
        session = start_session(backup, dest, RestoreConfig())
        summary = run_session(session.pk, client=client_for(emu, recorder))
        assert summary["failed"] == 0, summary

        row = RestoreItemResult.objects.get(session=session, content_type=1, source_id="101")
        dash = client.get(f"/dashboards/{row.destination_id}")
        assert dash["slug"] == "aSdKdAsH"  # old links keep working
        bound = [listeners(e) for e in dash["dashboard_elements"] if listeners(e)]
        assert bound == [[("thelook", "products", None, "Brand Match", "products.brand")]]

        other = RestoreItemResult.objects.get(session=session, content_type=1, source_id="102")
        assert "slug eMeAaCtV is held by another dashboard" in other.message
        assert client.get(f"/dashboards/{other.destination_id}")["slug"] != taken["slug"]

        before = writes(emu)
        again = run_session(start_session(backup, dest, RestoreConfig()).pk, client=client_for(emu))
        assert again["created"] == 0 and again["updated"] == 0, again
        assert writes(emu) == before  # tiles pair with the backup's stably: nothing to write


def writes(emu) -> int:
    ops = emu.stats()["by_operation"]
    return sum(
        n
        for op, n in ops.items()
        if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "login" not in op
    )


def test_a_merged_results_tile_without_a_source_is_left_out_and_named(tmp_path, recorder):
    from looker_emulator.backup import BackupWriter

    path = tmp_path / "merge.db"
    with BackupWriter(path) as writer:
        writer.add("folder", {"id": "1", "name": "Shared", "is_shared_root": True})
        writer.add(
            "dashboard",
            {
                "id": "5",
                "title": "Blended",
                "folder_id": "1",
                "dashboard_elements": [
                    {"id": "50", "type": "text", "title_text": "Notes", "body_text": "hello"},
                    {"id": "51", "type": "vis", "title": "Blend", "merge_result_id": "77"},
                ],
                "dashboard_filters": [],
                "dashboard_layouts": [],
            },
        )
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    with running_emulator() as emu:
        dest = make_destination(emu)
        session = start_session(backup, dest, RestoreConfig())
        run_session(session.pk, client=client_for(emu, recorder))
        row = RestoreItemResult.objects.get(session=session, content_type=1, source_id="5")
        # the rest of the dashboard is restored; the tile is named, with what would add it
        assert row.action == "blocked", row.message
        assert "tile 51 ('Blend') left out: merge query 77" in row.message
        assert "name the source instance to read it" in row.message
        tiles = client_for(emu).get(f"/dashboards/{row.destination_id}")["dashboard_elements"]
        assert [t.get("title_text") for t in tiles] == ["Notes"]
        assert not any(t.get("merge_result_id") for t in tiles)
