"""Dry run: zero write requests (emulator stats), and its plan is what the real run then does."""

from __future__ import annotations

import pytest
from conftest import client_for, make_destination
from wreck import wreck

from looker_emulator.testing import running_emulator
from restore.engine.config import RestoreConfig
from restore.engine.session import run_session, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def writes(emu) -> int:
    return sum(
        r["count"]
        for r in emu.stats()["requests"]
        if r["method"] != "GET" and not r["route"].endswith(("/login", "/logout"))
    )


def actions(session) -> dict[tuple[int, str], str]:
    return dict(
        ((ct, sid), action)
        for ct, sid, action in session.results.values_list("content_type", "source_id", "action")
    )


def changed_fields(session) -> dict[tuple[int, str], list]:
    """Per updated item, its writes. Positions of tiles the run creates are only known once Looker
    has placed them, so component PATCHes are left out of the comparison (the plan lists them)."""
    out = {}
    for r in session.results.filter(action="updated"):
        out[(r.content_type, r.source_id)] = sorted(
            (c["method"], c["path"] if c["method"] != "POST" else "", sorted(c.get("fields") or {}))
            for c in (r.diff or {}).get("changes", [])
            if "/dashboard_layout_components/" not in c["path"]
        )
    return out


def check_plan_matches_run(emu, backup, dest, recorder) -> None:
    emu.reset()
    plan = start_session(backup, dest, RestoreConfig(dry_run=True))
    planned = run_session(plan, client_for(emu, recorder))
    assert planned["failed"] == 0, planned
    assert writes(emu) == 0
    assert emu.stats()["creates"] == {}

    real = start_session(backup, dest, RestoreConfig())
    done = run_session(real, client_for(emu, recorder))
    assert done["failed"] == 0, done
    assert actions(plan) == actions(real)
    assert changed_fields(plan) == changed_fields(real)
    for key in ("created", "updated", "unchanged", "skipped"):
        assert planned[key] == done[key], key


def test_dry_run_same_instance_after_wreck(tmp_path, backup_factory, recorder):
    with running_emulator(items=300, seed=21) as emu:
        backup = backup_factory(emu)
        dest = make_destination(emu)
        wreck(client_for(emu), seed=2)
        check_plan_matches_run(emu, backup, dest, recorder)


def test_dry_run_cross_instance_into_empty(source_emu, empty_emu, backup_factory, recorder):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    check_plan_matches_run(empty_emu, backup, dest, recorder)
