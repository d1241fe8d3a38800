"""A dashboard is never left half made: a tile that cannot be created leaves the rest of the
dashboard restored (other tiles, filters, every existing tile's layout position); the item ends
failed naming the tile, and a retry adds only that tile."""

from __future__ import annotations

import pytest
from conftest import client_for, make_destination, quick, run

from looker_emulator.backup import BackupWriter
from looker_emulator.testing import running_emulator
from restore.engine.kinds.retry import start_retries
from restore.engine.kinds.rollback import start_rollback, steps_by_op
from restore.engine.limits import retries as retry
from restore.engine.run.session import start_session
from restore.models import Backup, DeadLetterItem, RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)


def tile(tid: str, title: str, view: str) -> dict:
    query = {"id": f"9{tid}", "model": "ecommerce", "view": view, "fields": [f"{view}.id"]}
    return {"id": tid, "type": "vis", "title": title, "query_id": query["id"], "query": query}


def component(cid: str, tid: str, row: int) -> dict:
    return {
        "id": cid,
        "dashboard_element_id": tid,
        "row": row,
        "column": 0,
        "width": 8,
        "height": 4,
    }


def backup_with_an_uncreatable_tile(tmp_path) -> Backup:
    path = tmp_path / "partial.db"
    with BackupWriter(path) as writer:
        writer.add("folder", {"id": "1", "name": "Shared", "is_shared_root": True})
        writer.add(
            "dashboard",
            {
                "id": "5",
                "title": "Sales",
                "folder_id": "1",
                "dashboard_elements": [
                    tile("50", "Orders", "orders"),
                    tile("51", "Returns", "returns"),  # no such explore in the destination
                    tile("52", "Customers", "customers"),
                ],
                "dashboard_filters": [
                    {"id": "7", "name": "date", "title": "Date", "type": "date_filter"}
                ],
                "dashboard_layouts": [
                    {
                        "id": "3",
                        "active": True,
                        "dashboard_layout_components": [
                            component("30", "50", 0),
                            component("31", "51", 4),
                            component("32", "52", 8),
                        ],
                    }
                ],
            },
        )
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    return backup


def test_an_uncreatable_tile_leaves_the_rest_restored_and_a_retry_adds_only_it(tmp_path):
    backup = backup_with_an_uncreatable_tile(tmp_path)
    with running_emulator() as emu:
        dest = make_destination(emu)
        session = start_session(backup, dest, quick())
        run(session, client_for(emu))
        row = RestoreItemResult.objects.get(session=session, content_type=1, source_id="5")
        assert row.action == "failed", row.message
        assert "tile 51 ('Returns') left out" in row.message
        dead = DeadLetterItem.objects.get(session=session, content_id="5")
        assert "tile 51 ('Returns') left out" in dead.error_message
        made = client_for(emu).get(f"/dashboards/{row.destination_id}")
        assert sorted(t["title"] for t in made["dashboard_elements"]) == ["Customers", "Orders"]
        assert [f["name"] for f in made["dashboard_filters"]] == ["date"]
        titles = {str(t["id"]): t["title"] for t in made["dashboard_elements"]}
        rows = {
            titles[str(c["dashboard_element_id"])]: c["row"]
            for c in made["dashboard_layouts"][0]["dashboard_layout_components"]
        }
        assert rows == {"Orders": 0, "Customers": 8}  # positioned as in the backup

        explore = {"id": "ecommerce::returns", "name": "returns", "model_name": "ecommerce"}
        emu.call(lambda e: e.api.state.insert("explores", explore))
        creates = emu.stats()["creates"]
        (retry,) = start_retries([dead.pk])
        run(retry, client_for(emu))
        made = client_for(emu).get(f"/dashboards/{row.destination_id}")
        assert sorted(t["title"] for t in made["dashboard_elements"]) == [
            "Customers",
            "Orders",
            "Returns",
        ]
        added = {k: v - creates.get(k, 0) for k, v in emu.stats()["creates"].items()}
        assert {k: v for k, v in added.items() if v} == {"dashboard_element": 1}, added
        titles = {str(t["id"]): t["title"] for t in made["dashboard_elements"]}
        rows = {
            titles[str(c["dashboard_element_id"])]: c["row"]
            for c in made["dashboard_layouts"][0]["dashboard_layout_components"]
        }
        assert rows == {"Orders": 0, "Returns": 4, "Customers": 8}


