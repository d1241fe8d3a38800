"""Every page at 800 px in Chromium: no horizontal scroll, and what the page is for in view.

The rows are made in the database (what a finished restore, a plan, a rollback preview, a DLQ item
and ID mappings leave behind), with long names where a person would have them; the pages render
them through the live server. The restore form is checked at 800×600: its buttons above the fold,
its advanced options folded. Each page is saved to docs/screenshots/narrow-*.png.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from restore import roles
from restore.engine.core.content_types import ContentType
from restore.engine.run.runner import refresh_counters
from restore.models import (
    Backup,
    DeadLetterItem,
    Destination,
    IDMapping,
    RestoreItemResult,
    RestoreSession,
    file_sha256,
)
from tests.browser.conftest import SCREENSHOTS, login, make_user, screenshot

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 800, 600
LONG = "Quarterly revenue by region and product line, with regional targets and forecasts"
RETRIED = [
    {"at": 1795951265.48, "status": 503, "error_class": "LookerApiError", "message": "503 on GET"},
    {"at": 1795951266.02, "status": 429, "error_class": "LookerApiError", "message": "429 on GET"},
]


@pytest.fixture
def rows(transactional_db, fixture_backup_path) -> dict[str, str]:
    """The pages to look at, by name: their paths."""
    user = make_user("alice", roles.RESTORE_ADMIN)
    backup = Backup.objects.create(
        name="lookervault-2026-11-29-production-instance.db",
        path=str(fixture_backup_path),
        status=Backup.Status.VERIFIED,
        sha256=file_sha256(fixture_backup_path),
        item_counts={"dashboard": 2, "look": 2, "folder": 3},
        source_instance="https://source.looker.example.com",
    )
    dest = Destination(
        name="production",
        base_url="https://company-production-instance.cloud.looker.com",
        client_id="a-rather-long-api3-client-id-0123456789",
    )
    dest.set_client_secret("secret")
    dest.save()
    now = timezone.now()
    common = {"backup": backup, "destination": dest, "started_by": user, "started_at": now}
    run = RestoreSession.objects.create(
        **common,
        status=RestoreSession.Status.COMPLETED_WITH_FAILURES,
        total=3,
        config={"workers": 8, "selection": {"content_types": [1, 2]}},
        finished_at=now,
        progress={"transient_retried": {"503": 200, "429": 80}},
    )
    change = {
        "method": "PATCH",
        "path": "/dashboards/102",
        "fields": {"title": ["Revenue (old)", LONG]},
    }
    results = [
        ("101", LONG, "created", None, None),
        ("102", "EMEA activity", "updated", {"changes": [change], "verify": None}, RETRIED),
        ("103", LONG + " (copy)", "failed", None, None),
    ]
    for sid, name, action, diff, retries in results:
        RestoreItemResult.objects.create(
            session=run,
            content_type=ContentType.DASHBOARD,
            source_id=sid,
            name=name,
            action=action,
            destination_id="5" + sid if action != "failed" else "",
            diff=diff,
            pre_image={"title": "Revenue (old)"} if diff else None,
            retries=retries,
            message="Looker API 422: Validation Failed: " + "x" * 200 if action == "failed" else "",
        )
    refresh_counters(run)
    dead = DeadLetterItem.objects.create(
        session=run,
        content_type=ContentType.DASHBOARD,
        content_id="103",
        name=LONG + " (copy)",
        error_message="Looker API 422: Validation Failed on POST /api/4.0/dashboards " + "y" * 300,
        error_class="LookerApiError",
        http_status=422,
        response_body='{"message": "Validation Failed", "errors": [' + '"z",' * 80 + '"z"]}',
        request_method="POST",
        request_path="/api/4.0/dashboards",
        request_payload={"title": LONG, "description": "d" * 400},
        stack_trace="Traceback (most recent call last):\n" + "  File ...\n" * 20,
        attempts=RETRIED,
    )
    plan = RestoreSession.objects.create(
        **common,
        dry_run=True,
        status=RestoreSession.Status.COMPLETED,
        total=2,
        config={"workers": 8, "dry_run": True, "selection": {"content_types": [1]}},
        finished_at=now,
    )
    for sid, name, action in (("101", LONG, "created"), ("102", "EMEA activity", "updated")):
        RestoreItemResult.objects.create(
            session=plan,
            content_type=ContentType.DASHBOARD,
            source_id=sid,
            name=name,
            action=action,
            diff={"changes": [change]} if action == "updated" else None,
        )
    refresh_counters(plan)
    preview = RestoreSession.objects.create(
        **common,
        kind=RestoreSession.Kind.ROLLBACK,
        rollback_of=run,
        dry_run=True,
        status=RestoreSession.Status.COMPLETED,
        total=1,
        config={"dry_run": True},
        finished_at=now,
    )
    RestoreItemResult.objects.create(
        session=preview,
        content_type=ContentType.DASHBOARD,
        source_id="101",
        name=LONG,
        action="created",
        destination_id="5101",
    )
    refresh_counters(preview)
    for sid in ("1", "10", "100"):
        IDMapping.objects.create(
            source_instance="https://source.looker.example.com",
            destination_instance=dest,
            content_type=ContentType.DASHBOARD,
            source_id=sid,
            destination_id="9" + sid,
            session=run,
        )
    item = run.results.get(source_id="102")
    return {
        "session": f"/sessions/{run.pk}/",
        "plan": f"/sessions/{plan.pk}/",
        "item": f"/sessions/{run.pk}/results/{item.pk}/",
        "dlq-item": f"/dlq/{dead.pk}/",
        "destinations": "/destinations/",
        "backup-browser": f"/backups/{backup.pk}/",
        "restore-form": f"/restores/new/?backup={backup.pk}",
        "rollback-preview": f"/sessions/{preview.pk}/",
        "id-mappings": "/mappings/",
    }


# What each page is for: these must be on screen, whole, at 800 px.
KEY = {
    "session": [
        "#outcome",
        "#session-status",
        "#retried",
        "th:has-text('Action')",
        "th:has-text('Details')",
    ],
    "plan": ["#outcome", "button:has-text('Apply this plan')", "th:has-text('Plan')"],
    "item": ["h1", "#retried-attempts table", "text=EMEA activity"],
    "dlq-item": ["h1", "button:has-text('Retry')", "button:has-text('Dismiss with this note')"],
    "destinations": ["th:has-text('Health')", "button:has-text('Test connection')"],
    "backup-browser": ["#id_owner", "#id_folder", "th:has-text('Owner')", "th:has-text('Updated')"],
    "restore-form": ["button:has-text('Plan (dry run')", "button:has-text('Review and restore')"],
    "rollback-preview": [
        "#outcome:has-text('Rollback preview: 1 to delete')",  # a preview says "would"
        "td:has-text('would delete')",
        "button:has-text('Roll back this restore')",
    ],
    "id-mappings": [
        "th:has-text('Name')",
        "th:has-text('Destination ID')",
        "th:has-text('Session')",
    ],
}


@pytest.mark.parametrize("name", list(KEY))
def test_the_page_fits_800_px_with_what_it_is_for_in_view(page, live_server, rows, name):
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    login(page, live_server, "alice")
    page.goto(live_server.url + rows[name])
    page.wait_for_load_state("networkidle")
    for selector in KEY[name]:
        element = page.locator(selector).first
        expect(element).to_be_visible()
        box = element.bounding_box()  # where it is, without scrolling anything sideways
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (
            selector,
            box,
        )
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], widths
    # Nor a table that scrolls sideways inside its box, its columns hidden behind the scroll.
    wide = page.evaluate(
        """[...document.querySelectorAll('.table-wrap, table, pre')]
             .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
             .filter(e => e.tagName !== 'PRE')
             .map(e => `${e.tagName}.${e.className} ${e.scrollWidth}>${e.clientWidth}`)"""
    )
    assert wide == [], wide
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"narrow-{name}.png"), full_page=True)


def test_the_restore_form_has_its_buttons_above_the_fold_and_advanced_folded(
    page, live_server, rows
):
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    login(page, live_server, "alice")
    page.goto(live_server.url + rows["restore-form"])
    advanced = page.locator("details#advanced")
    expect(advanced).not_to_have_attribute("open", "")
    expect(page.get_by_label("Workers")).to_be_hidden()
    for name in ("Plan (dry run, writes nothing)", "Review and restore…"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["y"] + box["height"] <= HEIGHT, (name, box)
    page.get_by_text("Advanced: workers").click()
    expect(page.get_by_label("Workers")).to_be_visible()
    page.get_by_label("Workers").evaluate("e => e.scrollIntoView({block: 'center'})")
    screenshot(page, "narrow-restore-form-advanced")


def test_the_confirm_page_offers_plan_first_then_the_plan_of_the_same_selection(
    page, live_server, rows
):
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    login(page, live_server, "alice")
    page.goto(live_server.url + rows["restore-form"])
    page.locator("input[name=types][value=dashboard]").check()
    page.get_by_role("button", name="Review and restore…").click()
    expect(page.locator("h1")).to_have_text("Confirm the restore")
    expect(page.get_by_text("Run a plan first")).to_have_count(0)
    screenshot(page, "confirm-plan-first")
    page.get_by_role("button", name="Plan first (writes nothing)").click()
    expect(page.locator("h1")).to_contain_text("Plan")
    plan = RestoreSession.objects.filter(dry_run=True).latest("created_at")
    assert plan.config["selection"]["content_types"] == [int(ContentType.DASHBOARD)]
    # Once that plan has finished, the confirm page of the same selection offers to apply it.
    plan.status, plan.created, plan.updated = RestoreSession.Status.COMPLETED, 2, 0
    plan.finished_at = timezone.now()
    plan.save()
    page.goto(live_server.url + rows["restore-form"])
    page.locator("input[name=types][value=dashboard]").check()
    page.get_by_role("button", name="Review and restore…").click()
    found = page.locator("#plan-found")
    expect(found).to_contain_text(f"You planned this selection: plan {plan.pk}")
    expect(found.get_by_role("button", name=f"Apply plan {plan.pk}")).to_be_visible()
    expect(page.get_by_role("button", name="Plan again (writes nothing)")).to_be_visible()
    screenshot(page, "confirm-plan-found")
