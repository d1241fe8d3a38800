"""The one state format: generate, serve --state, export, import, reset; the CLI; loopback only."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from emulator_sdk import make_sdk, raw
from looker_sdk.sdk.api40 import models as m

from looker_emulator.generate import generate
from looker_emulator.server import Emulator, NotLoopbackError, check_bind_host, start_server
from looker_emulator.state import TABLES, State
from looker_emulator.testing import RunningEmulator, emulator_process, running_emulator

ROOT = Path(__file__).resolve().parents[2]


def test_generate_is_deterministic_and_shaped_like_an_instance() -> None:
    doc = generate(300, seed=5)
    assert doc == generate(300, seed=5)
    assert doc != generate(300, seed=6)
    tables = doc["tables"]
    folders = {f["id"]: f for f in tables["folders"]}
    assert folders["1"]["name"] == "Shared" and folders["1"]["is_shared_root"]
    assert any(f.get("is_users_root") for f in folders.values())
    depth = 0
    for f in folders.values():
        d, p = 0, f
        while p.get("parent_id"):
            p, d = folders[p["parent_id"]], d + 1
        depth = max(depth, d)
    assert depth >= 3
    tiles = {}
    for el in tables["dashboard_elements"]:
        tiles.setdefault(el["dashboard_id"], []).append(el)
    assert all(1 <= len(v) <= 30 for v in tiles.values())
    kinds = {
        ("look" if e.get("look_id") else "query" if e.get("query_id") else "text")
        for e in tables["dashboard_elements"]
    }
    assert kinds == {"look", "query", "text"}
    for t in (
        "users",
        "groups",
        "roles",
        "permission_sets",
        "model_sets",
        "looks",
        "dashboards",
        "boards",
        "board_sections",
        "board_items",
        "scheduled_plans",
        "dashboard_filters",
    ):
        assert tables[t], t
    State.from_document(doc)  # loads cleanly


def test_items_zero_is_an_empty_migration_target_with_the_same_lookml() -> None:
    empty, full = generate(0, seed=1), generate(500, seed=1)
    t = empty["tables"]
    assert [u["id"] for u in t["users"]] == [empty["api_user_id"]]
    assert t["dashboards"] == [] and t["looks"] == [] and t["boards"] == []
    assert {f["name"] for f in t["folders"] if f["parent_id"] is None} >= {"Shared", "Users"}
    assert t["lookml_models"] == full["tables"]["lookml_models"]
    assert t["explores"] == full["tables"]["explores"]


def test_export_import_round_trip(emu: RunningEmulator) -> None:
    sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
    before = emu.export()
    assert before["format"] == "looker-emulator-state"
    sdk.create_dashboard(m.WriteDashboard(title="After export", folder_id="1"))
    sdk.delete_look(sdk.search_looks(limit=1)[0].id)
    changed = emu.export()
    assert changed["tables"] != before["tables"]
    resp = raw(sdk, "POST", f"{emu.url}/_emulator/import", json=before)
    assert resp.status_code == 200
    assert emu.export()["tables"] == before["tables"]
    assert sdk.search_dashboards(title="After export") == []
    # The HTTP export is the same document.
    assert raw(sdk, "GET", f"{emu.url}/_emulator/export").json() == emu.export()
    # Bad documents are refused without touching the state.
    assert (
        raw(sdk, "POST", f"{emu.url}/_emulator/import", json={"format": "nope"}).status_code == 400
    )


def test_reset_state_restores_the_start(emu: RunningEmulator) -> None:
    sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
    start = emu.export()
    sdk.create_folder(m.CreateFolder(name="Temporary", parent_id="1"))
    emu.reset()  # stats only
    assert emu.export()["tables"] != start["tables"]
    assert emu.stats()["total"] == 0
    emu.reset(state=True)
    assert emu.export()["tables"] == start["tables"]


def test_served_content_matches_the_state(emu: RunningEmulator) -> None:
    sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
    doc = emu.export()["tables"]
    live = [d for d in doc["dashboards"] if not d.get("deleted")]
    served = sdk.search_dashboards(fields="id")
    assert sorted(d.id for d in served) == sorted(d["id"] for d in live)
    one = live[0]
    full = sdk.dashboard(one["id"])
    assert full.title == one["title"]
    assert sorted(e.id for e in full.dashboard_elements) == sorted(
        e["id"] for e in doc["dashboard_elements"] if e["dashboard_id"] == one["id"]
    )
    assert len(sdk.all_users()) == len(doc["users"])


def test_cli_generate_then_serve_state_file(tmp_path: Path) -> None:
    out = tmp_path / "state.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "looker_emulator",
            "generate",
            "--items",
            "150",
            "--seed",
            "2",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    with emulator_process("--seed", "2", state_file=out) as url:
        sdk = make_sdk(url, "lookervault", "emulator-secret")
        assert sdk.me().id == doc["api_user_id"]
        exported = raw(sdk, "GET", f"{url}/_emulator/export").json()
        assert exported["tables"] == doc["tables"]


def test_serve_refuses_non_loopback_addresses() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "looker_emulator", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--allow-non-loopback" in proc.stderr
    for host in ("0.0.0.0", "10.1.2.3", "example.com", "::"):
        with pytest.raises(NotLoopbackError):
            check_bind_host(host, allow_non_loopback=False)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind_host(host, allow_non_loopback=False)
    check_bind_host("0.0.0.0", allow_non_loopback=True)

    async def try_bind() -> None:
        await start_server(Emulator(State.from_document(generate(0))), "0.0.0.0", 0)

    with pytest.raises(NotLoopbackError):
        asyncio.run(try_bind())


def test_every_table_round_trips_through_a_generated_instance() -> None:
    doc = generate(400, seed=9)
    with running_emulator(doc) as emu:
        exported = emu.export()
    for table in TABLES:
        assert exported["tables"][table] == json.loads(json.dumps(doc["tables"][table])), table


@pytest.mark.slow
def test_generate_scales_to_50000_items() -> None:
    """50,000 items generate and load; how fast is bench/'s to say, not a clock in a test."""
    doc = generate(50_000, seed=1)
    content = sum(
        len(doc["tables"][t])
        for t in (
            "users",
            "groups",
            "roles",
            "permission_sets",
            "model_sets",
            "folders",
            "looks",
            "dashboards",
            "boards",
            "scheduled_plans",
        )
    )
    assert content >= 50_000
    loaded = State.from_document(doc).export(copy_records=False)
    assert len(loaded["tables"]["dashboards"]) == len(doc["tables"]["dashboards"])


