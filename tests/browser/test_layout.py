"""The header on a phone and on a desktop: every link and the account menu on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount

LINKS = ("Compare", "History", "Leaderboard", "Usage", "Batches", "Projects", "API")


@pytest.mark.parametrize("width", [390, 1400])
def test_the_header_fits_the_screen(browser: Browser, app_url: str, user: TestAccount, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800}, base_url=app_url)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        page.goto("/history")
        nav = page.get_by_role("navigation", name="Main")
        account = page.get_by_role("button", name="Browser Tester")  # tests/browser/conftest.py
        expect(account).to_be_visible(timeout=30_000)
        for target in [*(nav.get_by_role("link", name=name, exact=True) for name in LINKS), account]:
            expect(target).to_be_visible()
            box = target.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
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


@pytest.mark.parametrize("path", ["/", "/history", "/leaderboard", "/usage", "/projects", "/settings"])
def test_no_page_is_wider_than_a_phone(browser: Browser, app_url: str, user: TestAccount, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=app_url)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
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
        assert width <= 390, (path, width, wide)
    finally:
        context.close()