def test_a_rollback_deletes_a_dashboard_that_ended_failed_for_one_tile(tmp_path):
    backup = backup_with_an_uncreatable_tile(tmp_path)
    with running_emulator() as emu:
        session = start_session(backup, make_destination(emu), quick())
        run(session, client_for(emu))
        row = RestoreItemResult.objects.get(session=session, content_type=1, source_id="5")
        assert row.action == "failed" and row.destination_id
        session.refresh_from_db()
        run(start_rollback(session), client_for(emu))
        assert client_for(emu).get_or_none(f"/dashboards/{row.destination_id}") is None


@pytest.fixture
def fast_retries():
    retry.set_testing(True, max_wait=0.05)
    yield
    retry.set_testing(False)


def writes(emu) -> list[str]:
    """The writes the emulator carried out since its stats were last reset."""
    return [
        f"{r['method']} {r['route']}"
        for r in emu.stats()["requests"]
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
        and int(r["status"]) < 300
        and not r["route"].endswith("/login")
    ]


def add_the_missing_explore(emu) -> None:
    explore = {"id": "ecommerce::returns", "name": "returns", "model_name": "ecommerce"}
    emu.call(lambda e: e.api.state.insert("explores", explore))


def half_made(emu, tmp_path, **config):
    """A dashboard this session created, short of tile 'Returns': (session, its result row)."""
    backup = backup_with_an_uncreatable_tile(tmp_path)
    session = start_session(backup, make_destination(emu), quick(**config))
    run(session, client_for(emu))
    row = RestoreItemResult.objects.get(session=session, content_type=1, source_id="5")
    assert row.action == "failed" and row.destination_id, row.message
    session.refresh_from_db()
    return session, row


def test_a_rollback_after_a_retry_completed_the_dashboard_deletes_it(tmp_path):
    """Created by the session, completed by a DLQ retry: still the session's creation, so its
    rollback deletes it (never "puts back" the half-made dashboard the session wrote itself)."""
    with running_emulator() as emu:
        session, row = half_made(emu, tmp_path)
        add_the_missing_explore(emu)
        dead = DeadLetterItem.objects.get(session=session, content_id="5")
        (retry_session,) = start_retries([dead.pk])
        run(retry_session, client_for(emu))
        made = client_for(emu).get(f"/dashboards/{row.destination_id}")
        assert len(made["dashboard_elements"]) == 3

        rollback = start_rollback(session)
        assert steps_by_op(rollback) == {"delete": 1, "put_back": 0}
        undo = run(rollback, client_for(emu))
        assert undo["status"] == "completed" and undo["failed"] == 0, undo
        assert client_for(emu).get_or_none(f"/dashboards/{row.destination_id}") is None


def test_a_rollback_after_a_retry_that_failed_again_deletes_the_dashboard(tmp_path):
    """A retry that fails again on the same tile adds its own writes to the row; the POST that
    created the dashboard stays there, and with it the rollback's delete."""
    with running_emulator() as emu:
        session, row = half_made(emu, tmp_path)
        dead = DeadLetterItem.objects.get(session=session, content_id="5")
        (retry_session,) = start_retries([dead.pk])
        run(retry_session, client_for(emu))
        dead.refresh_from_db()
        assert dead.status == DeadLetterItem.Status.OPEN

        rollback = start_rollback(session)
        assert steps_by_op(rollback) == {"delete": 1, "put_back": 0}
        run(rollback, client_for(emu))
        assert client_for(emu).get_or_none(f"/dashboards/{row.destination_id}") is None


