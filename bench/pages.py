"""Driving the compare page of the running app through Playwright."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, BrowserContext, Page

from bench.page_js import ALL_ENDED_JS, RUN_KEYS_JS

# The bench account's session cookie per app address (set once the app is up).
SESSION_COOKIES: dict[str, dict[str, str | bool]] = {}


def signed_in_context(browser: Browser, base: str) -> BrowserContext:
    """A browser context signed in as the bench account (every page needs an account)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([SESSION_COOKIES[base]])  # type: ignore[list-item]
    return context


def open_compare(context: BrowserContext, base: str) -> Page:
    page = context.new_page()
    page.goto(base + "/", wait_until="load", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('select[aria-label=\"Model to add\"] option').length > 0"
        " && document.querySelectorAll('[data-testid=pane]').length > 0",
        timeout=60_000,
    )
    return page


def configure_panes(page: Page, n: int, model: str, prompt: str) -> None:
    """Make the page show exactly `n` panes of `model` and type `prompt`."""
    panes = page.locator("[data-testid=pane]")
    count_is = "(n) => document.querySelectorAll('[data-testid=pane]').length === n"
    while panes.count() > n:
        before = panes.count()
        panes.last.get_by_role("button", name="Remove pane").click()
        page.wait_for_function(count_is, arg=before - 1, timeout=15_000)
    page.locator('select[aria-label="Model to add"]').select_option(model)
    page.wait_for_function(
        "(m) => document.querySelector('select[aria-label=\"Model to add\"]').value === m", arg=model
    )
    while panes.count() < n:
        before = panes.count()
        page.get_by_role("button", name="Add pane").click()
        page.wait_for_function(count_is, arg=before + 1, timeout=15_000)
    for i in range(n):
        pane = panes.nth(i)
        if pane.get_attribute("data-model") != model:
            pane.locator('select[aria-label="Model"]').select_option(model)
    page.wait_for_function(
        "([n, m]) => { const p = [...document.querySelectorAll('[data-testid=pane]')];"
        " return p.length === n && p.every(x => x.dataset.model === m); }",
        arg=[n, model],
        timeout=15_000,
    )
    page.get_by_label("Prompt", exact=True).fill(prompt)


def click_run(page: Page) -> list[str]:
    """Click Run; return the run keys shown before, so a wait can tell the new runs apart."""
    old = page.evaluate(RUN_KEYS_JS)
    page.get_by_role("button", name="Run", exact=True).click()
    return [k for k in old if k]


def wait_all_ended(page: Page, n: int, old_keys: list[str], timeout_s: float) -> list[str]:
    page.wait_for_function(ALL_ENDED_JS, arg=[n, old_keys], timeout=timeout_s * 1000, polling=100)
    return [p.get_attribute("data-status") or "" for p in page.locator("[data-testid=pane]").all()]


def live_texts(page: Page) -> dict[str, str]:
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('[data-testid=pane]')]"
        ".map(p => [p.dataset.runKey || '',"
        " (window.__llmLive && window.__llmLive.get(p.dataset.runKey)?.text) ?? null]))"
    )


def clock_check(page: Page) -> dict[str, float]:
    """Browser clock (timeOrigin + now) minus Python's time.time(), with the round trip as bound."""
    t0 = time.time()
    browser_ms, date_ms = page.evaluate("() => [performance.timeOrigin + performance.now(), Date.now()]")
    t1 = time.time()
    return {
        "skew_ms": browser_ms - (t0 + t1) * 500.0,
        "rtt_ms": (t1 - t0) * 1000.0,
        "hr_vs_date_ms": browser_ms - date_ms,
    }
