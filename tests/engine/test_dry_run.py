"""Dry run: zero write requests (emulator stats), and its plan is what the real run then does, on
the production runner users run. A plan cancelled and resumed is the plan run in one go."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import client_for, make_destination, quick, run
from wreck import wreck

from looker_emulator.testing import running_emulator
from restore.engine.run.session import start_session
from restore.models import RestoreSession

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
    plan = start_session(backup, dest, quick(dry_run=True))
    planned = run(plan, client_for(emu, recorder))
    assert planned["failed"] == 0, planned
    assert writes(emu) == 0
    assert emu.stats()["creates"] == {}

    real = start_session(backup, dest, quick())
    done = run(real, client_for(emu, recorder))
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


def test_a_plan_cancelled_and_resumed_is_the_same_plan(source_emu, empty_emu, backup_factory):
    """Objects the plan would create get stand-in IDs that later items refer to (a look in a new
    folder): a resumed plan takes them back from its rows instead of failing those items."""
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    whole = start_session(backup, dest, quick(dry_run=True))
    assert run(whole, client_for(empty_emu))["failed"] == 0

    empty_emu.set_faults(latency_ms=20)
    parts = start_session(backup, dest, quick(dry_run=True, workers=2))
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(run(parts, client_for(empty_emu))))
    thread.start()
    deadline = time.monotonic() + 120
    while parts.results.count() < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    # The rest of the plan slows to a crawl, so the cancel always lands before its end.
    empty_emu.set_faults(latency_ms=3000)
    assert parts.cancel()
    thread.join(300)
    assert first["status"] == "cancelled", first
    assert parts.results.count() < whole.results.count()

    empty_emu.set_faults(latency_ms=0)
    resumed = run(parts, client_for(empty_emu))
    assert resumed["status"] == "completed" and resumed["failed"] == 0, resumed
    assert actions(parts) == actions(whole)
    assert (
        RestoreSession.objects.get(pk=parts.pk).created
        == RestoreSession.objects.get(pk=whole.pk).created
    )
