"""End to end in Chromium: upload a backup, plan and run a restore, fill the DLQ, retry in one click.

The app is pytest-django's live_server; restores run in a real qcluster subprocess against the
Looker emulator over HTTP. Each main page is saved to docs/screenshots/.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from restore import roles
from restore.models import Backup, DeadLetterItem, Destination, RestoreSession
from tests.browser.conftest import login, make_user, screenshot

pytestmark = pytest.mark.browser

WAIT_MS = 90_000


@pytest.fixture(scope="module")
def emulator():
    from looker_emulator.testing import running_emulator

    with running_emulator(items=60, seed=7) as emu:
        yield emu


@pytest.fixture(scope="module")
def backup_file(emulator, tmp_path_factory) -> Path:
    from looker_emulator.extract import extract

    path = tmp_path_factory.mktemp("extract") / "looker-backup.db"
    extract(
        emulator.url,
        path,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        shape="raw",
    )
    return path


@pytest.fixture
def admin(fast_passwords, transactional_db):
    return make_user("alice", roles.RESTORE_ADMIN)


@pytest.fixture
def destination(transactional_db, emulator) -> Destination:
    emulator.set_faults(clear=True)
    d = Destination(
        name="emulator", base_url=emulator.url, client_id=emulator.client_id, timeout=30
    )
    d.set_client_secret(emulator.client_secret)
    d.save()
    return d


def api(emulator, method: str, path: str, body: dict | None = None) -> dict:
    """A direct Looker API call to the emulator (playing a person who edits Looker meanwhile)."""
    login = urllib.request.Request(
        f"{emulator.url}/api/4.0/login",
        data=urllib.parse.urlencode(
            {"client_id": emulator.client_id, "client_secret": emulator.client_secret}
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(login, timeout=10) as response:
        token = json.loads(response.read())["access_token"]
    request = urllib.request.Request(
        f"{emulator.url}/api/4.0{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def get_dashboard(emulator, dashboard_id: str) -> dict:
    return api(emulator, "GET", f"/dashboards/{dashboard_id}")


def patch_dashboard_title(emulator, dashboard_id: str, title: str) -> None:
    api(emulator, "PATCH", f"/dashboards/{dashboard_id}", {"title": title})


def write_count(emulator) -> int:
    """Requests that change state, as the emulator counted them."""
    return sum(
        r["count"]
        for r in emulator.stats()["requests"]
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE") and "log" not in r["route"]
    )


def wait_for(probe, seconds: float = 90):
    """Poll the database until `probe()` returns something (bounded in time)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"nothing after {seconds} s")


def wait_for_session_end(page) -> str:
    badge = page.locator("#session-status")
    expect(badge).to_have_text(re.compile("completed|failed|cancelled|planned"), timeout=WAIT_MS)
    return badge.inner_text()