def test_a_rollback_leaves_alone_a_dashboard_the_restore_did_not_write(tmp_path):
    """A second restore, and a DLQ retry of it, find the dashboard as the first left it and write
    nothing to it (its one missing tile is refused again): the user's later edit survives that
    restore's rollback."""
    with running_emulator() as emu:
        first, row = half_made(emu, tmp_path)
        emu.reset()
        second = start_session(first.backup, first.destination, quick())
        run(second, client_for(emu))
        again = RestoreItemResult.objects.get(session=second, content_type=1, source_id="5")
        assert again.action == "failed" and again.destination_id == row.destination_id, (
            again.message
        )
        dead = DeadLetterItem.objects.get(session=second, content_id="5")
        (retry_session,) = start_retries([dead.pk])
        run(retry_session, client_for(emu))
        assert writes(emu) == []
        client_for(emu).patch(f"/dashboards/{row.destination_id}", {"title": "Sales (mine)"})

        second.refresh_from_db()
        rollback = start_rollback(second)
        assert steps_by_op(rollback) == {"delete": 0, "put_back": 0}
        run(rollback, client_for(emu))
        made = client_for(emu).get(f"/dashboards/{row.destination_id}")
        assert made["title"] == "Sales (mine)"


def test_a_transient_tile_failure_leaves_a_row_the_rollback_undoes(tmp_path, fast_retries):
    """Every tile POST answers 503 until the retries give up: the dashboard the session created
    keeps its destination ID and its POST on the failed row, and the rollback deletes it."""
    with running_emulator() as emu:
        emu.set_faults(
            add_rules=[
                {"method": "POST", "path": "*/dashboard_elements", "status": 503, "count": None}
            ]
        )
        add_the_missing_explore(emu)
        backup = backup_with_an_uncreatable_tile(tmp_path)
        session = start_session(backup, make_destination(emu), quick(max_retries=1))
        run(session, client_for(emu))
        row = RestoreItemResult.objects.get(session=session, content_type=1, source_id="5")
        assert row.action == "failed" and row.destination_id, row.message
        emu.set_faults(clear=True)

        session.refresh_from_db()
        rollback = start_rollback(session)
        assert steps_by_op(rollback) == {"delete": 1, "put_back": 0}
        run(rollback, client_for(emu))
        assert client_for(emu).get_or_none(f"/dashboards/{row.destination_id}") is None


def test_a_transient_tile_failure_keeps_the_state_before_the_first_attempt(tmp_path, fast_retries):
    """An existing dashboard: the first attempt puts its title back, then its tiles fail until
    the retries give up. The rollback puts back the title from before the first attempt, not
    the one a later attempt found (the restore's own)."""
    with running_emulator() as emu:
        first, row = half_made(emu, tmp_path)
        client_for(emu).patch(f"/dashboards/{row.destination_id}", {"title": "Sales (mine)"})
        emu.set_faults(
            add_rules=[
                {"method": "POST", "path": "*/dashboard_elements", "status": 503, "count": None}
            ]
        )
        second = start_session(first.backup, first.destination, quick(max_retries=1))
        run(second, client_for(emu))
        again = RestoreItemResult.objects.get(session=second, content_type=1, source_id="5")
        assert again.action == "failed" and again.destination_id == row.destination_id
        emu.set_faults(clear=True)
        assert client_for(emu).get(f"/dashboards/{row.destination_id}")["title"] == "Sales"

        second.refresh_from_db()
        rollback = start_rollback(second)
        assert steps_by_op(rollback) == {"delete": 0, "put_back": 1}
        run(rollback, client_for(emu))
        assert client_for(emu).get(f"/dashboards/{row.destination_id}")["title"] == "Sales (mine)"
