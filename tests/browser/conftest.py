"""The real app in a subprocess, driven by Debian's chromium through Playwright."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright

from devstack.accounts import TestAccount, account_in
from devstack.app_process import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.support.fake_llm_server import FakeLLMServer

# Model output a hostile or compromised model could send: each must render inert.
HOSTILE_REPLY = [
    "Hostile answer. ",
    '<img src=x onerror="window.__pwned=1"> ',
    "<script>window.__pwned=2</script> ",
    "<math><mtext><script>window.__pwned=3</script></mtext></math> ",
    '<iframe src="javascript:window.__pwned=4"></iframe> ',
    "[click me](javascript:window.__pwned=5) ",
    "![tracker](http://evil.example/pixel.png) ",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) ",
    "End.",
]


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[FakeLLMServer]:
    """An OpenAI-compatible server on 127.0.0.1 whose model answers with hostile markup."""
    server = FakeLLMServer(reply=HOSTILE_REPLY, openai_models=["evil"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app-data")


@pytest.fixture(scope="session")
def app_url(app_data_dir: Path, hostile_server: FakeLLMServer) -> Iterator[str]:
    endpoints = {"hostile": {"base_url": f"{hostile_server.url}/v1", "models": "evil"}}
    with running_app(app_data_dir, {"OPENAI_COMPATIBLE_ENDPOINTS": json.dumps(endpoints)}) as url:
        yield url


@pytest.fixture(scope="session")
def user(app_url: str, app_data_dir: Path) -> TestAccount:
    """The account most browser tests act as (signed in through its session cookie)."""
    return account_in(app_data_dir, "browser@example.org", name="Browser Tester")


# Module scope, not session: Playwright's sync API keeps an event loop running
# while it is open, and the asyncio tests that run after these modules need none.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, app_url: str, user: TestAccount) -> Iterator[Page]:
    """A signed-in tab of `user`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    yield page
    context.close()


def panes(page: Page, model: str = "Model") -> Locator:
    """The compare page's panes, by role: the groups in <main> that hold a pane's model picker
    (named `model`: "モデル" in Japanese). Each pane's status is its `status` live region."""
    return (
        page.get_by_role("main")
        .get_by_role("group")
        .filter(has=page.get_by_role("combobox", name=model, exact=True))
    )


def open_with_first_pane(page: Page, model: str) -> None:
    """Open the comparison page and switch its first pane to `model`."""
    page.goto("/")
    expect(panes(page)).to_have_count(3, timeout=30_000)
    picker = panes(page).first.get_by_role("combobox", name="Model", exact=True)
    picker.select_option(model)
    expect(picker).to_have_value(model)