def test_plan_then_apply_exactly_that_plan_then_roll_back(
    page, live_server, workers, admin, destination, backup_file, emulator
):
    login(page, live_server, "alice")

    backup = Backup.register(backup_file, user=admin)
    assert backup.verify(), backup.verification_error
    page.goto(f"{live_server.url}/backups/{backup.pk}/")
    # Open a dashboard of the backup and restore it on its own.
    page.goto(page.url + "?content_type=dashboard")
    link = page.locator("#backup-items tbody a").first
    dashboard_id = link.get_attribute("href").rstrip("/").rsplit("/", 1)[-1]
    link.click()
    expect(page.locator("pre.json")).to_contain_text('"title"')
    screenshot(page, "backup-item")
    page.get_by_role("link", name="Restore this dashboard").click()
    expect(page.locator("#selected-count")).to_contain_text("1 item selected", timeout=WAIT_MS)
    screenshot(page, "new-restore")

    # Someone changed the dashboard since the backup. Plan first: a dry run that writes nothing.
    patch_dashboard_title(emulator, dashboard_id, "Changed after the backup")
    writes_before = write_count(emulator)
    page.get_by_role("button", name=re.compile("^Plan")).click()
    assert wait_for_session_end(page) == "planned"
    page.reload()
    assert write_count(emulator) == writes_before
    plan = RestoreSession.objects.get()
    assert plan.dry_run
    # A plan reads as a plan: what it would do, no run's bar, speed or rate limiter.
    expect(page.locator("#outcome")).to_contain_text(
        re.compile(r"Plan: \d+ to create, 1 to update")
    )
    expect(page.locator("#plan")).to_contain_text("Would update")
    expect(page.locator("#session-progress")).to_have_count(0)
    expect(page.get_by_text("items/s")).to_have_count(0)
    expect(page.get_by_text("Rate limit")).to_have_count(0)
    page.get_by_role("link", name="Changes").first.click()
    diff = page.locator(".diff")
    expect(diff).to_contain_text("Changed after the backup")
    expect(diff).to_contain_text("What the plan would change in emulator")
    expect(diff).to_contain_text('~ title "Changed after the backup" →')
    expect(diff).not_to_contain_text("PATCH")
    expect(diff).not_to_contain_text("saved for rollback")
    screenshot(page, "plan")

    # The destination moves again before the plan is applied: shown, and nothing is written.
    patch_dashboard_title(emulator, dashboard_id, "Changed again")
    writes_before = write_count(emulator)
    page.locator("#apply-confirm").check()
    page.get_by_role("button", name="Apply this plan").click()
    assert wait_for_session_end(page) == "failed"
    page.reload()
    changed = page.locator("#changed-since-plan")
    expect(changed).to_contain_text("1 object changed or appeared in emulator since plan")
    expect(changed).to_contain_text(
        "title is now 'Changed again', the plan saw 'Changed after the backup'"
    )
    expect(changed).to_contain_text("Nothing was written.")
    assert write_count(emulator) == writes_before
    assert get_dashboard(emulator, dashboard_id)["title"] == "Changed again"
    screenshot(page, "apply-refused")

    # Apply anyway: exactly the planned items are restored.
    page.get_by_role("button", name=re.compile("Apply plan \\d+ anyway")).click()
    assert wait_for_session_end(page) == "completed"
    page.reload()
    expect(page.locator("#outcome")).to_contain_text("restored")
    real = RestoreSession.objects.filter(dry_run=False, status="completed").get()
    # One total on the page, and a finished run is all done.
    items = f"{real.total} item{'s' if real.total != 1 else ''}"
    expect(page.locator("#session-progress .big")).to_have_text(f"{real.total} of {items} done")
    expect(page.locator("#outcome")).to_contain_text(f"All {items} restored")
    screenshot(page, "session")
    real = RestoreSession.objects.filter(dry_run=False, status="completed").get()
    planned = set(
        plan.results.filter(action__in=("created", "updated")).values_list(
            "content_type", "source_id"
        )
    )
    assert set(real.results.values_list("content_type", "source_id")) == planned
    assert real.failed == 0 and real.updated >= 1
    assert get_dashboard(emulator, dashboard_id)["title"] not in (
        "Changed again",
        "Changed after the backup",
    )

    # Undo it: the page moves to the rollback itself, which puts the saved pre-image back.
    page.locator("#rollback-confirm").check()
    page.get_by_role("button", name="Roll back this restore").click()
    expect(page.locator("h1")).to_contain_text("Rollback", timeout=WAIT_MS)
    expect(page.locator(".banner")).to_contain_text(f"Undoes restore {real.pk}")
    assert wait_for_session_end(page) == "completed"
    rollback = RestoreSession.objects.get(kind="rollback", dry_run=False)
    assert rollback.rollback_of_id == real.pk and rollback.started_by_id == admin.pk
    assert get_dashboard(emulator, dashboard_id)["title"] == "Changed again"
    page.reload()
    rollback.refresh_from_db()
    expect(page.locator(".banner")).to_contain_text(
        f"deleted {rollback.created} objects it created"
        if rollback.created
        else f"put back {rollback.updated} object"
    )
    screenshot(page, "rollback")
    # The restore now says it was rolled back, and offers no second rollback.
    page.goto(f"{live_server.url}/sessions/{real.pk}/")
    expect(page.locator(".banner.warn")).to_contain_text(f"rolled back by rollback {rollback.pk}")
    expect(page.get_by_role("button", name="Roll back this restore")).to_have_count(0)


