"""generate -> serve -> extract: the backup holds exactly the served instance, type by type."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from looker_emulator.extract import extract
from looker_emulator.resources import KINDS
from looker_emulator.testing import RunningEmulator, running_emulator
from looker_emulator.wreck import wreck
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.content_types import ContentType

ROOT = Path(__file__).resolve().parents[2]

# Backup content type -> (emulator table, key field, rendered like the extractor's
# endpoint: True = the one-object GET, False = the list endpoint's shallow form).
TYPES: dict[ContentType, tuple[str, str, bool]] = {
    ContentType.USER: ("users", "id", False),
    ContentType.GROUP: ("groups", "id", False),
    ContentType.PERMISSION_SET: ("permission_sets", "id", False),
    ContentType.MODEL_SET: ("model_sets", "id", False),
    ContentType.ROLE: ("roles", "id", False),
    ContentType.FOLDER: ("folders", "id", False),
    ContentType.LOOKML_MODEL: ("lookml_models", "name", False),
    ContentType.EXPLORE: ("explores", "id", True),
    ContentType.LOOK: ("looks", "id", False),
    ContentType.DASHBOARD: ("dashboards", "id", True),
    ContentType.BOARD: ("boards", "id", False),
    ContentType.SCHEDULED_PLAN: ("scheduled_plans", "id", False),
}


ONE_PATH = {
    ContentType.USER: "/users/{}",
    ContentType.GROUP: "/groups/{}",
    ContentType.PERMISSION_SET: "/permission_sets/{}",
    ContentType.MODEL_SET: "/model_sets/{}",
    ContentType.ROLE: "/roles/{}",
    ContentType.FOLDER: "/folders/{}",
    ContentType.LOOKML_MODEL: "/lookml_models/{}",
    ContentType.LOOK: "/looks/{}",
    ContentType.DASHBOARD: "/dashboards/{}",
    ContentType.BOARD: "/boards/{}",
    ContentType.SCHEDULED_PLAN: "/scheduled_plans/{}",
}


def served(emu: RunningEmulator, backup: Path) -> dict[tuple[ContentType, str], Any]:
    """Each backed-up object as the one-object GET serves it now (plain HTTP, not the SDK)."""
    session = requests.Session()
    login = session.post(
        f"{emu.url}/api/4.0/login",
        data={"client_id": emu.client_id, "client_secret": emu.client_secret},
        timeout=30,
    )
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    out: dict[tuple[ContentType, str], Any] = {}
    with open_backup(backup) as reader:
        for item in reader.iter_items(Selection(include_deleted=True)):
            if item.content_type == ContentType.EXPLORE:
                model, name = item.id.split("::")
                path = f"/lookml_models/{model}/explores/{name}"
            else:
                path = ONE_PATH[item.content_type].format(quote(item.id, safe=""))
            resp = session.get(f"{emu.url}/api/4.0{path}", timeout=30)
            assert resp.status_code == 200, (path, resp.text)
            out[(item.content_type, item.id)] = resp.json()
    return out


def is_subset(record: Any, obj: Any, fields: set[str] | None = None) -> bool:
    """Every stored field of an emulator record shows up, equal, in the API object."""
    if isinstance(record, dict) and isinstance(obj, dict):
        return all(
            is_subset(v, obj[k]) if k in obj else (fields is not None and k not in fields)
            for k, v in record.items()
        )
    if isinstance(record, list) and isinstance(obj, list):
        return len(record) == len(obj) and all(map(is_subset, record, obj))
    return record == obj


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("roundtrip") / "backup.db"
    with running_emulator(items=400, seed=11) as emu:
        # Trash a dashboard and a look so the backup has soft-deleted items too.
        emu.call(lambda e: e.state.update("dashboards", "3", {"deleted": True}))
        emu.call(lambda e: e.state.update("looks", "2", {"deleted": True}))
        counts = extract(emu.url, out, shape="raw")
        doc = emu.export()
        rendered = served(emu, out)
        schemas = emu.call(
            lambda e: {t: set(e.api.spec.model(k.schema).fields) for t, k in KINDS.items()}
        )
        yield out, counts, doc, rendered, schemas, emu.url


def test_every_object_of_every_type_is_in_the_backup(extracted) -> None:
    out, counts, doc, rendered, _, _ = extracted
    with open_backup(out) as reader:
        report = reader.verify(full=True)
        assert report.ok, report.problems
        assert report.id_style == "plain"
        for ct, (table, key, _) in TYPES.items():
            expected = {str(r[key]) for r in doc["tables"][table]}
            got = {
                i.id for i in reader.iter_items(Selection(content_types=[ct], include_deleted=True))
            }
            assert got == expected, ct
            assert counts[ct.slug] == len(expected), ct
            assert len(expected) > 0, f"generator made no {table}"


def test_backup_objects_equal_what_the_emulator_serves(extracted) -> None:
    """Dashboards and explores were fetched one by one: equal. Listed types: every field equal
    (a listing may leave out fields the one-object GET adds, e.g. a folder's content lists)."""
    out, _, _, rendered, _, _ = extracted
    with open_backup(out) as reader:
        for item in reader.iter_items(Selection(include_deleted=True)):
            now = rendered[(item.content_type, item.id)]
            if item.content_type in (ContentType.DASHBOARD, ContentType.EXPLORE):
                assert item.content == now, item.label
            else:
                differ = {k for k, v in item.content.items() if now.get(k, v) != v}
                assert not differ, (item.label, differ)
                assert len(item.content) >= len(now) - 3, (item.label, set(now) - set(item.content))


def test_stored_records_are_inside_the_backup_objects(extracted) -> None:
    """Independent of rendering: every field the emulator stores is in the backup, nested included."""
    out, _, doc, _, schemas, _ = extracted
    tables = doc["tables"]
    with open_backup(out) as reader:
        for ct, (table, key, _) in TYPES.items():
            for record in tables[table]:
                obj = reader.get_item(ct, str(record[key])).content
                assert is_subset(record, obj, schemas.get(table)), (ct, record[key])
        dash_children = {
            "dashboard_elements": "dashboard_elements",
            "dashboard_filters": "dashboard_filters",
            "dashboard_layouts": "dashboard_layouts",
        }
        for table, field in dash_children.items():
            for record in tables[table]:
                dash = reader.get_item(ContentType.DASHBOARD, record["dashboard_id"]).content
                nested = {c["id"]: c for c in dash[field]}
                assert is_subset(record, nested[record["id"]], schemas.get(table)), (table, record)
        layouts = {
            lay["id"]: lay
            for item in reader.iter_items(
                Selection(content_types=[ContentType.DASHBOARD], include_deleted=True)
            )
            for lay in item.content["dashboard_layouts"]
        }
        for record in tables["dashboard_layout_components"]:
            comps = {
                c["id"]: c
                for c in layouts[record["dashboard_layout_id"]]["dashboard_layout_components"]
            }
            assert is_subset(record, comps[record["id"]]), record
        queries = {q["id"]: q for q in tables["queries"]}
        for item in reader.iter_items(
            Selection(content_types=[ContentType.LOOK], include_deleted=True)
        ):
            query_id = item.content["query_id"]
            if query_id:
                assert is_subset(queries[query_id], item.content["query"]), item.id
        sections = {
            s["id"]: s
            for item in reader.iter_items(Selection(content_types=[ContentType.BOARD]))
            for s in item.content["board_sections"]
        }
        for record in tables["board_sections"]:
            assert is_subset(record, sections[record["id"]], schemas.get("board_sections"))
        for record in tables["board_items"]:
            items = {i["id"]: i for i in sections[record["board_section_id"]]["board_items"]}
            assert is_subset(record, items[record["id"]], schemas.get("board_items")), record


def test_trashed_content_is_stored_as_deleted(extracted) -> None:
    out, _, doc, _, _, _ = extracted
    trashed = {
        (ct, r["id"])
        for ct, table in ((ContentType.DASHBOARD, "dashboards"), (ContentType.LOOK, "looks"))
        for r in doc["tables"][table]
        if r.get("deleted")
    }
    assert (ContentType.DASHBOARD, "3") in trashed and (ContentType.LOOK, "2") in trashed
    with open_backup(out) as reader:
        deleted = {
            (i.content_type, i.id)
            for i in reader.iter_items(Selection(include_deleted=True))
            if i.deleted
        }
        assert deleted == trashed
        assert all(reader.get_item(ct, i).content["deleted"] for ct, i in trashed)
        live = {(i.content_type, i.id) for i in reader.iter_items()}
        assert not live & trashed


def test_a_backup_after_wreck_differs_exactly_by_the_damage(tmp_path: Path) -> None:
    """extract -> wreck -> extract: the second backup lacks what was deleted, marks what was
    trashed, and holds the modified objects as they are now."""
    first, second = tmp_path / "before.db", tmp_path / "after.db"
    with running_emulator(items=250, seed=8) as emu:
        extract(emu.url, first, shape="raw")
        report = wreck(emu.url, seed=5, fraction=0.2)
        extract(emu.url, second, shape="raw")
    with open_backup(first) as a, open_backup(second) as b:
        everything = Selection(include_deleted=True)
        old = {(i.content_type, i.id): i for i in a.iter_items(everything)}
        new = {(i.content_type, i.id): i for i in b.iter_items(everything)}
        deleted = {(ContentType.parse(k), i) for k, ids in report["deleted"].items() for i in ids}
        trashed = {(ContentType.parse(k), i) for k, ids in report["trashed"].items() for i in ids}
        assert deleted and trashed
        assert deleted <= set(old) and not deleted & set(new)
        for key in trashed & set(new):
            assert new[key].deleted and not old[key].deleted
            assert new[key].content["deleted"] is True
        for kind, changed in report["modified"].items():
            for rid in changed:
                key = (ContentType.parse(kind), rid)
                if key in new:
                    assert new[key].content != old[key].content, key
        assert set(new) - set(old) == set()


def test_the_extract_command(tmp_path: Path) -> None:
    out = tmp_path / "cli.db"
    with running_emulator(items=40, seed=5) as emu:
        cmd = [
            sys.executable,
            "-m",
            "looker_emulator",
            "extract",
            "--from",
            emu.url,
            "--out",
            str(out),
        ]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["items"] == sum(summary["counts"].values()) > 40
        composite = tmp_path / "seq.db"
        done = subprocess.run(
            [*cmd[:-1], str(composite), "--id-style", "composite"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert again.returncode == 1 and "already exists" in again.stderr
    with open_backup(out) as plain, open_backup(composite) as seq:
        assert seq.verify().id_style == "composite"
        assert plain.source_instance() is None  # lookervault records no source instance
        a = {(i.content_type, i.id): i.content for i in plain.iter_items()}
        b = {(i.content_type, i.id): i.content for i in seq.iter_items()}
        assert a == b


def test_extract_with_wrong_credentials_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "nope.db"
    with running_emulator(items=0) as emu:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "looker_emulator",
                "extract",
                "--from",
                emu.url,
                "--out",
                str(out),
                "--client-secret",
                "wrong",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert "extract failed" in done.stderr and "404" in done.stderr
    assert list(tmp_path.iterdir()) == []
