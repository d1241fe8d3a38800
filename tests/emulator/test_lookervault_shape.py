"""`extract` writes backups the way lookervault's own `extract` does, for both of its ID styles.

The shared fixtures `lookervault-extract-*.db` were written by upstream lookervault's CLI from the
instance in `lookervault-extract-source-state.json` served by this emulator; our `extract` of that same
instance must give the same rows, the same session config and blobs with the same keys and value types
per content type, and the project's backup reader must read both the same way. With
`LOOKERVAULT_CLI=/path/to/lookervault` set, lookervault's CLI itself is run against the emulator too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
SOURCE_STATE = FIXTURES / "lookervault-extract-source-state.json"
FIXTURE_OF = {
    "plain": FIXTURES / "lookervault-extract-parallel.db",
    "composite": FIXTURES / "lookervault-extract-sequential.db",
}
WORKERS_OF = {"plain": 4, "composite": 1}  # lookervault: --workers 1 is its sequential mode
# Types whose rows get "now" for a timestamp the object lacks (users, groups, ...; folders' update).
UNTIMED = {3, 7, 8, 9, 10, 11}
# Fields looker-sdk 26 knows and lookervault's pinned looker-sdk (<26) does not: the emulator
# answers them, our SDK keeps them, lookervault's drops them.
NEWER_SDK_FIELDS = {
    1: {"chat_enabled", "is_owner_disabled", "preserve_desktop_layout"},
    2: {"is_owner_disabled"},
    9: {"internal"},
    12: {"include_dashboard_summary", "pdf_page_breaks"},
}
# The fixtures were taken while the emulator's search_dashboards left these out (see their README)
# and answered a user's avatar_url null and no credentials_api3; Looker's answers have them, and so do backups of Looker.
ANSWERED_SINCE = {
    1: {"dashboard_elements", "dashboard_filters", "dashboard_layouts"},
    7: {"avatar_url", "credentials_api3"},
}

pytestmark = pytest.mark.skipif(not SOURCE_STATE.exists(), reason="shared fixtures not available")


def ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def rows(path: Path) -> dict[tuple[int, str], tuple[Any, ...]]:
    query = (
        "SELECT content_type, id, name, owner_id, owner_email, created_at, updated_at, synced_at,"
        " deleted_at, folder_id, content_data FROM content_items"
    )
    return {(r[0], r[1]): r for r in ro(path).execute(query)}


def config(path: Path) -> dict[str, Any]:
    (text,) = ro(path).execute("SELECT config FROM extraction_sessions").fetchone()
    return json.loads(text)


def blob_shapes(path: Path) -> dict[int, dict[str, set[str]]]:
    """Per content type: each blob key -> the Python types its values decode to."""
    out: dict[int, dict[str, set[str]]] = {}
    for (ctype, _), row in rows(path).items():
        for key, value in msgspec.msgpack.decode(row[-1]).items():
            out.setdefault(ctype, {}).setdefault(key, set()).add(type(value).__name__)
    return out


def assert_written_alike(ours: Path, theirs: Path, style: str) -> None:
    assert config(ours) == config(theirs)
    mine, other = rows(ours), rows(theirs)
    assert mine.keys() == other.keys()
    for key, row in mine.items():
        them = other[key]
        assert row[2:5] == them[2:5], key  # name, owner_id, owner_email
        assert row[8:10] == them[8:10], key  # deleted_at, folder_id
        if key[0] not in UNTIMED:
            assert row[5] == them[5], key  # created_at
        assert row[7].endswith("+00:00") == them[7].endswith("+00:00") == (style == "plain")
    shapes, fixture_shapes = blob_shapes(ours), blob_shapes(theirs)
    assert shapes.keys() == fixture_shapes.keys()
    for ctype, keys in shapes.items():
        allowed = NEWER_SDK_FIELDS.get(ctype, set()) | ANSWERED_SINCE.get(ctype, set())
        assert set(keys) - allowed == set(fixture_shapes[ctype]), ctype
        for name, types in fixture_shapes[ctype].items():
            assert keys[name] == types, (ctype, name)


def read_alike(ours: Path, theirs: Path) -> None:
    """The project's backup reader sees the same items, ID style and source (none) in both."""
    with open_backup(ours) as a, open_backup(theirs) as b:
        report_a, report_b = a.verify(full=True), b.verify(full=True)
        assert report_a.ok and report_b.ok, (report_a.problems, report_b.problems)
        assert report_a.id_style == report_b.id_style
        assert report_a.counts == report_b.counts
        assert a.source_instance() is None and b.source_instance() is None
        sel = Selection(include_deleted=True)
        items_a = {(i.content_type, i.id): i for i in a.iter_items(sel)}
        items_b = {(i.content_type, i.id): i for i in b.iter_items(sel)}
        assert items_a.keys() == items_b.keys()
        for key, item in items_a.items():
            other = items_b[key]
            assert (item.raw_id, item.name, item.owner_id, item.folder_id) == (
                other.raw_id,
                other.name,
                other.owner_id,
                other.folder_id,
            )


