"""Signing in with Firebase (AUTH_PROVIDER=firebase) through the page, against the Auth emulator.

The page's Firebase JS SDK signs in at the emulator with email and password, hands the ID
token to the backend, which checks it with firebase-admin (FIREBASE_AUTH_EMULATOR_HOST), and
the user lands on the comparison page and runs a comparison.  A wrong password and an
unverified address are refused with their own messages; "Sign out" ends the session and the
SDK's sign-in with it.  Google sign-in needs Google's servers and is not run here.

The app builds into a web directory of its own (REFLEX_WEB_WORKDIR): the session's app keeps
running from the checkout's .web meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.app_process import running_app
from tests.browser.conftest import panes
from tests.support.firebase_emulator import PASSWORD, PROJECT_ID, FirebaseEmulator, firebase_emulator

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirebaseEmulator]:
    with firebase_emulator(tmp_path_factory.mktemp("firebase")) as running_emulator:
        yield running_emulator


@pytest.fixture(scope="module")
def firebase_app(emulator: FirebaseEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("firebase-app")
    env = {
        "AUTH_PROVIDER": "firebase",
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "FIREBASE_AUTH_EMULATOR_HOST": emulator.host,
        "REFLEX_WEB_WORKDIR": str(root / "web"),
    }
    with running_app(root / "data", env) as url:
        yield url


def _sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_firebase_user_signs_in_runs_a_comparison_and_signs_out(
    browser: Browser, firebase_app: str, emulator: FirebaseEmulator
) -> None:
    emulator.create_user("fiona@example.org")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=firebase_app)
    page = context.new_page()

    _sign_in(page, "fiona@example.org", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Email or password is incorrect.", timeout=30_000)
    expect(page).to_have_url(re.compile(r"/login"))

    _sign_in(page, "fiona@example.org", PASSWORD)
    expect(page.get_by_role("button", name=re.compile(r"^Account"))).to_be_visible(timeout=30_000)
    expect(page).not_to_have_url(re.compile(r"/login"))
    page.get_by_role("button", name=re.compile(r"^Account")).click()
    expect(page.get_by_role("menu")).to_contain_text("fiona@example.org")
    page.keyboard.press("Escape")

    page.get_by_label("Prompt").fill("Firebase sign-in, then a run.")
    expect(panes(page)).to_have_count(3, timeout=30_000)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(panes(page).get_by_role("status")).to_have_text(["done"] * 3, timeout=60_000)

    page.get_by_role("button", name=re.compile(r"^Account")).click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=15_000)
    # Signed out of the SDK too: the login page shows the form, not an automatic sign-in.
    expect(page.get_by_role("textbox", name="Email")).to_be_visible(timeout=15_000)
    page.goto("/history")
    expect(page).to_have_url(re.compile(r"/login"), timeout=15_000)
    context.close()


def test_an_unverified_address_is_refused_with_its_reason(
    browser: Browser, firebase_app: str, emulator: FirebaseEmulator
) -> None:
    emulator.create_user("unverified@example.org", verified=False)
    context = browser.new_context(base_url=firebase_app)
    page = context.new_page()
    _sign_in(page, "unverified@example.org", PASSWORD)
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Verify your email address first", timeout=30_000)
    expect(page.get_by_role("button", name=re.compile("verified", re.I))).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"), timeout=15_000)
    context.close()
