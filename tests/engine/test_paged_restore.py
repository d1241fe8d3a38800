"""A restore's "unchanged" detection reads the destination in pages (`item/paged.py`).

A generated instance is served by the emulator over HTTP, extracted into a backup and restored into
itself through a fresh destination; the emulator's request counts say what the restore read. Only
items found unchanged are answered from pages: a write still starts from the object read alone
(its complete pre-image, which a rollback puts back), and identity is decided on the page answer
exactly as on a GET's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import client_for, make_destination, quick, run

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from restore.engine.kinds.rollback import start_rollback
from restore.engine.run.session import start_session
from restore.models import RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)

PAGED = ["folder", "look", "scheduled_plan"]  # many items each, no sub-resources
OWN_ROUTES = tuple(f"/api/4.0/{table}" for table in ("folders", "looks", "scheduled_plans"))
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture(scope="module")
def emu():
    with running_emulator(items=1000, seed=5) as emu:
        yield emu


@pytest.fixture(scope="module")
def backup_file(emu, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("paged") / "backup.db"
    extract(emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret, shape="raw")
    return path  # registered by each test: the database is each test's own


@pytest.fixture
def backup(emu, backup_file):
    from restore.models import Backup

    emu.reset(state=True, faults=True)
    backup = Backup.register(backup_file)
    assert backup.verify(), backup.verification_error
    return backup


def restore(emu, backup, **options):
    name = f"emu-{RestoreSession.objects.count()}"  # a fresh destination: no ID map yet
    session = start_session(backup, make_destination(emu, name), quick(**options))
    emu.reset()  # counts from here: the session's own requests only
    summary = run(session, client_for(emu))
    session.refresh_from_db()
    return summary, session


def requests(emu) -> tuple[int, int, dict[str, int]]:
    """(all requests, writes, GETs by route) the emulator counted (login aside)."""
    total, writes, gets = 0, 0, {}
    for r in emu.stats()["requests"]:
        if r["route"].endswith(("/login", "/logout")):
            continue
        total += r["count"]
        if r["method"] in WRITES:
            writes += r["count"]
        else:
            gets[r["route"]] = gets.get(r["route"], 0) + r["count"]
    return total, writes, dict(sorted(gets.items()))


def row(session, slug: str, sid: str):
    from restore.engine.core.content_types import ContentType

    return session.results.get(content_type=int(ContentType.parse(slug)), source_id=sid)


def a_look(emu) -> dict:
    looks = sorted(emu.export()["tables"]["looks"], key=lambda r: int(r["id"]))
    return next(r for r in looks if not r.get("deleted"))


def test_a_no_op_restore_reads_pages_and_writes_nothing(emu, backup) -> None:
    summary, session = restore(emu, backup, selection={"content_types": PAGED})
    total, writes, gets = requests(emu)
    items = summary["unchanged"] + summary["skipped"]
    assert summary["status"] == "completed" and summary.get("failed", 0) == 0
    assert items >= 300 and summary.get("updated", 0) == summary.get("created", 0) == 0
    assert writes == 0
    # What reading these types costs, the session's identity sample (10 per type) included; the
    # rest are the references' checks (owners, a schedule's dashboard), once per object referred to.
    own = sum(n for route, n in gets.items() if route.startswith(OWN_ROUTES))
    assert own / items <= 0.2, (own, items, str(gets))
    assert gets.get("/api/4.0/looks/search", 0) >= 1
    assert total < items, (total, items, str(gets))


def test_a_look_changed_in_the_destination_is_updated_from_a_full_pre_image(emu, backup) -> None:
    """Renamed (and described) in the destination since the backup: not unchanged; the update
    starts from the object read alone, and the rollback puts that back."""
    look = a_look(emu)
    client = client_for(emu)
    client.patch(f"/looks/{look['id']}", {"title": "Renamed since the backup"})
    before = client.get(f"/looks/{look['id']}")
    summary, session = restore(emu, backup, selection={"content_types": PAGED})
    _, _, gets = requests(emu)
    assert gets["/api/4.0/looks/{look_id}"] <= 11  # this look alone (and the identity sample)
    result = row(session, "look", str(look["id"]))
    assert result.action == "updated", (result.action, result.message)
    assert summary.get("updated") == 1
    assert client.get(f"/looks/{look['id']}")["title"] == look["title"]
    assert result.pre_image["title"] == "Renamed since the backup"
    assert set(before) - {"can"} <= set(result.pre_image)  # everything a GET answers

    run(start_rollback(session), client_for(emu))
    assert client.get(f"/looks/{look['id']}")["title"] == "Renamed since the backup"


def test_a_folder_renamed_in_the_destination_is_not_called_unchanged(emu, backup) -> None:
    folders = [
        f
        for f in emu.export()["tables"]["folders"]
        if f.get("parent_id") and not f.get("is_personal")
    ]
    renamed = folders[0]
    client = client_for(emu)
    client.patch(f"/folders/{renamed['id']}", {"name": "Renamed since the backup"})
    summary, session = restore(emu, backup, selection={"content_types": PAGED})
    assert row(session, "folder", str(renamed["id"])).action == "updated"
    assert summary.get("updated") == 1
    assert client.get(f"/folders/{renamed['id']}")["name"] == renamed["name"]
    assert requests(emu)[2].get("/api/4.0/folders/search", 0) >= 1  # the level read in pages


def test_same_id_with_other_immutable_fields_is_another_object_in_pages_too(emu, backup) -> None:
    """The object under the look's ID was created at another time: another object, whether its
    page answer or a GET says so; the restore does not write to it (as the single-item restore)."""
    look = a_look(emu)
    emu.call(
        lambda e: e.state.update("looks", str(look["id"]), {"created_at": "2001-02-03T04:05:06Z"})
    )
    _, paged = restore(emu, backup, selection={"content_types": PAGED})
    paged_row = row(paged, "look", str(look["id"]))
    paged_writes = requests(emu)[1]
    _, alone = restore(emu, backup, selection={"content_types": ["look"], "ids": [str(look["id"])]})
    alone_row = row(alone, "look", str(look["id"]))
    assert paged_row.action == alone_row.action == "created"
    assert paged_row.destination_id != str(look["id"])
    assert paged_writes == 1  # the new look's POST; nothing sent to the other object
    assert client_for(emu).get(f"/looks/{look['id']}")["created_at"].startswith("2001-02-03")


def test_a_single_item_restore_reads_its_object_with_one_get(emu, backup) -> None:
    look = a_look(emu)
    client_for(emu).patch(f"/looks/{look['id']}", {"title": "Renamed since the backup"})
    summary, session = restore(
        emu, backup, selection={"content_types": ["look"], "ids": [str(look["id"])]}
    )
    assert row(session, "look", str(look["id"])).action == "updated"
    _, writes, gets = requests(emu)
    assert "/api/4.0/looks/search" not in gets
    assert writes == 1
    assert gets["/api/4.0/looks/{look_id}"] <= 11  # its own GET and the identity sample's 10


def test_a_no_op_plan_reads_pages_too(emu, backup) -> None:
    summary, session = restore(emu, backup, selection={"content_types": PAGED}, dry_run=True)
    _, writes, gets = requests(emu)
    items = summary["unchanged"] + summary["skipped"]
    assert writes == 0 and summary.get("updated", 0) == 0
    own = sum(n for route, n in gets.items() if route.startswith(OWN_ROUTES))
    assert own / items <= 0.2, (own, items, str(gets))


def test_an_object_this_session_writes_is_read_alone_from_then_on(emu) -> None:
    """Any write through the context (a dependency restored on the way, a second pass) takes its
    object out of the pages; a write asked for while comparing against a page is never sent."""
    from restore.engine.core.config import RestoreConfig
    from restore.engine.core.content_types import ContentType
    from restore.engine.item.context import RestoreContext, WriteWhileProbing
    from restore.engine.item.paged import DestinationPages, PageAnswer

    emu.reset(state=True)
    look = a_look(emu)
    path = f"/looks/{look['id']}"
    client = client_for(emu)
    pages = DestinationPages({ContentType.LOOK: 100})
    ctx = RestoreContext(client, None, RestoreConfig(), same_instance=True, pages=pages)  # type: ignore[arg-type]
    found = pages.lookup(client, ContentType.LOOK, path, str(look["id"]), {"created_at": "x"})
    assert isinstance(found, PageAnswer) and str(found["id"]) == str(look["id"])
    ctx.begin_item()
    with ctx.probing(), pytest.raises(WriteWhileProbing):
        ctx.write("PATCH", path, {"title": "Never sent"}, found)
    assert requests(emu)[1] == 0 and ctx.changes == []
    ctx.write("PATCH", path, {"title": "Written by the session"}, found)
    assert pages.lookup(client, ContentType.LOOK, path, str(look["id"]), {}) == {}
    assert client.get(path)["title"] == "Written by the session"
