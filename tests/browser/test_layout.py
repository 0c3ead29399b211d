"""The header on a phone and on a desktop: every link and the account menu on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from devstack.accounts import TestAccount

LINKS = ("Compare", "History", "Leaderboard", "Projects", "API")


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
