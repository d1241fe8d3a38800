"""What changed, in Chromium: an item's history, two backups compared, drift since a backup.

Three real lookervault-shaped backups of one emulator instance taken between known changes; the
pages at 1280 and 800 px, no sideways scroll, saved to docs/screenshots/changes-*.png. "Restore this
version" opens the restore form for that item from that backup; "Plan restoring the selected"
plans exactly the ticked items.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from restore import roles
from restore.models import RestoreSession
from tests.browser.conftest import SCREENSHOTS, login, make_user
from tests.changes_scenario import (
    Scenario,
    finished_drift,
    register,
    requests_by_method,
    scenario_fixture,  # noqa: F401
)

pytestmark = pytest.mark.browser
OTHER_INSTANCE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "fixtures"
    / "lookervault-extract-parallel.db"
)


@pytest.fixture
def pages(transactional_db, scenario: Scenario) -> dict[str, str]:
    make_user("alice", roles.RESTORE_ADMIN)
    backups = register(scenario.paths, named=True)
    drift = finished_drift(scenario, backups[0], "production")
    (other,) = register([OTHER_INSTANCE])
    first, last = backups[0], backups[-1]
    return {
        "history": f"/backups/{last.pk}/items/dashboard/{scenario.renamed_dashboard}/",
        "history-folded": f"/backups/{first.pk}/items/look/{scenario.deleted_look}/",
        "diff": f"/backups/diff/?a={first.pk}&b={last.pk}",
        "diff-other-instance": f"/backups/diff/?a={first.pk}&b={other.pk}&type=look&change=removed",
        "drift": f"/sessions/{drift.pk}/drift/",
        "drift-session": f"/sessions/{drift.pk}/",
        "lineage": "/backups/",
        "backup": f"/backups/{backups[1].pk}/",
        "first": str(first.pk),
        "middle": str(backups[1].pk),
    }


def look_at(page, name: str, width: int) -> None:
    page.wait_for_load_state("networkidle")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], (name, width, widths)
    suffix = "-narrow" if width < 1000 else ""
    page.screenshot(path=str(SCREENSHOTS / f"changes-{name}{suffix}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 800])
def test_the_pages_at_both_widths(page, live_server, pages, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    login(page, live_server, "alice")
    for name in (
        "history",
        "history-folded",
        "diff",
        "diff-other-instance",
        "drift",
        "drift-session",
        "lineage",
        "backup",
    ):
        page.goto(live_server.url + pages[name])
        look_at(page, name, width)
    page.goto(live_server.url + pages["history"])
    expect(page.get_by_role("heading", name=re.compile("History in lineage"))).to_be_visible()


def test_the_pages_word_changes_as_the_plan_does(page, live_server, pages, scenario) -> None:
    """One wording everywhere: the history, the diff and the drift page show a change as a plan
    line, sign first, a folder by its name."""
    login(page, live_server, "alice")
    was, to = scenario.look_folders
    t = scenario.titles
    page.goto(live_server.url + pages["history"])
    history = page.locator(".item-history .plan-diff li")
    expect(history.first).to_have_text(f'~ title "{t[0]}" → "{t[1]}"')
    page.goto(live_server.url + pages["diff"])
    lines = page.locator(".diff-table .plan-diff li")
    expect(lines.filter(has_text="Added note")).to_have_text('+ tile "Added note" added')
    expect(lines.filter(has_text="folder")).to_have_text(f'~ folder "{was}" → "{to}"')
    default = f'"{scenario.filter_default}"' if scenario.filter_default else "(empty)"
    expect(lines.filter(has_text="filter")).to_contain_text(f'default {default} → "30 days"')
    page.goto(live_server.url + pages["drift"])
    lines = page.locator(".diff-table .plan-diff li")
    expect(lines.filter(has_text="folder")).to_have_text(f'~ folder "{was}" → "{to}"')


def test_restore_this_version_opens_the_form_for_that_version(page, live_server, pages) -> None:
    login(page, live_server, "alice")
    page.goto(live_server.url + pages["history"])
    page.locator(".version").nth(1).get_by_role("link", name="Restore this version").click()
    page.wait_for_url(re.compile(r"/restores/new/"))
    assert f"backup={pages['middle']}" in page.url
    expect(page.locator("#id_backup")).to_have_value(pages["middle"])


def test_plan_restoring_the_selected(page, live_server, pages, scenario: Scenario) -> None:
    login(page, live_server, "alice")
    page.goto(live_server.url + pages["drift"])
    page.get_by_label(re.compile(r"Pick look")).first.check()
    page.locator(f"input[value='dashboard:{scenario.renamed_dashboard}']").check()
    page.get_by_role("button", name="Plan restoring the selected").click()
    page.wait_for_url(re.compile(r"/sessions/\d+/$"))
    plan = RestoreSession.objects.get(kind="restore", dry_run=True)
    assert plan.options.selection["ids"][0] == f"dashboard::{scenario.renamed_dashboard}"
    assert len(plan.options.selection["ids"]) == 2


def test_a_drift_check_started_from_the_backup_page(
    page, live_server, workers, pages, scenario: Scenario
) -> None:
    """The button on a backup's page starts a drift session that a real qcluster runs; the page
    follows it until the findings are there. Nothing is written."""
    before = requests_by_method(scenario.emu)
    login(page, live_server, "alice")
    page.goto(live_server.url + f"/backups/{pages['first']}/")
    page.get_by_role("button", name="What changed since this backup?").click()
    page.wait_for_url(re.compile(r"/sessions/\d+/drift/$"))
    expect(page.get_by_text("3 changed since")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Brand new")).to_be_visible()
    assert set(requests_by_method(scenario.emu) - before) == {"GET"}
