"""Staff analytics in Chromium: the page holds still while it loads, and each table downloads as CSV."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .test_browser import _log_in, _shot, _until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CUMULATIVE_LAYOUT_SHIFT = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) { if (!entry.hadRecentInput) total += entry.value; }
  }).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(total), 300);
})"""


@pytest.mark.parametrize("width, height", [(1280, 900), (375, 812)])
def test_analytics_loads_without_layout_shift_and_exports_a_table(
    browser, live_server, staff_user, password, artifacts_dir, width, height
):
    from adminpanel.bulk_seed import seed

    seed(120, days=40, tag="cls")
    context = browser.new_context(viewport={"width": width, "height": height}, reduced_motion="reduce")
    page = _log_in(context, live_server, staff_user, password, "/staff/analytics/")
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
    _until(page, "() => window.Chart && window.Chart.getChart(document.getElementById('chart-revenue'))")
    # Load it again as a visitor on a slow connection with nothing cached: the icon font arrives late.
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 150, "downloadThroughput": 400_000, "uploadThroughput": 100_000},
    )
    page.goto(page.url)
    _until(page, "() => window.Chart && window.Chart.getChart(document.getElementById('chart-revenue'))", 30)
    page.wait_for_load_state("load")
    shift = page.evaluate(CUMULATIVE_LAYOUT_SHIFT)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    assert shift < 0.1, f"cumulative layout shift {shift:.3f} at {width}px"
    refunds = page.evaluate(
        "() => window.Chart.getChart(document.getElementById('chart-revenue')).data.datasets"
        ".find(d => d.label === 'Refunds').backgroundColor"
    )
    assert refunds == "#b91c1c"  # red is kept for money lost
    _shot(page, artifacts_dir, f"analytics-export-{width}")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV of revenue per period").click()
    download = info.value
    assert download.suggested_filename.startswith("analytics-revenue-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0][:2] == ["period start", "gross"] and len(rows) > 1
    context.close()
