"""The throughput chart of a finished session, drawn by the page's own script with uPlot in
Chromium: its time axis ticks on whole seconds (no label twice), its line holds every point the
run published, its items/s axis starts at zero, and it follows the window's width."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from restore import roles
from restore.models import Backup, Destination, RestoreSession, file_sha256
from tests.browser.conftest import login, make_user, screenshot

pytestmark = pytest.mark.browser

# A short run: a point every half second for six seconds (uPlot alone would tick on halves).
SERIES = [{"t": 0.5 * n, "rate": 12.0 + (n % 5) * 3.5} for n in range(1, 13)]

# Keep each uPlot the page makes, to read the ticks it drew (its canvas holds no text).
KEEP_PLOTS = """
(() => {
  let real;
  Object.defineProperty(window, "uPlot", {
    configurable: true,
    get() { return real; },
    set(made) {
      real = function (opts, data, node) {
        const plot = new made(opts, data, node);
        (window.plots = window.plots || []).push(plot);
        return plot;
      };
      Object.assign(real, made);
    },
  });
})();
"""


@pytest.fixture
def finished(transactional_db, fixture_backup_path) -> RestoreSession:
    user = make_user("alice", roles.RESTORE_ADMIN)
    backup = Backup.objects.create(
        name="backup.db",
        path=str(fixture_backup_path),
        status=Backup.Status.VERIFIED,
        sha256=file_sha256(fixture_backup_path),
    )
    dest = Destination(name="production", base_url="https://looker.example.com", client_id="c")
    dest.set_client_secret("secret")
    dest.save()
    now = timezone.now()
    return RestoreSession.objects.create(
        backup=backup,
        destination=dest,
        started_by=user,
        started_at=now - timezone.timedelta(seconds=6),
        finished_at=now,
        status=RestoreSession.Status.COMPLETED,
        total=120,
        created=120,
        config={"workers": 8},
        progress={"total": 120, "done": 120, "elapsed_seconds": 6.0, "throughput_series": SERIES},
    )


def drawn(page) -> dict:
    return page.evaluate(
        """() => {
          const p = window.plots[0];
          return {width: p.width, t: Array.from(p.data[0]), rate: Array.from(p.data[1]),
                  splits: p.axes[0]._splits, labels: p.axes[0]._values,
                  y: [p.scales.y.min, p.scales.y.max]};
        }"""
    )


def test_the_chart_of_a_finished_session_ticks_on_whole_seconds(page, live_server, finished):
    page.add_init_script(KEEP_PLOTS)
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/sessions/{finished.pk}/")
    expect(page.locator(".throughput-chart canvas")).to_have_count(1)
    page.wait_for_function("() => (window.plots || []).length === 1")
    chart = drawn(page)
    page.locator("figure.chart").scroll_into_view_if_needed()
    screenshot(page, "session-chart")

    assert chart["t"] == [p["t"] for p in SERIES]
    assert chart["rate"] == [p["rate"] for p in SERIES]
    splits, labels = chart["splits"], chart["labels"]
    assert len(splits) >= 3 and all(s == int(s) for s in splits), splits
    assert len(set(labels)) == len(labels), labels  # never "2 s, 2 s"
    assert labels == [f"{int(s)} s" for s in splits]
    assert SERIES[0]["t"] <= splits[0] and splits[-1] <= SERIES[-1]["t"]
    low, high = chart["y"]
    assert low == 0 and max(p["rate"] for p in SERIES) <= high

    # A narrower window: the chart follows it, never wider than its card.
    wide = chart["width"]
    page.set_viewport_size({"width": 800, "height": 800})
    page.wait_for_function(f"() => window.plots[0].width < {wide}")
    card = page.locator(".throughput-chart").bounding_box()
    assert drawn(page)["width"] <= card["width"] + 1
