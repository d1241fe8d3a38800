"""wreck: a deterministic disaster, done through the API and reported exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from looker_emulator.testing import running_emulator
from looker_emulator.wreck import wreck

ROOT = Path(__file__).resolve().parents[2]
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


def rows(doc: dict, kind: str) -> dict[str, dict]:
    return {r["id"]: r for r in doc["tables"][TABLES[kind]]}


def deleted_subtree(doc: dict, roots: list[str]) -> set[str]:
    """Folders a folder deletion takes with it (Looker deletes the whole subtree)."""
    parents = {r["id"]: r.get("parent_id") for r in doc["tables"]["folders"]}
    gone = set(roots)
    changed = True
    while changed:
        new = {f for f, p in parents.items() if p in gone} - gone
        changed = bool(new)
        gone |= new
    return gone


def writes(stats: dict) -> int:
    return sum(
        r["count"]
        for r in stats["requests"]
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
        and not r["route"].endswith(("/login", "/logout"))
    )


def test_it_deletes_trashes_and_modifies_what_it_reports() -> None:
    with running_emulator(items=300, seed=3) as emu:
        before = emu.export()
        report = wreck(emu.url, seed=9, fraction=0.25)
        after = emu.export()
    counts = report["counts"]
    assert counts["deleted"]["dashboard"] and counts["trashed"]["look"]
    assert counts["modified"]["dashboard"] and counts["modified"]["user"]
    changes = [c for cs in report["modified"]["dashboard"].values() for c in cs]
    for kind in ("delete_element", "element_title", "move_component", "folder_id"):
        assert any(c.startswith(kind) for c in changes), kind
    assert not report["refused"], report["refused"]
    for kind, ids in report["deleted"].items():
        assert len(ids) == counts["deleted"][kind]
        for rid in ids:
            assert rid in rows(before, kind) and rid not in rows(after, kind), (kind, rid)
    gone_folders = deleted_subtree(before, report["deleted"].get("folder", []))
    gone_users = set(report["deleted"].get("user", []))
    for kind, ids in report["trashed"].items():
        for rid in ids:
            assert not rows(before, kind)[rid].get("deleted")
            if rid not in rows(after, kind):  # trashed, then deleted with its folder
                assert rows(before, kind)[rid]["folder_id"] in gone_folders
                continue
            assert rows(after, kind)[rid]["deleted"] is True
    for kind, changed in report["modified"].items():
        for rid, changes in changed.items():
            old, new = rows(before, kind)[rid], rows(after, kind).get(rid)
            if (
                new is None
            ):  # deleted with its folder, or (a schedule) with its owner, as Looker does
                gone_with_folder = (
                    kind in ("dashboard", "look") and old["folder_id"] in gone_folders
                )
                gone_with_owner = kind == "scheduled_plan" and old["user_id"] in gone_users
                assert gone_with_folder or gone_with_owner, (kind, rid)
                continue
            assert old != new, (kind, rid, changes)
            for change in changes:
                if change in ("title", "name", "first_name"):
                    assert "(wrecked" in new[change] and new[change] != old.get(change)
                if change.startswith("delete_element:"):
                    gone = change.split(":", 1)[1]
                    assert gone not in {r["id"] for r in after["tables"]["dashboard_elements"]}
                if change.startswith("move_component:"):
                    cid = change.split(":", 1)[1]
                    comps = {c["id"]: c for c in after["tables"]["dashboard_layout_components"]}
                    was = {c["id"]: c for c in before["tables"]["dashboard_layout_components"]}
                    assert comps[cid]["row"] == was[cid]["row"] + 6
                if change.startswith("folder_id:"):
                    assert new["folder_id"] == change.split(":", 1)[1]
    # The instance stays usable: system folders and the API user are untouched.
    assert rows(after, "folder")["1"] == rows(before, "folder")["1"]
    api_user = before["api_user_id"]
    assert rows(after, "user")[api_user] == rows(before, "user")[api_user]


def test_the_same_seed_does_the_same_damage() -> None:
    reports = []
    for _ in range(2):
        with running_emulator(items=200, seed=4) as emu:
            reports.append(wreck(emu.url, seed=21, fraction=0.3))
            reports[-1].pop("url")
    assert reports[0] == reports[1]
    with running_emulator(items=200, seed=4) as emu:
        other = wreck(emu.url, seed=22, fraction=0.3)
    assert other["deleted"] != reports[0]["deleted"] or other["modified"] != reports[0]["modified"]


def test_fraction_zero_writes_nothing() -> None:
    with running_emulator(items=100, seed=2) as emu:
        emu.reset()
        report = wreck(emu.url, seed=1, fraction=0)
        assert writes(emu.stats()) == 0
    assert all(not v for v in report["counts"].values())


def test_the_wreck_command_prints_its_json_summary() -> None:
    with running_emulator(items=80, seed=6) as emu:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "looker_emulator",
                "wreck",
                "--url",
                emu.url,
                "--seed",
                "3",
                "--fraction",
                "0.2",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["seed"] == 3 and summary["fraction"] == 0.2
        assert sum(sum(c.values()) for c in summary["counts"].values()) > 0
        bad = subprocess.run(
            [
                sys.executable,
                "-m",
                "looker_emulator",
                "wreck",
                "--url",
                emu.url,
                "--seed",
                "3",
                "--fraction",
                "1.5",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bad.returncode == 1 and "fraction" in bad.stderr
