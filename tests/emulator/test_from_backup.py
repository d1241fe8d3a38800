"""Serving the content of lookervault backups (the shared fixtures written by lookervault 0.1.0)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from emulator_sdk import make_sdk

from looker_emulator.from_backup import read_backup_objects, state_from_backup
from looker_emulator.testing import emulator_process, running_emulator

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
BACKUPS = sorted(FIXTURES.glob("lookervault-0.1.0-*.db"))
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not BACKUPS, reason=f"shared fixtures not found at {FIXTURES}")


@pytest.mark.parametrize("backup", BACKUPS, ids=lambda p: p.stem)
def test_a_backup_serves_its_objects(backup: Path) -> None:
    objects = read_backup_objects(backup)
    with running_emulator(state_from_backup(backup)) as emu:
        sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
        assert sdk.me().id == "1"
        for code, obj in objects:
            if code == 1:
                served = sdk.dashboard(obj["id"])
                assert served.title == obj["title"]
                assert [e.id for e in served.dashboard_elements] == [
                    e["id"] for e in obj["dashboard_elements"]
                ]
                assert [f.id for f in served.dashboard_filters] == [
                    f["id"] for f in obj["dashboard_filters"]
                ]
                assert [lay.id for lay in served.dashboard_layouts] == [
                    lay["id"] for lay in obj["dashboard_layouts"]
                ]
            elif code == 2:
                look = sdk.look(obj["id"])
                assert (
                    look.query.id == obj["query"]["id"]
                    and look.query.fields == obj["query"]["fields"]
                )
            elif code == 6:
                board = sdk.board(obj["id"])
                assert [s.id for s in board.board_sections] == [
                    s["id"] for s in obj["board_sections"]
                ]
            elif code == 7:
                assert sdk.user(obj["id"]).email == obj["email"]
            elif code == 9:
                assert sdk.role(obj["id"]).permission_set_id == obj["permission_set_id"]
            elif code == 5:
                assert sdk.folder(obj["id"]).name == obj["name"]
            elif code == 12:
                assert sdk.scheduled_plan(obj["id"]).name == obj["name"]


def test_serve_backup_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "fixture-state.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "looker_emulator",
            "from-backup",
            "--backup",
            str(BACKUPS[0]),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with emulator_process(f"--backup={BACKUPS[0]}") as url:
        sdk = make_sdk(url, "lookervault", "emulator-secret")
        assert sdk.dashboard("101").title == "An SDK dashboard"


def test_served_backup_holds_each_merge_tiles_merge_query_and_look_tiles_queries(tmp_path):
    """A real instance holds the merge query every merged-results tile shows, and the query of
    every look a tile embeds: `GET /merge_queries/{id}` and `GET /queries/{id}` answer them."""
    from looker_emulator.backup import BackupWriter

    path = tmp_path / "merge.db"
    query = {"id": "31", "model": "ecommerce", "view": "orders", "fields": ["orders.id"]}
    look = {"id": "4", "title": "Orders", "query_id": "32", "query": {**query, "id": "32"}}
    with BackupWriter(path) as writer:
        writer.add(
            "dashboard",
            {
                "id": "5",
                "title": "Blended",
                "dashboard_elements": [
                    {"id": "50", "type": "vis", "query_id": "31", "query": query},
                    {"id": "51", "type": "vis", "merge_result_id": "77"},
                    {"id": "52", "type": "vis", "look_id": "4", "look": look},
                ],
            },
        )
    with running_emulator(state_from_backup(path)) as emu:
        sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
        merge = sdk.merge_query("77")
        assert [s.query_id for s in merge.source_queries] == ["31"]
        assert sdk.query("32").view == "orders"
        assert sdk.dashboard_element("51").merge_result_id == "77"
