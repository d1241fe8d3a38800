"""Identity on evidence, with backups written by lookervault's own `extract` command.

The emulator serves the very instance the shared extract fixtures were taken from
(`lookervault-extract-source-state.json`); the tests wreck it, restore, and check that every object
came back in place under its own ID, nothing was duplicated, and nothing the backup does not hold
was touched. The restores run on the production runner (`restore.engine.run.runner`).
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from conftest import client_for, make_destination

from looker_emulator.testing import running_emulator
from looker_emulator.wreck import wreck
from restore.engine import run_session
from restore.engine.backup.reader import open_backup
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import ContentType
from restore.engine.run.session import start_session
from restore.models import Backup, IDMapping, RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
STATE = FIXTURES / "lookervault-extract-source-state.json"
EXTRACTS = {s: FIXTURES / f"lookervault-extract-{s}.db" for s in ("sequential", "parallel")}
TABLES = {
    "dashboard": "dashboards",
    "look": "looks",
    "folder": "folders",
    "user": "users",
    "group": "groups",
    "role": "roles",
    "permission_set": "permission_sets",
    "model_set": "model_sets",
    "board": "boards",
    "scheduled_plan": "scheduled_plans",
}
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def counts(emu) -> dict[str, int]:
    state = emu.stats()["state_counts"]
    return {t: state.get(table, 0) for t, table in TABLES.items()}


def writes(emu) -> int:
    by_op = emu.stats()["by_operation"]
    return sum(n for op, n in by_op.items() if op.split(" ", 1)[0] in WRITES and "login" not in op)


def register(path: Path, tmp_path: Path, *, source_url: str | None = None) -> Backup:
    """A copy of a fixture, optionally with a source URL written into its session config (as the
    project's own old backups carried): no behaviour may depend on it."""
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    copy.chmod(0o644)
    if source_url is not None:
        # closed before verifying: an open connection may still write the file when it closes
        with closing(sqlite3.connect(copy)) as conn, conn:
            conn.execute(
                "UPDATE extraction_sessions SET config = json_set(config, '$.source', ?)",
                (source_url,),
            )
    backup = Backup.register(copy)
    assert backup.verify(), backup.verification_error
    return backup


def restore(backup, dest, emu, recorder=None, **options) -> tuple[dict, RestoreSession]:
    session = start_session(backup, dest, RestoreConfig(**options))
    summary = run_session(session.pk, client=client_for(emu, recorder))
    session.refresh_from_db()
    return summary, session


def failures(session) -> list[tuple]:
    rows = session.results.filter(action__in=["failed", "blocked", "pending"])
    return list(rows.values_list("content_type", "source_id", "message"))


def tile_counts(client) -> dict[str, int]:
    rows = client.get("/dashboards/search", {"fields": "id", "deleted": "false"}) or []
    rows += client.get("/dashboards/search", {"fields": "id", "deleted": "true"}) or []
    out = {}
    for row in rows:
        got = client.get(f"/dashboards/{row['id']}", {"fields": "id,dashboard_elements"})
        out[str(row["id"])] = len(got.get("dashboard_elements") or [])
    return out


NAMED = {"dashboard": "title", "look": "title", "board": "title"}
PLACED = {"dashboard": "folder_id", "look": "folder_id", "folder": "parent_id"}


def assert_back_in_place(client, reader, damage: dict) -> int:
    """Every object the wreck renamed or moved (and did not delete) is back, under its own ID."""
    checked = 0
    for slug, changed in damage["modified"].items():
        ct = ContentType.parse(slug)
        for rid in changed:
            if rid in damage["deleted"].get(slug, []):
                continue
            item = reader.get_item(ct, rid)
            live = client.get_or_none(f"/{TABLES[slug]}/{rid}")
            assert live is not None, f"{slug} {rid} is gone"
            name = NAMED.get(slug, "name")
            if slug in NAMED or slug in {"folder", "group", "role", "permission_set", "model_set"}:
                assert live.get(name) == item.content.get(name), (slug, rid, live.get(name))
            if slug in PLACED and item.content.get(PLACED[slug]) is not None:
                assert str(live.get(PLACED[slug])) == str(item.content[PLACED[slug]]), (slug, rid)
            checked += 1
    return checked


@pytest.mark.parametrize("style", ["sequential", "parallel"])
@pytest.mark.parametrize("recorded_url", [None, "https://company.cloud.looker.com:19999"])
def test_restore_into_its_own_wrecked_instance_puts_everything_back_in_place(
    style, recorded_url, tmp_path, recorder
):
    with running_emulator(state=STATE) as emu:
        client = client_for(emu)
        source = counts(emu)
        damage = wreck(
            emu.url, seed=3, fraction=0.3, client_id=emu.client_id, client_secret=emu.client_secret
        )
        assert sum(damage["counts"]["modified"].values()) > 20, damage["counts"]
        tiles_before = tile_counts(client)
        backup = register(EXTRACTS[style], tmp_path, source_url=recorded_url)
        dest = make_destination(emu)

        summary, session = restore(backup, dest, emu, recorder)

        assert session.identity["same_instance"] is True, session.identity
        assert "sampled IDs hold the same objects" in session.identity["summary"]
        assert failures(session) == [], failures(session)
        after = counts(emu)
        assert all(after[t] <= source[t] for t in source), (source, after)
        with open_backup(backup.path) as reader:
            assert assert_back_in_place(client, reader, damage) > 20
        # the backup holds no tiles: no dashboard lost one
        tiles_after = tile_counts(client)
        assert all(tiles_after.get(d, 0) >= n for d, n in tiles_before.items()), tiles_after
        messages = list(session.results.filter(content_type=1).values_list("action", "message"))
        assert any("tiles were not touched" in m for _, m in messages), messages[:5]
        # a second run finds nothing to do and writes nothing
        before = writes(emu)
        again, session2 = restore(backup, dest, emu, recorder)
        assert failures(session2) == []
        assert again["created"] == 0 and again["updated"] == 0, again
        assert writes(emu) == before


@pytest.mark.parametrize("style", ["sequential", "parallel"])
def test_migration_into_an_empty_instance_then_a_rerun_writes_nothing(style, tmp_path, recorder):
    backup = register(EXTRACTS[style], tmp_path)
    with running_emulator(state=STATE) as src, running_emulator() as emu:
        dest = make_destination(emu)
        summary, session = restore(backup, dest, emu, recorder, with_dependencies=True)
        assert session.identity["same_instance"] is False, session.identity
        assert summary["created"] > 50, summary
        # lookervault saves looks without their query, and these dashboards hold no tiles: blocked
        others = [f for f in failures(session) if "the query is not in this backup" not in f[2]]
        assert others == []
        source, after = counts(src), counts(emu)
        assert all(after[t] <= source[t] for t in source), (source, after)
        before = writes(emu)
        again, session2 = restore(backup, dest, emu, recorder, with_dependencies=True)
        assert again["created"] == 0 and again["updated"] == 0, (again, failures(session2))
        assert writes(emu) == before


def test_an_id_map_left_over_from_a_reset_instance_is_not_trusted(tmp_path, recorder):
    backup = register(EXTRACTS["sequential"], tmp_path)
    with running_emulator(state=STATE) as src, running_emulator() as emu:
        dest = make_destination(emu)
        restore(backup, dest, emu, with_dependencies=True)
        assert IDMapping.objects.filter(destination_instance=dest).count() > 50
        emu.reset(state=True)  # the instance is rebuilt: its IDs now hold other objects or none
        # someone creates content first, so old IDs hold other objects
        client = client_for(emu)
        shared = client.get("/folders/search", {"is_shared_root": "true"})[0]["id"]
        for n in range(5):
            client.post("/folders", {"name": f"Someone else's {n}", "parent_id": shared})

        summary, session = restore(backup, dest, emu, recorder, with_dependencies=True)

        assert session.identity["same_instance"] is False, session.identity
        others = [f for f in failures(session) if "the query is not in this backup" not in f[2]]
        assert others == []
        source, after = counts(src), counts(emu)
        assert after["folder"] <= source["folder"] + 5, (source, after)
        assert all(after[t] <= source[t] for t in source if t != "folder"), (source, after)
        mine = [f for f in client.get("/folders") if f["name"].startswith("Someone else's")]
        assert len(mine) == 5  # none of them was taken over and renamed


def test_a_title_match_never_overrides_an_id_match(tmp_path):
    """A live look and a copy with the same title and folder: each backup item keeps its own."""
    backup = register(EXTRACTS["sequential"], tmp_path)
    with running_emulator(state=STATE) as emu:
        client = client_for(emu)
        with open_backup(backup.path) as reader:
            look = reader.get_item(ContentType.LOOK, "1").content
        copy = client.post(
            "/looks",
            {"title": look["title"], "folder_id": look["folder_id"], "query_id": look["query_id"]},
        )
        client.patch("/looks/1", {"title": "Renamed by someone"})
        dest = make_destination(emu)
        summary, session = restore(
            backup, dest, emu, selection={"content_types": ["look"], "ids": ["1"]}
        )
        assert client.get("/looks/1")["title"] == look["title"]
        assert client.get(f"/looks/{copy['id']}")["title"] == look["title"]  # untouched
        row = RestoreItemResult.objects.get(session=session, content_type=2, source_id="1")
        assert (row.action, row.destination_id) == ("updated", "1")


def test_one_dashboard_from_a_backup_without_tiles_keeps_its_live_tiles(tmp_path, recorder):
    backup = register(EXTRACTS["sequential"], tmp_path)
    with running_emulator(state=STATE) as emu:
        client = client_for(emu)
        live = client.get("/dashboards/1")
        tiles = sorted(e["id"] for e in live["dashboard_elements"])
        assert tiles, "the source dashboard has tiles"
        client.patch("/dashboards/1", {"title": "Wrecked"})
        dest = make_destination(emu)
        one = {"content_types": ["dashboard"], "ids": ["1"]}

        plan, planned = restore(backup, dest, emu, recorder, selection=one, dry_run=True)
        row = planned.results.get(content_type=1, source_id="1")
        assert row.action == "updated"
        assert f"its {len(tiles)} tiles were not touched" in row.message
        assert all(c["method"] != "DELETE" for c in row.diff["changes"]), row.diff
        assert client.get("/dashboards/1")["title"] == "Wrecked"  # a plan writes nothing

        summary, session = restore(backup, dest, emu, recorder, selection=one)
        after = client.get("/dashboards/1")
        assert after["title"] != "Wrecked"
        assert sorted(e["id"] for e in after["dashboard_elements"]) == tiles


def test_skip_if_modified_is_honest_for_types_without_update_times(tmp_path):
    backup = register(EXTRACTS["sequential"], tmp_path)
    with running_emulator(state=STATE) as emu:
        client = client_for(emu)
        client.patch("/folders/16", {"name": "Renamed in production"})
        dest = make_destination(emu)
        summary, session = restore(
            backup,
            dest,
            emu,
            skip_if_modified=True,
            selection={"content_types": ["folder"], "ids": ["16"]},
        )
        row = session.results.get(content_type=5, source_id="16")
        assert row.action == "skipped"
        assert "records no update time" in row.message and "name" in row.message
        assert client.get("/folders/16")["name"] == "Renamed in production"


def test_lookml_dashboards_are_reported_as_not_restorable():
    from restore.engine.item.restore import _lookml_dashboard

    assert _lookml_dashboard("thelook::orders", {"readonly": True})
    assert not _lookml_dashboard("12", {"readonly": False})


@pytest.mark.parametrize("flag", ["--same-instance", "--other-instance"])
def test_the_user_overrides_the_instance_decision_and_it_is_recorded(flag, tmp_path):
    import io
    import json

    from django.core.management import call_command

    backup = register(EXTRACTS["sequential"], tmp_path)
    with running_emulator(state=STATE) as emu:
        make_destination(emu, "prod")
        out = io.StringIO()
        args = ["single", "group", "2", "--backup", str(backup.pk), "--destination", "prod"]
        call_command("restore", *args, flag, "--dry-run", "--json", stdout=out)
        summary = json.loads(out.getvalue())
        instance = summary["instance"]
        assert instance["decided_by"] == "user"
        assert instance["same_instance"] is (flag == "--same-instance")
        assert "sampled IDs hold the same objects" in instance["summary"]  # the evidence, too
        session = RestoreSession.objects.get(pk=summary["session_id"])
        assert session.options.instance == ("same" if flag == "--same-instance" else "other")


def test_personal_content_of_a_restored_user_goes_into_the_new_personal_folder(tmp_path):
    """Looker deletes a user's personal folder with the user; restored, the user gets a new one
    and the backup's content of the old one lands there, not in an orphaned old folder."""
    backup = register(EXTRACTS["sequential"], tmp_path)
    with running_emulator(state=STATE) as emu, open_backup(backup.path) as reader:
        client = client_for(emu)
        personal = {
            i.content["id"]: i.content
            for i in reader.iter_items({"content_types": ["folder"]})
            if i.content.get("is_personal") and i.content.get("creator_id") not in (None, "1")
        }
        in_personal = [
            i.content
            for i in reader.iter_items({"content_types": ["look", "dashboard"]})
            if i.content.get("folder_id") in personal
        ]
        assert in_personal, "the fixture has content in personal folders"
        owner = personal[in_personal[0]["folder_id"]]["creator_id"]
        client.delete(f"/users/{owner}")
        dest = make_destination(emu)

        summary, session = restore(backup, dest, emu, with_dependencies=True)

        user = RestoreItemResult.objects.get(session=session, content_type=7, source_id=owner)
        assert user.action == "created" and user.destination_id != owner
        new_folder = client.get(f"/users/{user.destination_id}")["personal_folder_id"]
        theirs = [c for c in in_personal if personal[c["folder_id"]]["creator_id"] == owner]
        for content in theirs:
            ct = 2 if "query_id" in content else 1
            row = RestoreItemResult.objects.get(
                session=session, content_type=ct, source_id=content["id"]
            )
            path = "/looks" if ct == 2 else "/dashboards"
            assert str(client.get(f"{path}/{row.destination_id}")["folder_id"]) == str(new_folder)
