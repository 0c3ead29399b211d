"""Pane controls a person uses while comparing: a failing pane, expand, synced scrolling."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

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
