"""The usage page: empty, then the figures of finished runs (chart, table by model, burn-down),
the filters, an export downloaded from the page, and the page on a phone."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/usage-ui-shots")
INSTANT, SWIFT = "simulated:instant", "simulated:swift"
FINAL = {"done", "error", "cancelled"}


def _finished(app_url: str, account: TestAccount, n: int) -> None:
    body = {"prompt": "[[simulate:tokens=5]] Count", "panes": [{"model": INSTANT}, {"model": SWIFT}]}
    with httpx.Client(base_url=app_url, headers=account.api_headers, timeout=15) as api:
        ids = [api.post("/api/v1/comparisons", json=body).json()["id"] for _ in range(n)]
        deadline = time.monotonic() + 60
        for cid in ids:
            while {r["status"] for r in api.get(f"/api/v1/comparisons/{cid}").json()["runs"]} - FINAL:
                assert time.monotonic() < deadline, f"comparison {cid} did not finish"
                time.sleep(0.2)


def _tab(browser: Browser, app_url: str, account: TestAccount, width: int = 1400) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 1000}, base_url=app_url, accept_downloads=True
    )
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def test_usage_figures_filters_and_export(
    browser: Browser, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    """``user`` first: the app's first account is its admin, and this one must not be."""
    SHOTS.mkdir(exist_ok=True)
    account = account_in(app_data_dir, f"usage-{uuid.uuid4().hex[:8]}@example.org")
    page = _tab(browser, app_url, account)
    try:
        page.goto("/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
        expect(page).to_have_url(f"{app_url}/usage", timeout=15_000)
        page.mouse.move(700, 900)  # off the link: axe judges the page at rest
        expect(page.get_by_role("status", name="Usage status")).to_be_visible(timeout=30_000)
        expect(page.get_by_label("Project").locator("option")).to_have_text(["All my projects", "Personal"])
        assert serious_violations(page) == []

        _finished(app_url, account, 3)
        page.reload()
        table = page.get_by_role("table", name="Usage by model")
        expect(table.get_by_role("row")).to_have_count(3, timeout=30_000)  # header + 2 models
        instant = table.get_by_role("row").filter(has_text=INSTANT)
        expect(instant.get_by_role("cell").nth(0)).to_have_text("3")  # runs
        expect(instant.get_by_role("cell").nth(1)).to_have_text("0%")  # error rate
        expect(instant.get_by_role("cell").nth(5)).to_contain_text("ms")  # TTFT p50
        expect(page.get_by_role("group", name="Usage total")).to_have_text(
            "6 runs, $0.00 in the last 30 days."
        )
        chart = page.get_by_role("img", name="Spend (USD) and runs per day or week")
        expect(chart).to_be_visible()
        expect(chart.locator(".recharts-line")).to_have_count(2)  # runs and errors
        expect(
            page.get_by_role("img", name="This month's spend against the monthly budget, day by day")
        ).to_be_visible()
        expect(page.get_by_role("group", name="Budget burn-down summary")).to_contain_text(
            "No monthly budget set"
        )
        burn = page.get_by_role("img", name="This month's spend against the monthly budget, day by day")
        expect(burn.locator(".recharts-line")).to_have_count(1)  # no budget: the spend alone
        assert serious_violations(page) == []
        page.screenshot(path=str(SHOTS / "usage-1400.png"), full_page=True)

        page.get_by_label("Group by").select_option("week")
        page.get_by_label("Time window").select_option("7d")
        expect(page.get_by_role("group", name="Usage total")).to_have_text(
            "6 runs, $0.00 in the last 7 days.", timeout=15_000
        )
        page.get_by_label("Project").select_option(label="Personal")
        expect(table.get_by_role("row")).to_have_count(3, timeout=15_000)

        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name="Download CSV").click()
        saved = Path(download.value.path()).read_text()
        lines = saved.splitlines()
        assert lines[0].startswith("run_id,comparison_id,project_id") and len(lines) == 7, lines[:2]
        assert download.value.suggested_filename.endswith(".csv")
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name="Download JSON Lines").click()
        assert len(Path(download.value.path()).read_text().splitlines()) == 6

        page.goto("/settings")
        page.get_by_label("Monthly budget in USD").fill("5")
        page.get_by_role("button", name="Save budget").click()
        expect(page.get_by_role("group", name="Monthly budget")).to_contain_text("5", timeout=15_000)
        page.goto("/usage")
        expect(page.get_by_role("group", name="Budget burn-down summary")).to_have_text(
            re.compile(r"\$0\.00 of \$5\.00 spent in \d{4}-\d{2}; \$5\.00 left\."), timeout=30_000
        )
        burn = page.get_by_role("img", name="This month's spend against the monthly budget, day by day")
        expect(burn.locator(".recharts-line")).to_have_count(3)  # spent, remaining, even pace
        assert serious_violations(page) == []
    finally:
        page.context.close()

    narrow = _tab(browser, app_url, account, width=390)
    try:
        narrow.goto("/usage")
        expect(narrow.get_by_role("table", name="Usage by model")).to_be_visible(timeout=30_000)
        narrow.wait_for_load_state("networkidle")
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 390
        narrow.screenshot(path=str(SHOTS / "usage-390.png"), full_page=True)
    finally:
        narrow.context.close()
