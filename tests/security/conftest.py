"""The security tests drive whole runtimes: the same fixtures as tests/backend, plus one Chromium
per module for the tests that look at the live app in a real browser."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from devstack.app_process import CHROMIUM, CHROMIUM_ARGS
from tests.backend.conftest import rt, runtime_database_url
from tests.security.live_app import live_app, scenario  # the whole app in a subprocess, on first use

__all__ = ["browser", "live_app", "rt", "runtime_database_url", "scenario"]


# Module scope: Playwright's sync API keeps an event loop running while it is open, and the
# asyncio tests of other modules need none.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
