"""Signing up and in through the real login page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from devstack.accounts import DEFAULT_PASSWORD

# An init script (BrowserContext.add_init_script) that records, on every change of the page,
# whether the sign-in form's "New here?" button is there, keeping only the changes:
# `form_shown(page)` == [False, True] is a form that appeared once and stayed.
WATCH_SIGN_IN_FORM = """
window.__formShown = [];
new MutationObserver(() => {
  const shown = Array.from(document.querySelectorAll('button'))
    .some((b) => b.textContent.includes('New here? Create an account'));
  const seen = window.__formShown;
  if (seen[seen.length - 1] !== shown) seen.push(shown);
}).observe(document, { subtree: true, childList: true });
"""


def form_shown(page: Page) -> list[bool]:
    return list(page.evaluate("window.__formShown"))


def sign_up(page: Page, base_url: str, email: str, password: str = DEFAULT_PASSWORD, name: str = "") -> None:
    """Create an account on /login (the page must be on /login or redirect there)."""
    if "/login" not in page.url:
        page.goto(f"{base_url}/login")
    # With no account yet the page opens on sign-up (the first account is the admin).
    to_sign_up = page.get_by_role("button", name="New here? Create an account")
    expect(to_sign_up.or_(page.get_by_role("button", name="Create account", exact=True))).to_be_visible(
        timeout=30_000
    )
    if to_sign_up.is_visible():
        to_sign_up.click()
    page.get_by_role("textbox", name="Name (shown to people you work with)").fill(name or email.split("@")[0])
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def sign_in(page: Page, base_url: str, email: str, password: str = DEFAULT_PASSWORD) -> None:
    if "/login" not in page.url:
        page.goto(f"{base_url}/login")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile(r"^Account")).click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(lambda url: "/login" in url, timeout=15_000)
