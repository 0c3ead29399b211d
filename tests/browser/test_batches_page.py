"""The batches page: paste a small CSV under a template, run it across two simulated models,
and watch the results grid fill (every cell done, each checked by an assertion)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser


def test_a_pasted_csv_runs_across_two_models_and_fills_the_grid(
    browser: Browser, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    """``user`` first: the app's first account is its admin; this one has rate limits of its own."""
    account = account_in(app_data_dir, f"batch-{uuid.uuid4().hex[:8]}@example.org")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Batches").click()
        expect(page).to_have_url(f"{app_url}/batches", timeout=15_000)
        instant = page.get_by_role("checkbox", name="Instant (simulated)")
        expect(instant).to_be_visible(timeout=30_000)

        page.get_by_role("textbox", name="Template", exact=True).fill(
            "[[simulate:tokens=3]] Greet {{name}} in {{lang}}"
        )
        page.get_by_role("textbox", name="Values (CSV)").fill(
            "name,lang\nAda,English\nHiro,Japanese\nLena,German\n"
        )
        instant.click()
        page.get_by_role("checkbox", name="Swift (simulated)").click()
        page.get_by_role("combobox", name="Assertion kind").select_option("max_latency_ms")
        page.get_by_role("textbox", name="Assertion value").fill("60000")
        page.get_by_role("button", name="Add assertion").click()
        expect(page.get_by_role("button", name="Remove assertion max_latency_ms 60000")).to_be_visible()
        page.mouse.move(700, 900)
        assert serious_violations(page) == []

        page.get_by_role("button", name="Run batch").click()
        grid = page.get_by_role("table", name="Results grid")
        expect(grid.get_by_role("row")).to_have_count(4, timeout=30_000)  # header + 3 rows
        expect(grid.get_by_role("columnheader", name="simulated:swift")).to_be_visible()
        # Every cell done and passing its assertion: 3 rows x 2 models.
        expect(grid.get_by_role("cell", name=re.compile(r"\bpass\b"))).to_have_count(6, timeout=60_000)
        expect(grid.get_by_role("row", name=re.compile("name=Hiro, lang=Japanese"))).to_be_visible()
        summary = page.get_by_role("table", name="Per model")
        expect(summary.get_by_role("row")).to_have_count(3)  # header + 2 models
        expect(page.get_by_role("progressbar", name="Batch progress")).to_be_visible()
        page.mouse.move(700, 900)
        assert serious_violations(page) == []
    finally:
        context.close()