def test_access_log_of_a_subprocess_never_blocks_it() -> None:
    with emulator_process("--access-log") as url:
        sdk = make_sdk(url, "lookervault", "emulator-secret")
        sdk.me()
        headers = {"Authorization": f"token {sdk.auth.token.access_token}"}
        for _ in range(2500):  # ~90 KB of log lines, more than a pipe buffer holds
            assert raw(sdk, "GET", f"{url}/api/4.0/folders/1", headers=headers).status_code == 200
        assert sdk.folder("1").name == "Shared"


def test_serve_saves_its_state_on_sigterm(tmp_path: Path) -> None:
    saved = tmp_path / "saved.json"
    with emulator_process(f"--save-state={saved}") as url:
        sdk = make_sdk(url, "lookervault", "emulator-secret")
        sdk.create_folder(m.CreateFolder(name="Kept across restarts", parent_id="1"))
    deadline = time.monotonic() + 20
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    doc = json.loads(saved.read_text())
    assert "Kept across restarts" in {f["name"] for f in doc["tables"]["folders"]}
    with emulator_process(state_file=saved) as url:
        sdk = make_sdk(url, "lookervault", "emulator-secret")
        assert [f.name for f in sdk.search_folders(name="Kept across restarts")] == [
            "Kept across restarts"
        ]
