"""The leaderboard page: the empty state, the board after votes (table, chart, win rates), the
filters, and the recommendation with its bad input."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/votes-ui-shots")
INSTANT, SWIFT = "simulated:instant", "simulated:swift"
FINAL = {"done", "error", "cancelled"}


def _voted(app_url: str, account: TestAccount, n: int) -> None:
    """``n`` finished comparisons of instant against swift through the API, swift voted best."""
    body = {"prompt": "[[simulate:tokens=3]] Name a prime", "panes": [{"model": INSTANT}, {"model": SWIFT}]}
    with httpx.Client(base_url=app_url, headers=account.api_headers, timeout=15) as api:
        ids = [api.post("/api/v1/comparisons", json=body).json()["id"] for _ in range(n)]
        deadline = time.monotonic() + 60
        for cid in ids:
            while {r["status"] for r in api.get(f"/api/v1/comparisons/{cid}").json()["runs"]} - FINAL:
                assert time.monotonic() < deadline, f"comparison {cid} did not finish"
                time.sleep(0.2)
            voted = api.post(f"/api/v1/comparisons/{cid}/votes", json={"best": 1})
            assert voted.status_code == 200, voted.text


def _tab(browser: Browser, app_url: str, account: TestAccount, width: int = 1400) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def test_empty_then_ranked_with_a_recommendation(browser: Browser, app_url: str, app_data_dir: Path) -> None:
    SHOTS.mkdir(exist_ok=True)
    account = account_in(app_data_dir, f"board-{uuid.uuid4().hex[:8]}@example.org")
    page = _tab(browser, app_url, account)
    try:
        page.goto("/")
        page.get_by_role("link", name="Leaderboard").click()  # in the header
        expect(page).to_have_url(f"{app_url}/leaderboard", timeout=15_000)
        page.mouse.move(700, 900)  # off the link: axe judges the page at rest, not a hovered link
        expect(page.get_by_role("status", name="Leaderboard status")).to_contain_text(
            "No votes here yet.", timeout=30_000
        )
        project = page.get_by_label("Project")
        expect(project.locator("option")).to_have_text(["All my projects", "Personal"])
        assert serious_violations(page) == []

        _voted(app_url, account, 6)
        page.reload()
        table = page.get_by_role("table", name="Models ranked by strength")
        expect(table.get_by_role("row")).to_have_count(3, timeout=30_000)  # header + 2 models
        first, second = table.get_by_role("row").nth(1), table.get_by_role("row").nth(2)
        expect(first).to_contain_text(SWIFT)
        expect(first).to_contain_text("needs 14 more")  # 6 of the 20 comparisons a rank needs
        expect(second).to_contain_text(INSTANT)
        expect(first.get_by_role("cell").nth(2)).to_have_text("6")  # comparisons
        expect(first.get_by_role("cell").nth(3)).to_have_text("$0")  # simulated models are free
        expect(first.get_by_role("cell").nth(4)).to_contain_text("ms")  # median TTFT
        expect(page.get_by_role("img", name="Strength of each model with its 95% interval")).to_be_visible()
        expect(page.locator(".recharts-errorBar")).to_have_count(2)  # one interval per model
        box = page.locator(".recharts-errorBar").first.bounding_box()
        assert box is not None and box["height"] > 5, box
        matrix = page.get_by_role("table", name="Pairwise win rates")
        expect(matrix.get_by_role("row").filter(has_text=SWIFT).last).to_contain_text("100%")

        page.get_by_label("Baseline model").select_option(INSTANT)
        rate = page.get_by_label("Minimum win rate (%)")
        rate.fill("50")
        page.get_by_role("button", name="Recommend").click()
        advice = page.get_by_role("status", name="Recommendation result")
        expect(advice).to_contain_text(f"Swift (simulated) ({SWIFT})", timeout=15_000)
        expect(advice).to_contain_text("6 of 6 comparisons")
        assert serious_violations(page) == []
        page.screenshot(path=str(SHOTS / "leaderboard-1400.png"), full_page=True)

        rate.fill("150")
        page.get_by_role("button", name="Recommend").click()
        expect(page.get_by_role("alert")).to_have_text("Enter a minimum win rate between 0 and 100 (%).")
        expect(advice).to_have_count(0)
        rate.fill("90")  # 6 of 6 leaves the interval's lower end near 61%
        page.get_by_role("button", name="Recommend").click()
        expect(advice).to_contain_text("Not enough evidence", timeout=15_000)

        page.get_by_label("Source").select_option("judge")  # no judge verdicts yet
        expect(page.get_by_role("status", name="Leaderboard status")).to_be_visible(timeout=15_000)
        page.get_by_label("Source").select_option("human")
        page.get_by_label("Time window").select_option("7d")
        expect(table.get_by_role("row")).to_have_count(3, timeout=15_000)
        project.select_option(label="Personal")
        expect(table.get_by_role("row").nth(1)).to_contain_text(SWIFT, timeout=15_000)
    finally:
        page.context.close()

    narrow = _tab(browser, app_url, account, width=390)
    try:
        narrow.goto("/leaderboard")
        expect(narrow.get_by_role("table", name="Models ranked by strength")).to_be_visible(timeout=30_000)
        expect(narrow.locator(".recharts-errorBar")).to_have_count(2)
        box = narrow.locator(".recharts-errorBar").first.bounding_box()
        assert box is not None and box["height"] > 5, box  # the interval is drawn, not just present
        # The header wraps instead of pushing the page sideways (the tables scroll in their boxes).
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 390
        narrow.screenshot(path=str(SHOTS / "leaderboard-390.png"), full_page=True)
    finally:
        narrow.context.close()
