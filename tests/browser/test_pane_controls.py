"""Pane controls a person uses while comparing: a failing pane, expand, synced scrolling; what a
failed or stopped pane says it sent; which of its changes a screen reader announces."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import Page, expect

from backend.catalog import estimate_tokens
from tests.browser.conftest import HOSTILE_REPLY, open_with_first_pane, panes

OTHER_MODEL = "openai-compatible:hostile/evil"  # a real HTTP model that ignores the fail directive


def test_a_failing_pane_shows_its_error_and_the_others_finish(page: Page) -> None:
    open_with_first_pane(page, OTHER_MODEL)
    page.get_by_label("Prompt", exact=True).fill("Fail early please [[simulate:fail@5]]")
    page.get_by_role("button", name="Run").click()

    healthy = panes(page).first  # open_with_first_pane put OTHER_MODEL there
    expect(healthy.get_by_role("status")).to_have_text("done", timeout=30_000)
    expect(healthy.get_by_role("region", name=re.compile("^Answer"))).to_contain_text(HOSTILE_REPLY[-1])
    failed = panes(page).filter(has=page.get_by_role("group", name="Pane error"))
    expect(failed).to_have_count(2, timeout=30_000)
    expect(failed.get_by_role("status")).to_have_text(["error", "error"])
    expect(failed.first.get_by_role("group", name="Pane error")).to_contain_text("simulated failure")


def test_expand_gives_a_pane_the_full_width(page: Page) -> None:
    page.goto("/")
    second = panes(page).nth(1)
    expect(panes(page)).to_have_count(3, timeout=30_000)
    before = second.bounding_box()
    assert before is not None
    grown = "([el, w]) => el.getBoundingClientRect().width > w * 2"
    second.get_by_role("button", name="Expand pane").click()
    page.wait_for_function(grown, arg=[second.element_handle(), before["width"]])
    shrunk = "([el, w]) => el.getBoundingClientRect().width < w * 1.5"
    second.get_by_role("button", name="Expand pane").click()
    page.wait_for_function(shrunk, arg=[second.element_handle(), before["width"]])


def test_sync_scrolling_moves_the_other_panes(page: Page) -> None:
    page.goto("/")
    expect(panes(page)).to_have_count(3, timeout=30_000)
    page.get_by_label("Prompt", exact=True).fill("Long answers [[simulate:tokens=400]]")
    page.get_by_role("button", name="Run").click()
    expect(panes(page).get_by_role("status")).to_have_text(["done"] * 3, timeout=60_000)
    bodies = page.get_by_role("region", name=re.compile("^Answer"))
    scroll = "(el, top) => { el.scrollTop = top; el.dispatchEvent(new Event('scroll')); }"
    bodies.nth(1).evaluate("el => { el.scrollTop = 0; }")
    bodies.nth(0).evaluate(scroll, 0)
    bodies.nth(0).evaluate(scroll, 200)  # not synced yet: the others stay put
    page.wait_for_timeout(200)
    assert bodies.nth(1).evaluate("el => el.scrollTop") == 0

    page.get_by_text("Sync scrolling").click()
    page.wait_for_timeout(300)
    bodies.nth(0).evaluate(scroll, 400)
    page.wait_for_function("el => el.scrollTop > 0", arg=bodies.nth(1).element_handle(), timeout=5_000)


def _open(page: Page, prompt: str) -> None:
    page.goto("/compare?" + urlencode({"models": "simulated:swift", "prompt": prompt}))
    expect(panes(page)).to_have_count(1, timeout=30_000)


def _input_sent(prompt: str) -> str:
    """What a pane says it sent: the prompt's estimated input tokens (no system prompt here)."""
    return f"Input: about {estimate_tokens(chr(10) + prompt)} tokens"


def test_failed_and_stopped_panes_show_the_input_tokens_they_sent(page: Page) -> None:
    failing = "Tell me about bloom filters and their false positives [[simulate:fail@3]]"
    _open(page, failing)
    pane = panes(page).first
    page.get_by_role("button", name="Run", exact=True).click()
    expect(pane.get_by_role("status")).to_have_text("error", timeout=30_000)
    expect(pane.get_by_text(_input_sent(failing), exact=True)).to_be_visible()

    stalled = "Explain consistent hashing to a new engineer, slowly [[simulate:stall@3:30]]"
    _open(page, stalled)
    pane = panes(page).first
    page.get_by_role("button", name="Run", exact=True).click()
    expect(pane.get_by_role("status")).to_have_text("running", timeout=30_000)
    pane.get_by_role("button", name="Stop pane").click()
    expect(pane.get_by_role("status")).to_have_text("stopped", timeout=30_000)
    expect(pane.get_by_text(_input_sent(stalled), exact=True)).to_be_visible()

    finished = "Say hello [[simulate:tokens=3]]"  # a finished pane shows its figures instead
    _open(page, finished)
    pane = panes(page).first
    page.get_by_role("button", name="Run", exact=True).click()
    expect(pane.get_by_role("status")).to_have_text("done", timeout=30_000)
    expect(pane.get_by_text(re.compile("^Input: about"))).to_have_count(0)


# Every live region of the page (explicit, or implied by its role) and the text it holds.
LIVE_REGIONS = """() => {
    const live = '[aria-live]:not([aria-live="off"]), [role="status"], [role="log"], [role="alert"],'
        + ' [role="marquee"], [role="timer"], output';
    return Array.from(document.querySelectorAll(live)).map(e => ({
        role: e.getAttribute('role'), live: e.getAttribute('aria-live'), text: e.textContent,
    }));
}"""
IN_A_LIVE_REGION = """e => e.closest('[aria-live]:not([aria-live="off"]), [role="status"], [role="log"],'
    + ' [role="alert"], [role="marquee"], [role="timer"], output') !== null"""


def test_a_panes_status_changes_are_announced_politely_and_its_tokens_are_not(page: Page) -> None:
    _open(page, "Describe a B-tree in detail [[simulate:tokens=400]] [[simulate:stall@30:4]]")
    pane = panes(page).first
    status = pane.get_by_role("status")
    expect(status).to_have_text("idle")
    # Polite: role=status (aria-live polite implied) and nothing assertive around it.
    assert status.get_attribute("aria-live") in (None, "polite")
    assert status.evaluate('e => e.closest(\'[aria-live="assertive"], [role="alert"]\') === null')
    region = status.element_handle()

    page.get_by_role("button", name="Run", exact=True).click()
    answer = pane.get_by_role("region", name=re.compile("^Answer"))
    expect(answer).not_to_have_text("", timeout=30_000)  # tokens are streaming (held at token 30)
    expect(status).to_have_text("running")
    # The change happened inside the region that was already there: assistive technology
    # announces changes of a live region, not a region that appears with its text.
    assert region.evaluate("e => e.isConnected && e.textContent") == "running"

    streamed = answer.inner_text().strip()
    assert streamed
    assert answer.evaluate(IN_A_LIVE_REGION) is False
    figures = pane.get_by_role("group", name="Live figures")
    expect(figures).to_be_visible()
    assert figures.evaluate(IN_A_LIVE_REGION) is False  # the ticking figures are not announced
    regions = page.evaluate(LIVE_REGIONS)
    assert not [r for r in regions if streamed[:40] in (r["text"] or "")], regions
    assert {"role": "status", "live": None, "text": "running"} in regions

    expect(status).to_have_text("done", timeout=60_000)
    assert region.evaluate("e => e.isConnected && e.textContent") == "done"
