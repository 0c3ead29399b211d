"""Hostile text in History and in a comparison reopened from it, in a real browser.

History lists each comparison by its prompt's first line (user text, which a shared or
forked comparison can bring from someone else) and opens the saved panes from the
database, a different path from the live stream that test_untrusted_output.py covers.
Both must stay inert: no element built from the text, no script run, nothing fetched.

Field class: stored XSS through model output and titles (Open WebUI and LibreChat
advisories on rendered chat history; Dify's rendered app output; Reflex apps that
render untrusted Markdown with raw HTML enabled).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, Request, expect

from tests.security.live_app import HOSTILE_MODEL, LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.redis]

HOSTILE_TITLE = '<img src=x onerror="window.__pwned=11"><script>window.__pwned=12</script> title'


@pytest.fixture(scope="module")
def hostile_comparison(live_app: LiveApp) -> str:
    """Made over the API by Ada: a hostile first prompt line, a hostile model's answer."""
    body = {
        "prompt": HOSTILE_TITLE + "\n[[simulate:tokens=3]] second line",
        "panes": [{"model": HOSTILE_MODEL}, {"model": "simulated:instant"}],
    }
    with httpx.Client(base_url=live_app.url, headers=live_app.ada.api_headers, timeout=30) as client:
        created = client.post("/api/v1/comparisons", json=body)
        assert created.status_code == 201, created.text
        comparison_id = str(created.json()["id"])
        deadline = time.monotonic() + 60
        while True:
            runs = client.get(f"/api/v1/comparisons/{comparison_id}").json()["runs"]
            if all(r["status"] in ("done", "error") for r in runs):
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.3)
    assert [r["status"] for r in runs] == ["done", "done"], runs
    return comparison_id


@pytest.fixture
def page(browser: Browser, live_app: LiveApp) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_app.url)
    context.add_cookies([live_app.ada.cookie(live_app.url)])  # type: ignore[list-item]
    page = context.new_page()
    yield page
    context.close()


def _watch(page: Page, base_url: str) -> tuple[list[str], list[str]]:
    dialogs: list[str] = []
    outside: list[str] = []

    def _dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _dismiss)

    def record(request: Request) -> None:
        if not request.url.startswith(base_url) and not request.url.startswith(("data:", "blob:")):
            outside.append(request.url)

    page.on("request", record)
    return dialogs, outside


def test_a_hostile_title_in_history_and_the_reopened_panes_are_inert(
    page: Page, live_app: LiveApp, hostile_comparison: str
) -> None:
    dialogs, outside = _watch(page, live_app.url)
    page.goto("/history")
    link = page.locator(f"a[href='/?c={hostile_comparison}']")
    expect(link).to_be_visible(timeout=30_000)
    expect(link).to_contain_text('<img src=x onerror="window.__pwned=11">')  # shown as text
    table = page.locator("table")
    for tag in ("img", "script", "iframe"):
        assert table.locator(tag).count() == 0, f"a <{tag}> element was built from a prompt"

    link.click()
    page.wait_for_url(f"**/?c={hostile_comparison}", timeout=15_000)
    pane = page.locator(f"[data-testid=pane][data-model='{HOSTILE_MODEL}']")
    expect(pane).to_have_attribute("data-status", "done", timeout=30_000)
    body = pane.get_by_test_id("pane-text")
    expect(body).to_contain_text("End.")
    expect(body).to_contain_text("<script>window.__pwned=2</script>")  # raw HTML is text
    for tag in ("img", "script", "iframe", "math"):
        assert body.locator(tag).count() == 0, f"a <{tag}> element was created from saved output"
    hrefs = [a.get_attribute("href") or "" for a in body.locator("a").all()]
    assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:"))], hrefs
    for anchor in body.locator("a").all():
        anchor.click(modifiers=["Alt"], no_wait_after=True)
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('iframe, [onerror]').length") == 0
    assert dialogs == []
    assert outside == [], f"saved output made the page fetch {outside}"
