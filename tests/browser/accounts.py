"""Signing up and in through the real login page."""

from __future__ import annotations

from playwright.sync_api import Page

from devstack.accounts import DEFAULT_PASSWORD


def sign_up(page: Page, base_url: str, email: str, password: str = DEFAULT_PASSWORD, name: str = "") -> None:
    """Create an account on /login (the page must be on /login or redirect there)."""
    if "/login" not in page.url:
        page.goto(f"{base_url}/login")
    page.locator("#to-sign-up").click()
    page.locator("#auth-display_name").fill(name or email.split("@")[0])
    page.locator("#auth-email").fill(email)
    page.locator("#auth-password").fill(password)
    page.locator("#sign-up-button").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def sign_in(page: Page, base_url: str, email: str, password: str = DEFAULT_PASSWORD) -> None:
    if "/login" not in page.url:
        page.goto(f"{base_url}/login")
    page.locator("#auth-email").fill(email)
    page.locator("#auth-password").fill(password)
    page.locator("#sign-in-button").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def sign_out(page: Page) -> None:
    page.locator("#user-menu").click()
    page.locator("#sign-out").click()
    page.wait_for_url(lambda url: "/login" in url, timeout=15_000)
