"""The header on a phone and on a desktop: every link and the account menu on screen (on a
phone, in the page menu)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount
from tests.browser.a11y import serious_violations

LINKS = ("Compare", "History", "Leaderboard", "Usage", "Batches", "Projects", "API")


def test_the_header_fits_a_desktop(browser: Browser, app_url: str, user: TestAccount) -> None:
    width = 1400
    context = browser.new_context(viewport={"width": width, "height": 800}, base_url=app_url)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        page.goto("/history")
        nav = page.get_by_role("navigation", name="Main")
        account = page.get_by_role("button", name="Account: Browser Tester")  # tests/browser/conftest.py
        expect(account).to_be_visible(timeout=30_000)
        for target in [*(nav.get_by_role("link", name=name, exact=True) for name in LINKS), account]:
            expect(target).to_be_visible()
            box = target.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
        expect(page.get_by_role("button", name="Menu")).to_have_count(0)  # the page menu is a phone's
    finally:
        context.close()


def test_a_phone_gets_a_one_row_header_and_a_menu(browser: Browser, app_url: str, user: TestAccount) -> None:
    """On a phone the header is the brand and a Menu button (it took ~165 px when it wrapped);
    the menu holds the links, the language, dark mode and the account's Settings and Sign out."""
    width, height = 390, 844
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=app_url)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        page.goto("/history")
        menu_button = page.get_by_role("button", name="Menu")
        expect(menu_button).to_be_visible(timeout=30_000)
        header = page.get_by_role("banner").bounding_box()
        assert header is not None and header["height"] <= 64, header
        expect(page.get_by_role("navigation", name="Main")).to_have_count(0)  # folded away

        menu_button.click()
        menu = page.get_by_role("dialog", name="Menu")
        expect(menu).to_be_visible()
        targets = [
            *(menu.get_by_role("link", name=name, exact=True) for name in LINKS),
            menu.get_by_role("combobox", name="Language / 言語"),
            menu.get_by_role("button", name="Dark mode"),
            menu.get_by_role("link", name="Settings", exact=True),
            menu.get_by_role("button", name="Sign out"),
        ]
        for target in targets:
            expect(target).to_be_visible()
            box = target.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
        assert serious_violations(page) == []

        menu.get_by_role("link", name="Settings", exact=True).click()
        expect(page).to_have_url(re.compile(r"/settings/?$"), timeout=30_000)
        expect(page.get_by_role("button", name="Menu")).to_be_visible(timeout=30_000)
    finally:
        context.close()


def test_the_first_tab_stop_skips_to_the_main_content(page: Page) -> None:
    page.goto("/history")
    expect(page.get_by_role("main")).to_be_attached(timeout=30_000)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    skip.press("Enter")
    assert page.evaluate("document.activeElement.tagName") == "MAIN"


SIGNED_IN_PAGES = ["/", "/history", "/leaderboard", "/usage", "/batches", "/projects", "/settings"]
PHONE = {"width": 390, "height": 844}
# Still streaming for a while after Run: the page is checked in its "streaming" state.
SLOW_PROMPT = "[[simulate:tokens=400]] How does a hash map handle collisions?"


def _assert_no_wider_than_a_phone(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.get_by_role("main")).to_be_attached(timeout=30_000)
    page.wait_for_load_state("networkidle")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5)
            .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (path, width, wide)


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_no_page_is_wider_than_a_phone(browser: Browser, app_url: str, user: TestAccount, path: str) -> None:
    context = browser.new_context(viewport=PHONE, base_url=app_url)  # type: ignore[arg-type]
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    try:
        _assert_no_wider_than_a_phone(context.new_page(), path)
    finally:
        context.close()


def _share_a_finished_comparison(page: Page) -> str:
    """Run one pane to the end and make a share link; returns the link's path."""
    page.goto("/compare?" + urlencode({"models": "simulated:swift", "prompt": "Name a river"}))
    # Run is enabled once the page is live (state/compare.py `loaded`): the click waits for it.
    page.get_by_role("button", name="Run", exact=True).click(timeout=30_000)
    expect(page.get_by_role("group", name="Figures", exact=True)).to_have_count(1, timeout=60_000)
    page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_role("textbox", name="Share link")
    expect(link).to_have_value(re.compile(r"/share/[\w-]{43}$"), timeout=15_000)
    return "/share/" + link.input_value().rsplit("/share/", 1)[1]


def test_the_shared_page_is_no_wider_than_a_phone(browser: Browser, app_url: str, page: Page) -> None:
    """The read-only page a share link opens, for a visitor who is not signed in, at 390 px."""
    path = _share_a_finished_comparison(page)
    visitor = browser.new_context(viewport=PHONE, base_url=app_url)  # type: ignore[arg-type]
    try:
        shared = visitor.new_page()
        _assert_no_wider_than_a_phone(shared, path)
        expect(shared.get_by_role("button", name="Run", exact=True)).to_have_count(0)  # read-only
    finally:
        visitor.close()


def test_the_compare_page_is_axe_clean_while_panes_stream(page: Page) -> None:
    """axe-core on the compare page in its "streaming" state (the empty and done states are
    checked in test_i18n and test_compare_page): live figures, Stop, running badges."""
    page.goto("/compare?" + urlencode({"models": "simulated:swift,simulated:steady", "prompt": SLOW_PROMPT}))
    page.get_by_role("button", name="Run", exact=True).click(timeout=30_000)  # enabled once live
    statuses = page.get_by_role("main").get_by_role("status").filter(has_text=re.compile(r"^running$"))
    expect(statuses).to_have_count(2, timeout=30_000)
    expect(page.get_by_role("group", name="Live figures")).to_have_count(2)
    assert serious_violations(page) == []
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()  # still streaming
    page.get_by_role("button", name="Stop", exact=True).click()


def test_focus_goes_into_the_system_prompt_and_back(page: Page) -> None:
    """A section that opens takes the focus; closing it gives the focus back to what opened it."""
    page.goto("/")
    opener = page.get_by_role("link", name="+ System prompt")
    expect(opener).to_be_visible(timeout=30_000)
    opener.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="System prompt", exact=True)).to_be_focused(timeout=15_000)
    page.get_by_role("link", name="Hide system prompt").click()
    expect(page.get_by_role("link", name="+ System prompt")).to_be_focused(timeout=15_000)
