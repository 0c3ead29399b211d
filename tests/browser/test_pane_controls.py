"""Pane controls a person uses while comparing: a failing pane, expand, synced scrolling."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import HOSTILE_REPLY, open_with_first_pane

OTHER_MODEL = "openai-compatible:hostile/evil"  # a real HTTP model that ignores the fail directive


def test_a_failing_pane_shows_its_error_and_the_others_finish(page: Page) -> None:
    open_with_first_pane(page, OTHER_MODEL)
    page.get_by_label("Prompt", exact=True).fill("Fail early please [[simulate:fail@5]]")
    page.get_by_role("button", name="Run").click()

    healthy = page.locator(f"[data-testid=pane][data-model='{OTHER_MODEL}']")
    expect(healthy).to_have_attribute("data-status", "done", timeout=30_000)
    expect(healthy.get_by_role("region", name=re.compile("^Answer"))).to_contain_text(HOSTILE_REPLY[-1])
    failed = page.locator("[data-testid=pane][data-status=error]")
    expect(failed).to_have_count(2, timeout=30_000)
    expect(failed.first.get_by_role("group", name="Pane error")).to_contain_text("simulated failure")


def test_expand_gives_a_pane_the_full_width(page: Page) -> None:
    page.goto("/")
    panes = page.locator("[data-testid=pane]")
    expect(panes).to_have_count(3, timeout=30_000)
    before = panes.nth(1).bounding_box()
    panes.nth(1).get_by_label("Expand pane").click()
    page.wait_for_function(
        "(w) => document.querySelectorAll('[data-testid=pane]')[1].getBoundingClientRect().width > w * 2",
        arg=before["width"] if before else 0,
    )
    panes.nth(1).get_by_label("Expand pane").click()
    page.wait_for_function(
        "(w) => document.querySelectorAll('[data-testid=pane]')[1].getBoundingClientRect().width < w * 1.5",
        arg=before["width"] if before else 0,
    )


def test_sync_scrolling_moves_the_other_panes(page: Page) -> None:
    page.goto("/")
    expect(page.locator("[data-testid=pane]")).to_have_count(3, timeout=30_000)
    page.get_by_label("Prompt", exact=True).fill("Long answers [[simulate:tokens=400]]")
    page.get_by_role("button", name="Run").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=pane]')].every(p => p.dataset.status === 'done')",
        timeout=60_000,
    )
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
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=pane-text]')[1].scrollTop > 0", timeout=5_000
    )
