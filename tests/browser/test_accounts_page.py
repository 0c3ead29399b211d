"""Signing up, out and in through the page, as a new visitor does."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from devstack.accounts import DEFAULT_PASSWORD
from tests.browser.accounts import sign_in, sign_up
from tests.browser.conftest import panes

pytestmark = pytest.mark.browser


def test_a_visitor_is_sent_to_sign_in_then_back_to_the_page_asked_for(browser: Browser, app_url: str) -> None:
    context = browser.new_context(base_url=app_url)
    page = context.new_page()
    page.goto("/history")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fhistory"), timeout=30_000)
    sign_up(page, app_url, "newcomer@example.org", name="Newcomer")
    expect(page).to_have_url(re.compile(r"/history/?$"))
    expect(page.get_by_role("button", name=re.compile(r"^Account"))).to_contain_text("Newcomer")

    page.get_by_role("button", name=re.compile(r"^Account")).click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=15_000)
    page.goto("/")  # the old session is gone: back to the login page
    expect(page).to_have_url(re.compile(r"/login"), timeout=15_000)

    page.get_by_role("textbox", name="Email").fill("newcomer@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Email or password is incorrect.")

    sign_in(page, app_url, "newcomer@example.org", DEFAULT_PASSWORD)
    expect(panes(page)).to_have_count(3, timeout=30_000)
    context.close()


def test_sign_up_problems_are_shown_next_to_the_fields(browser: Browser, app_url: str) -> None:
    context = browser.new_context(base_url=app_url)
    page = context.new_page()
    page.goto("/login")
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_role("textbox", name="Email").fill(
        "ada@localhost"
    )  # the browser accepts it; the server does not
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Enter an email address")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="at least 8 characters")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))
    context.close()