@pytest.mark.parametrize("style", ["plain", "composite"])
def test_extract_writes_what_lookervault_extract_wrote(style: str, tmp_path: Path) -> None:
    out = tmp_path / f"{style}.db"
    with running_emulator(state=SOURCE_STATE) as emu:
        extract(emu.url, out, id_style=style, workers=WORKERS_OF[style])  # type: ignore[arg-type]
    assert_written_alike(out, FIXTURE_OF[style], style)
    read_alike(out, FIXTURE_OF[style])


def test_dashboards_carry_their_tiles_and_looks_carry_no_query(tmp_path: Path) -> None:
    """search_dashboards answers whole Dashboards (Looker's spec); search_looks answers Look,
    which has no `query`: a lookervault backup holds a look's query_id only."""
    out = tmp_path / "b.db"
    with running_emulator(state=SOURCE_STATE) as emu:
        doc = emu.export()
        extract(emu.url, out)
    tiles = {}
    for row in doc["tables"]["dashboard_elements"]:
        tiles.setdefault(row["dashboard_id"], set()).add(row["id"])
    for (ctype, rid), row in rows(out).items():
        blob = msgspec.msgpack.decode(row[-1])
        if ctype == 1:
            assert {e["id"] for e in blob["dashboard_elements"]} == tiles.get(rid, set())
            assert blob["dashboard_layouts"] and "dashboard_filters" in blob
        if ctype == 2:
            assert "query" not in blob and blob["query_id"]


LOOKERVAULT_CLI = os.environ.get("LOOKERVAULT_CLI")


@pytest.mark.skipif(not LOOKERVAULT_CLI, reason="set LOOKERVAULT_CLI to lookervault's executable")
@pytest.mark.parametrize("style", ["plain", "composite"])
def test_lookervault_cli_and_extract_write_alike(style: str, tmp_path: Path) -> None:
    """Upstream lookervault's own `extract`, pointed at the emulator (it logs in at
    `//api/4.0/login`), and ours write backups the project reads the same way."""
    theirs, ours = tmp_path / "lookervault.db", tmp_path / "ours.db"
    types = "dashboards,looks,lookml_models,folders,boards,users,groups,roles,permission_sets"
    with running_emulator(state=SOURCE_STATE) as emu:
        env = {
            **os.environ,
            "LOOKER_BASE_URL": emu.url,
            "LOOKER_CLIENT_ID": emu.client_id,
            "LOOKER_CLIENT_SECRET": emu.client_secret,
        }
        cmd = [LOOKERVAULT_CLI or "", "extract", "--db", str(theirs)]
        cmd += ["--workers", str(WORKERS_OF[style])]
        cmd += ["--types", types + ",model_sets,scheduled_plans"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        extract(emu.url, ours, id_style=style, workers=WORKERS_OF[style])  # type: ignore[arg-type]
    mine, other = blob_shapes(ours), blob_shapes(theirs)
    for ctype, keys in mine.items():
        assert set(keys) - NEWER_SDK_FIELDS.get(ctype, set()) == set(other[ctype]), ctype
    assert config(ours) == config(theirs)
    read_alike(ours, theirs)
