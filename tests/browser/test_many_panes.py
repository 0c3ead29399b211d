"""Many panes on one screen: eight side by side at 1440 px, a compact density, and on a phone
one pane at a time with its buttons inside its card. Found by role and accessible name."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright._impl._api_structures import FloatRect
from playwright.sync_api import Browser, Locator, Page, expect

from devstack.accounts import TestAccount

pytestmark = pytest.mark.browser

EIGHT = ",".join(["simulated:instant", "simulated:steady", "simulated:ponder", "simulated:coder"] * 2)
# Whether a pane shows its model's whole name: in its picker (the text fits beside the arrow), or
# written out in the pane, unclipped (a narrow pane wraps it under the picker).
WHOLE_NAME_SHOWN = """(pane) => {
    const select = pane.querySelector('select');
    const name = select.selectedOptions[0].text;
    const style = getComputedStyle(select);
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
    if (context.measureText(name).width <= room) return true;
    return [...pane.querySelectorAll('*')].some(e => e !== select && e.textContent === name
        && e.getClientRects().length > 0 && getComputedStyle(e).visibility === 'visible'
        && e.scrollWidth <= e.clientWidth);
}"""


def _tab(browser: Browser, app_url: str, user: TestAccount, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=app_url)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def _panes(page: Page) -> Locator:
    return (
        page.get_by_role("main").get_by_role("group").filter(has=page.get_by_role("combobox", name="Model"))
    )


def _inside(box: FloatRect | None, left: float, right: float) -> bool:
    return box is not None and box["x"] >= left - 1 and box["x"] + box["width"] <= right + 1


def test_eight_panes_fit_side_by_side_at_1440(browser: Browser, app_url: str, user: TestAccount) -> None:
    page = _tab(browser, app_url, user, 1440, 900)
    try:
        page.goto("/compare?" + urlencode({"models": EIGHT, "prompt": "[[simulate:tokens=3]] eight"}))
        panes = _panes(page)
        expect(panes).to_have_count(8, timeout=30_000)
        boxes = [pane.bounding_box() for pane in panes.all()]
        assert all(_inside(box, 0, 1440) for box in boxes), boxes
        tops = {round(box["y"]) for box in boxes if box}
        assert len(tops) == 1, f"the panes are not in one row: {tops}"
        assert boxes[0] and boxes[0]["y"] < 900, "the panes start below the fold"
        assert page.evaluate("document.documentElement.scrollWidth") <= 1440
        expect(page.get_by_role("button", name="Run", exact=True)).to_be_in_viewport()
        # Each model's whole name is shown (not cut off by a narrow pane) and on hover (title).
        for pane in panes.all():
            picker = pane.get_by_role("combobox", name="Model", exact=True)
            expect(picker).to_have_attribute("title", re.compile(r"^\w+ \(simulated\)$"))
            assert pane.evaluate(WHOLE_NAME_SHOWN), picker.get_attribute("title")

        compact = page.get_by_role("switch", name="Compact panes")
        compact.click()
        expect(compact).to_be_checked()
        assert all(_inside(pane.bounding_box(), 0, 1440) for pane in panes.all())
    finally:
        page.context.close()


def test_a_phone_shows_one_pane_at_a_time_with_its_buttons_inside(
    browser: Browser, app_url: str, user: TestAccount
) -> None:
    page = _tab(browser, app_url, user, 390, 844)
    try:
        page.goto("/")
        panes = _panes(page)
        expect(panes).to_have_count(3, timeout=30_000)
        first = panes.first
        card = first.bounding_box()
        assert card is not None and card["width"] <= 390
        for name in ("Expand pane", "Remove pane"):
            assert _inside(
                first.get_by_role("button", name=name).bounding_box(), card["x"], card["x"] + card["width"]
            )
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # The other panes are a swipe away: the row scrolls sideways, the page does not.
        panes.nth(1).scroll_into_view_if_needed()
        second = panes.nth(1).bounding_box()
        assert _inside(second, 0, 390), second
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.context.close()


@pytest.mark.parametrize("path", ["/login", "/compare"])
def test_signed_out_pages_fit_a_phone(browser: Browser, app_url: str, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=app_url)
    page = context.new_page()
    try:
        page.goto(path)
        expect(page.get_by_role("main")).to_be_attached(timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_history_keeps_its_main_columns_on_a_phone(browser: Browser, app_url: str, user: TestAccount) -> None:
    page = _tab(browser, app_url, user, 390, 844)
    try:
        page.goto("/history")
        expect(page.get_by_role("columnheader", name="Prompt")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("columnheader", name="Status")).to_be_visible()
        for name in ("Models", "Created"):  # there, folded away
            header = page.get_by_role("columnheader", name=name, include_hidden=True)
            expect(header).to_have_count(1)
            expect(header).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.context.close()
