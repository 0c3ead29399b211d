"""Voting on a finished comparison: by role and name, changed, tallied; a viewer votes too; the
share page has no vote controls."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations
from tests.browser.conftest import panes

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000
MODELS = "simulated:instant,simulated:swift"
# Every pane stalls 2 s after its first token: long enough to see no vote controls mid-run.
PROMPT = "[[simulate:tokens=6]] [[simulate:stall@1:2]] Name a river"


def _run(page: Page) -> str:
    """Open a prefilled comparison, Run it, check no vote controls while it streams, wait
    until every pane has finished; returns the comparison id."""
    page.goto("/compare?" + urlencode({"models": MODELS, "prompt": PROMPT}))
    shown = panes(page)
    expect(shown).to_have_count(2, timeout=30_000)
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"\?c=\w+"), timeout=15_000)
    expect(shown.first.get_by_role("status")).to_have_text("running", timeout=15_000)
    expect(page.get_by_role("radiogroup", name="Best answer")).to_have_count(0)
    expect(shown.get_by_role("status")).to_have_text(["done"] * 2, timeout=RUN_TIMEOUT_MS)
    return page.url.split("?c=")[1]


def _tab(browser: Browser, app_url: str, account: TestAccount) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def _tally_row(page: Page, pane: str) -> list[str]:
    row = page.get_by_role("table", name="Votes per pane").get_by_role("row").filter(has_text=pane)
    return [c.strip() for c in row.get_by_role("cell").all_inner_texts()]


def test_members_vote_change_it_and_see_the_tally(
    browser: Browser, page: Page, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    comparison_id = _run(page)
    best = page.get_by_role("radiogroup", name="Best answer")
    expect(best).to_be_visible(timeout=15_000)
    expect(page.get_by_role("radio", name="Pane 1: simulated:instant")).to_be_visible()
    save = page.get_by_role("button", name="Save vote")
    save.click()  # nothing picked yet: a clear message, nothing saved
    expect(page.get_by_role("alert")).to_have_text(
        "Pick the best answer, or Tie or All bad, before saving your vote."
    )

    page.get_by_role("radio", name="Pane 2: simulated:swift").click()
    up = page.get_by_role("button", name="Thumbs up for pane 2")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Thumbs down for pane 1").click()
    page.get_by_label("Comment (optional)").fill("Swift names the river.")
    save.click()
    expect(page.get_by_role("status").filter(has_text="Your vote is saved")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("group", name="Vote totals")).to_have_text("Tie: 0 · All bad: 0 · 1 vote")
    assert _tally_row(page, "Pane 2: simulated:swift") == ["1", "1", "0"]
    assert _tally_row(page, "Pane 1: simulated:instant") == ["0", "0", "1"]
    assert serious_violations(page, "[data-testid=vote-panel]") == []
    Path("/tmp/votes-ui-shots").mkdir(exist_ok=True)
    page.get_by_role("region", name="Your vote").screenshot(path="/tmp/votes-ui-shots/vote-panel.png")

    page.reload()  # the form shows my vote
    expect(page.get_by_role("radio", name="Pane 2: simulated:swift")).to_be_checked(timeout=30_000)
    expect(page.get_by_role("button", name="Thumbs up for pane 2")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Thumbs up for pane 1")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_label("Comment (optional)")).to_have_value("Swift names the river.")
    page.get_by_role("radio", name="All bad").click()
    page.get_by_role("button", name="Change my vote").click()
    expect(page.get_by_role("group", name="Vote totals")).to_have_text(
        "Tie: 0 · All bad: 1 · 1 vote", timeout=15_000
    )
    assert _tally_row(page, "Pane 2: simulated:swift") == ["0", "1", "0"]
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/votes-ui-shots/compare-votes-390.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})

    # A viewer of the project votes too (Run stays disabled for them).
    viewer_email = f"viewer-{uuid.uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        project_id = api.get(f"/api/v1/comparisons/{comparison_id}").json()["project_id"]
        invite = {"email": viewer_email, "role": "viewer"}
        invited = api.put(f"/api/v1/projects/{project_id}/members", json=invite)
        assert invited.status_code < 300, invited.text
        share_path = api.post(f"/api/v1/comparisons/{comparison_id}/shares", json={}).json()["url_path"]
    viewer = _tab(browser, app_url, account_in(app_data_dir, viewer_email))
    try:
        viewer.goto(f"/?c={comparison_id}")
        expect(viewer.get_by_role("button", name="Run")).to_be_disabled(timeout=30_000)
        viewer.get_by_role("radio", name="Tie").click()
        viewer.get_by_role("button", name="Save vote").click()
        totals = viewer.get_by_role("group", name="Vote totals")
        expect(totals).to_have_text("Tie: 1 · All bad: 1 · 2 votes", timeout=15_000)
    finally:
        viewer.context.close()

    # A share-page visitor sees the answers and no vote controls.
    visitor = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url).new_page()
    try:
        visitor.goto(share_path)
        expect(visitor.get_by_role("group", name="Shared prompt")).to_have_text(PROMPT, timeout=30_000)
        time.sleep(1)  # give any late component a chance to appear before asserting absence
        expect(visitor.get_by_role("radiogroup", name="Best answer")).to_have_count(0)
        expect(visitor.get_by_role("button", name=re.compile("vote", re.I))).to_have_count(0)
        expect(visitor.get_by_role("button", name=re.compile("Thumbs", re.I))).to_have_count(0)
    finally:
        visitor.context.close()
