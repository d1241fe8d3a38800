"""Upload a backup from the browser (with its progress bar); the qcluster verifies it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from restore import roles
from restore.models import Backup
from tests.browser.conftest import login, make_user, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def admin(fast_passwords, transactional_db):
    return make_user("alice", roles.RESTORE_ADMIN)


def test_upload_verify_and_browse(page, live_server, workers, admin, fixture_backup_path):
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/backups/")
    page.set_input_files("#upload-form input[type=file]", str(fixture_backup_path))
    # A slow link (~200 KB/s) so the upload progress bar has time to show.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-percent")).to_contain_text("%", timeout=10_000)
    assert int(page.locator("#upload-progress").get_attribute("value") or 0) < 100
    screenshot(page, "upload-progress")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.wait_for_url(re.compile(r"/backups/\d+/$"), timeout=60_000)
    # The check runs in the background; the panel polls until it has a result.
    expect(page.locator("#backup-status .status")).to_have_text("verified", timeout=60_000)
    expect(page.locator("#backup-status")).to_contain_text("23 items")
    page.reload()
    expect(page.locator(".counts")).to_contain_text("dashboard")
    screenshot(page, "backup")
    page.get_by_label("Name contains").fill("EMEA")
    expect(page.locator("#backup-items tbody tr")).to_have_count(3)  # group, folder, dashboard
    page.get_by_role("link", name="EMEA activity").click()
    expect(page.locator("pre.json")).to_contain_text('"title": "EMEA activity"')
    expect(page.get_by_role("heading", name="Dependencies")).to_be_visible()
    screenshot(page, "backup-item")
    page.goto(f"{live_server.url}/backups/")
    screenshot(page, "backups")


def test_upload_without_javascript(browser, live_server, admin, fixture_backup_path):
    """The form posted as plain HTML (JavaScript off): it uploads, and its page shows the backup.
    Verification runs in the qcluster, not here: the page is what this form is about."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    try:
        login(page, live_server, "alice")
        page.goto(f"{live_server.url}/backups/")
        page.set_input_files("#upload-form input[type=file]", str(fixture_backup_path))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url(re.compile(r"/backups/\d+/$"), timeout=60_000)
        expect(page.locator("body")).to_contain_text(f"Uploaded {fixture_backup_path.name}")
        backup = Backup.objects.get()
        assert Path(backup.path).read_bytes() == fixture_backup_path.read_bytes()
    finally:
        context.close()