def fits_width(page, selector: str) -> bool:
    """No horizontal scroll: the element is no wider than what the window shows of it."""
    return page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].every(e => e.scrollWidth <= e.clientWidth + 1)"
        " && document.documentElement.scrollWidth <= window.innerWidth + 1",
        selector,
    )


def test_bulk_restore_fills_the_dlq_and_one_click_retry_fixes_it(
    page, live_server, workers, admin, destination, backup_file, emulator
):
    backup = Backup.register(backup_file, user=admin)
    assert backup.verify(), backup.verification_error
    # Every request about a look is refused: a permanent error, so those items go to the DLQ.
    emulator.set_faults(
        add_rules=[{"method": "*", "path": "*/looks/*", "status": 422, "count": None}]
    )
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/restores/new/?backup={backup.pk}&types=look")
    page.get_by_role("button", name=re.compile("Review and restore")).click()
    page.locator("#confirm").check()
    page.get_by_role("button", name=re.compile(r"^Restore \d+ items? into emulator")).click()
    wait_for_session_end(page)
    session = RestoreSession.objects.get()
    assert session.failed > 0
    assert DeadLetterItem.objects.filter(session=session, status="open").count() == session.failed
    page.reload()
    # Red when anything failed: the badge, the outcome, the red part of the bar.
    expect(page.locator("#session-status")).not_to_have_text("completed")
    expect(page.locator("#outcome.bad")).to_contain_text(
        re.compile(rf"{session.failed} of {session.total} items failed|every item failed")
    )
    expect(page.locator("#session-progress .bar span.failed").first).to_be_visible()
    expect(page.get_by_text("Rate limiter")).to_have_count(0)
    expect(page.locator("nav .nav-count")).to_have_text(str(session.failed))  # DLQ size in the menu
    # A failed row says what Looker's answer means; the error as recorded stays folded.
    expect(page.locator("table.results .msg.error").first).to_contain_text(
        "422: Looker refused this data"
    )
    expect(page.locator("table.results details.raw-error pre").first).to_be_hidden()
    screenshot(page, "session-with-failures")

    page.get_by_role("link", name=re.compile("open in the dead-letter queue")).first.click()
    rows = page.locator("#dlq-table tbody tr")
    expect(rows).to_have_count(session.failed)
    expect(rows.first).to_contain_text("422: Looker refused this data")
    expect(rows.first).not_to_contain_text("LookerApiError")
    screenshot(page, "dlq")
    page.goto(f"{live_server.url}/dlq/triage/")
    expect(page.locator("table")).to_contain_text("422: Looker refused this data")
    screenshot(page, "dlq-triage")
    page.go_back()

    # Dismissing needs a note, asks first, and can be undone.
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    last = rows.last
    last.locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Dismiss selected").click()
    expect(page.locator(".messages")).to_contain_text("Write a note")
    rows.last.locator("input[type=checkbox]").check()
    page.locator("#bulk-note").fill("look retired on purpose")
    page.get_by_role("button", name="Dismiss selected").click()
    expect(page.locator(".messages")).to_contain_text("Dismissed 1 item.")
    page.locator(".messages").get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("Open again: 1 item.")
    expect(rows).to_have_count(session.failed)

    # Remove the fault and retry the first item with one click: its row updates in place.
    emulator.set_faults(clear=True)
    first = rows.first
    item_id = first.get_attribute("id")
    first_pk = int(item_id.rsplit("-", 1)[-1])
    first.get_by_role("button", name="Retry").focus()  # keyboard only: focus, then Enter
    page.keyboard.press("Enter")
    row = page.locator(f"#{item_id}")
    expect(row.locator(".status")).to_have_text("resolved", timeout=WAIT_MS)
    screenshot(page, "dlq-after-retry")
    # Re-run the rest from the session's page: it asks first, then opens the retry's own page.
    page.goto(f"{live_server.url}/sessions/{session.pk}/")
    page.get_by_role("button", name=re.compile(r"^Re-run \d+ failed items?")).click()
    expect(page.locator("h1")).to_contain_text("Retry", timeout=WAIT_MS)
    assert questions[-1].startswith("Re-run the "), questions
    retry = RestoreSession.objects.filter(kind="retry").latest("pk")
    expect(page.locator(".messages a")).to_contain_text(f"in retry {retry.pk}")
    assert wait_for_session_end(page) == "completed"
    page.goto(f"{live_server.url}/sessions/{session.pk}/")
    # What the run did stays as it was; the fixes are said beside it, by the retries that made them.
    expect(page.locator("#outcome")).to_contain_text(
        re.compile(rf"{session.failed} of {session.total}\)?( items failed)?; "
                   rf"{session.failed} fixed since by retries \d+ and {retry.pk}")
    )  # fmt: skip
    screenshot(page, "session-after-retry")
    page.goto(f"{live_server.url}/dlq/{first_pk}/")
    expect(page.locator("#failure-words")).to_contain_text("422: Looker refused this data")
    expect(page.locator("#for-engineers")).not_to_have_attribute("open", "")
    screenshot(page, "dlq-item")
    page.goto(f"{live_server.url}/")
    screenshot(page, "dashboard")
    page.goto(f"{live_server.url}/history/")
    # The session still counts what it did; the retry and the dismissal are in the history.
    expect(page.locator("#history-table")).to_contain_text(
        f"{session.failed} failed ({session.failed} since retried)"
    )
    actions = page.locator("#dlq-actions")
    expect(actions).to_contain_text("look retired on purpose")
    expect(actions).to_contain_text("Undo dismissal")
    expect(actions).to_contain_text("Retry")
    screenshot(page, "history")

    # At 800 px the columns that say what happened stay in view, with no sideways scroll.
    page.set_viewport_size({"width": 800, "height": 800})
    for path, name, must_show in (
        ("/", "dashboard-800", "failed"),
        ("/history/", "history-800", "failed"),
        ("/dlq/?status=", "dlq-800", "Retry"),
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main table").first.get_by_text(must_show).first).to_be_visible()
        assert fits_width(page, "main .table-wrap"), path
        screenshot(page, name)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/mappings/")
    screenshot(page, "mappings")
    page.goto(f"{live_server.url}/destinations/")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".health-msg")).to_contain_text("Connected", timeout=WAIT_MS)
    screenshot(page, "destinations")


