"""A schedule of a look or dashboard this run created is not searched for on it: nothing can be on
it yet. Once the look or dashboard existed before the run, the schedule's search is back."""

from __future__ import annotations

import pytest
from conftest import client_for, make_backup, make_destination, quick, run

from looker_emulator.testing import RunningEmulator, running_emulator
from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)

PLAN_SEARCHES = (
    "/api/4.0/scheduled_plans/dashboard/{dashboard_id}",
    "/api/4.0/scheduled_plans/look/{look_id}",
)


def count(emu: RunningEmulator, routes: tuple[str, ...]) -> int:
    return sum(r["count"] for r in emu.stats()["requests"] if r["route"] in routes)


def test_schedules_of_new_content_are_not_searched_for_and_existing_content_is(tmp_path):
    with running_emulator(items=120, seed=4) as src, running_emulator() as empty:
        backup = make_backup(src, tmp_path / "src.db")
        plans = len(client_for(src).get("/scheduled_plans", {"all_users": "true"}) or [])
        assert plans > 0
        dest = make_destination(empty, "empty")
        first = run(start_session(backup, dest, quick()), client_for(empty))
        assert first["failed"] == 0, first
        assert first["by_type"]["scheduled_plan"]["created"] == plans, first["by_type"]
        assert count(empty, PLAN_SEARCHES) == 0

        dest_client = client_for(empty)
        gone = dest_client.get("/scheduled_plans", {"all_users": "true"})[0]
        dest_client.delete(f"/scheduled_plans/{gone['id']}")
        empty.reset()
        again = run(start_session(backup, dest, quick()), client_for(empty))
        assert again["failed"] == 0, again
        assert again["by_type"]["scheduled_plan"]["created"] == 1, again["by_type"]
        assert count(empty, PLAN_SEARCHES) == 1  # its look or dashboard was there already
