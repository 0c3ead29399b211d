"""The Judge and Improve prompt panels on a finished comparison, by role and name: a too long
rubric is refused with a message, simulated:judge judges both orders and names the winner, a
viewer reads the verdicts without a Judge button; an improvement accepted opens as version 2,
listed with version 1 and badged in History."""

from __future__ import annotations

import re
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
MODELS = "simulated:terse,simulated:coder"  # simulated:judge prefers coder's structured answer
PROMPT = "Explain how a bloom filter answers membership queries"
SHOTS = Path("/tmp/judge-ui-shots")


def _run_to_the_end(page: Page) -> None:
    expect(panes(page)).to_have_count(2, timeout=30_000)
    expect(panes(page).get_by_role("status")).to_have_text(["done"] * 2, timeout=RUN_TIMEOUT_MS)


def _viewer_tab(browser: Browser, app_url: str, account: TestAccount) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def test_judge_then_improve_and_open_version_2(
    browser: Browser, page: Page, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.goto("/compare?" + urlencode({"models": MODELS, "prompt": PROMPT}))
    expect(panes(page)).to_have_count(2, timeout=30_000)
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"\?c=\w+"), timeout=15_000)
    comparison_id = page.url.split("?c=")[1]
    _run_to_the_end(page)

    panel = page.get_by_role("region", name="Judge", exact=True)
    expect(panel.get_by_role("heading", name="Judge")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("combobox", name="Judge model")).to_have_value("simulated:judge")
    rubric = page.get_by_role("textbox", name="Rubric", exact=True)
    expect(rubric).to_have_value(re.compile("^Judge which answer better serves"))
    judge = page.get_by_role("button", name="Judge", exact=True)

    rubric.fill("x" * 4001)  # over the limit: a clear message, nothing started
    judge.click()
    expect(panel.get_by_role("alert")).to_have_text(
        "The rubric is 4,001 characters long; at most 4,000 are allowed.", timeout=15_000
    )
    expect(panel.get_by_role("group", name="Judgement", exact=True)).to_have_count(0)
    rubric.fill("Prefer the more complete, better organised answer.")
    expect(panel.get_by_role("alert")).to_have_count(0)
    judge.click()

    result = panel.get_by_role("group", name="Pair result")
    expect(result).to_have_text("Pane 2 (simulated:coder) wins", timeout=30_000)
    expect(panel.get_by_role("group", name="Judgement", exact=True).get_by_text("Finished")).to_be_visible()
    orders = panel.get_by_role("group", name="Judge order")
    expect(orders).to_have_count(2)
    expect(orders.first).to_contain_text("A: Pane 1 (simulated:terse) · B: Pane 2 (simulated:coder)")
    expect(orders.first).to_contain_text("Prefers Pane 2 (simulated:coder)")
    expect(orders.nth(1)).to_contain_text("A: Pane 2 (simulated:coder) · B: Pane 1 (simulated:terse)")
    expect(panel.get_by_text("Both orders agree.")).to_be_visible()
    expect(judge).to_be_enabled()
    assert serious_violations(page, "[data-testid=judge-panel]") == []
    panel.screenshot(path=str(SHOTS / "judge-panel-1400.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    panel.screenshot(path=str(SHOTS / "judge-panel-390.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    # A viewer of the project reads the verdict; there is no Judge button for them.
    viewer_email = f"viewer-{uuid.uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        project_id = api.get(f"/api/v1/comparisons/{comparison_id}").json()["project_id"]
        invited = api.put(
            f"/api/v1/projects/{project_id}/members", json={"email": viewer_email, "role": "viewer"}
        )
        assert invited.status_code < 300, invited.text
    viewer = _viewer_tab(browser, app_url, account_in(app_data_dir, viewer_email))
    try:
        viewer.goto(f"/?c={comparison_id}")
        expect(viewer.get_by_role("group", name="Pair result")).to_have_text(
            "Pane 2 (simulated:coder) wins", timeout=30_000
        )
        expect(viewer.get_by_role("button", name="Judge", exact=True)).to_have_count(0)
        expect(viewer.get_by_role("combobox", name="Judge model")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Improve prompt")).to_have_count(0)
    finally:
        viewer.context.close()

    # Improve prompt: a proposal, discarded, asked again and accepted: version 2 opens.
    improve = page.get_by_role("region", name="Improve prompt")
    expect(page.get_by_role("combobox", name="Model that improves")).to_have_value("simulated:judge")
    page.get_by_role("button", name="Improve prompt").click()
    expect(page.get_by_role("group", name="Revised prompt", exact=True)).to_contain_text(
        PROMPT, timeout=30_000
    )
    expect(page.get_by_role("group", name="Reason", exact=True)).not_to_be_empty()
    page.get_by_role("button", name="Discard").click()
    expect(page.get_by_role("group", name="Proposed revision")).to_have_count(0)
    page.get_by_role("button", name="Improve prompt").click()
    expect(page.get_by_role("group", name="Revised system prompt")).not_to_be_empty(timeout=30_000)
    assert serious_violations(page, "[data-testid=improve-panel]") == []
    improve.screenshot(path=str(SHOTS / "improve-proposal-1400.png"))
    page.get_by_role("button", name="Accept").click()

    expect(page).not_to_have_url(re.compile(f"c={comparison_id}"), timeout=15_000)
    expect(page).to_have_url(re.compile(r"\?c=\w+"))
    new_id = page.url.split("?c=")[1]
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(
        re.compile(re.escape(PROMPT)), timeout=30_000
    )
    _run_to_the_end(page)
    expect(page.get_by_role("heading", name="Version 2 of this prompt")).to_be_visible(timeout=30_000)
    versions = page.get_by_role("table", name="Versions of this prompt")
    expect(versions.get_by_role("row")).to_have_count(3)  # header, v1, v2
    expect(versions.get_by_role("link", name="v1")).to_have_attribute("href", f"/?c={comparison_id}")
    expect(versions.get_by_role("rowheader", name="v2 (this one)")).to_be_visible()
    expect(page.get_by_role("group", name="Judgement", exact=True)).to_have_count(
        0
    )  # the new version has no judge yet
    assert serious_violations(page, "[data-testid=improve-panel]") == []
    improve.screenshot(path=str(SHOTS / "versions-1400.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    improve.screenshot(path=str(SHOTS / "versions-390.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    # History badges both versions.
    page.goto("/history")
    new_row = page.get_by_role("row").filter(has=page.locator(f'a[href="/?c={new_id}"]'))
    expect(new_row).to_contain_text("v2", timeout=30_000)
    old_row = page.get_by_role("row").filter(has=page.locator(f'a[href="/?c={comparison_id}"]'))
    expect(old_row).to_contain_text("v1")