def test_cancel_then_resume_from_the_session_page(
    page, live_server, workers, admin, destination, backup_file, emulator
):
    backup = Backup.register(backup_file, user=admin)
    assert backup.verify(), backup.verification_error
    emulator.set_faults(latency_ms=300)  # slow enough to cancel mid-way
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/restores/new/?backup={backup.pk}&types=look&types=dashboard")
    page.get_by_text("Advanced: workers").click()  # folded by default
    page.get_by_label("Workers").fill("1")
    page.get_by_role("button", name=re.compile("Review and restore")).click()
    page.locator("#confirm").check()
    page.get_by_role("button", name=re.compile(r"^Restore \d+ items into emulator")).click()
    expect(page.locator("#session-status")).to_have_text("running", timeout=WAIT_MS)
    expect(page.locator("#session-progress .big")).not_to_contain_text("0 of", timeout=WAIT_MS)
    screenshot(page, "session-running")
    page.once("dialog", lambda dialog: dialog.accept())  # Cancel asks first
    page.get_by_role("button", name="Cancel").click()
    assert wait_for_session_end(page) == "cancelled"
    session = RestoreSession.objects.get()
    assert session.done_count < session.total or session.total == 0

    emulator.set_faults(clear=True)
    page.get_by_role("button", name="Resume").click()
    assert wait_for_session_end(page) == "completed"
    session.refresh_from_db()
    assert session.failed == 0 and session.done_count == session.total
