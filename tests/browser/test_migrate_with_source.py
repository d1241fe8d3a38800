"""In Chromium: a lookervault-shaped backup planned into an empty instance shows which looks are
blocked and why, with the source-instance picker right there; planned again with the source and
applied, everything arrives and the source receives no write."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from restore import roles
from restore.models import Backup, Destination, RestoreSession
from tests.browser.conftest import login, make_user, screenshot
from tests.browser.test_restore_flow import WAIT_MS, api, wait_for_session_end, write_count

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def origin():
    from looker_emulator.testing import running_emulator

    with running_emulator(items=40, seed=5) as emu:
        yield emu


@pytest.fixture(scope="module")
def target():
    from looker_emulator.testing import running_emulator

    with running_emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def lookervault_backup(origin, tmp_path_factory):
    """Written as lookervault's `extract` writes it: looks carry a query_id and no query."""
    from looker_emulator.extract import extract

    queries = origin.export()["tables"]["queries"]
    merge = api(
        origin,
        "POST",
        "/merge_queries",
        {"source_queries": [{"name": "a", "query_id": q["id"]} for q in queries[:2]]},
    )
    dashboard = origin.export()["tables"]["dashboards"][0]["id"]
    tile = {"dashboard_id": dashboard, "type": "vis", "title": "Blend"}
    api(origin, "POST", "/dashboard_elements", {**tile, "merge_result_id": merge["id"]})
    path = tmp_path_factory.mktemp("extract") / "lookervault.db"
    extract(origin.url, path, client_id=origin.client_id, client_secret=origin.client_secret)
    return path


def register(name: str, emu) -> Destination:
    d = Destination(name=name, base_url=emu.url, client_id=emu.client_id, timeout=30)
    d.set_client_secret(emu.client_secret)
    d.save()
    return d


def test_blocked_looks_name_the_source_picker_and_with_it_everything_arrives(
    page, live_server, workers, fast_passwords, transactional_db, origin, target, lookervault_backup
):
    make_user("alice", roles.RESTORE_ADMIN)
    source = register("dev", origin)
    dest = register("prod", target)
    backup = Backup.register(lookervault_backup)
    assert backup.verify(), backup.verification_error
    login(page, live_server, "alice")
    origin.reset()

    # Planned without the source: the looks whose query is in no tile are blocked, saying why.
    page.goto(f"{live_server.url}/restores/new/?backup={backup.pk}&destination={dest.pk}")
    expect(page.locator("#selected-count")).to_contain_text("items selected", timeout=WAIT_MS)
    page.get_by_role("button", name=re.compile("^Plan")).click()
    assert wait_for_session_end(page) == "completed with failures"  # a plan with blocked items
    page.reload()
    card = page.locator("#blocked-reasons")
    expect(card).to_contain_text(
        re.compile(
            r"\d+ looks? needs? (its|their) query: it is not in this backup; name the source"
        )
    )
    expect(card).to_contain_text(re.compile(r"merged results: (its|their) merge query is not in"))
    screenshot(page, "plan-blocked-without-source")

    # The picker is right there: the form again, with this plan's options and the source chosen.
    card.get_by_label("Source instance (read only)").select_option(str(source.pk))
    card.get_by_role("button", name=re.compile("Restore again with this source")).click()
    expect(page.locator("#id_source")).to_have_value(str(source.pk))
    expect(page.locator("#id_destination")).to_have_value(str(dest.pk))
    screenshot(page, "new-restore-with-source")

    page.get_by_role("button", name=re.compile("^Plan")).click()
    assert wait_for_session_end(page) == "planned"
    page.reload()
    expect(page.locator("#blocked-reasons")).to_have_count(0)
    expect(page.locator("#outcome")).to_contain_text(re.compile(r"Plan: \d+ to create"))
    screenshot(page, "plan-with-source")

    page.locator("#apply-confirm").check()
    page.get_by_role("button", name="Apply this plan").click()
    assert wait_for_session_end(page) == "completed"
    page.reload()
    screenshot(page, "migrated-with-source")
    applied = RestoreSession.objects.filter(dry_run=False).get()
    assert (applied.failed, applied.config["source_destination_id"]) == (0, source.pk)
    assert write_count(origin) == 0  # the source was only ever read
