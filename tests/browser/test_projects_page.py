"""Working in a project with others: an owner invites a viewer, who can read but not run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import account_in
from tests.browser.conftest import panes

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000


def _tab_of(browser: Browser, app_url: str, data_dir: Path, email: str) -> Page:
    account = account_in(data_dir, email)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def test_owner_invites_a_viewer_who_reads_but_cannot_run(
    page: Page, browser: Browser, app_url: str, app_data_dir: Path
) -> None:
    page.goto("/projects")
    expect(page.get_by_role("button", name=re.compile("^Personal")).first).to_be_visible(timeout=30_000)
    page.get_by_label("New project name").fill("Field trial")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name="Field trial")).to_be_visible()
    page.get_by_label("Email").fill("viewer@example.org")
    page.get_by_label("New member's role").select_option("viewer")
    page.get_by_role("button", name="Invite", exact=True).click()
    members = page.get_by_role("row").filter(has=page.get_by_role("button", name="Remove member"))
    expect(members).to_have_count(2)
    expect(members.nth(1)).to_contain_text("invited")

    page.goto("/")
    expect(panes(page)).to_have_count(3, timeout=30_000)
    page.get_by_role("combobox", name="Project").select_option(label="Field trial")
    page.get_by_label("Prompt", exact=True).fill("[[simulate:tokens=12]] Shared with the team")
    page.get_by_role("button", name="Run").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('c')", timeout=10_000)
    comparison_id = page.evaluate("() => new URLSearchParams(location.search).get('c')")
    expect(panes(page).get_by_role("status")).to_have_text(["done"] * 3, timeout=RUN_TIMEOUT_MS)

    viewer = _tab_of(browser, app_url, app_data_dir, "viewer@example.org")  # signs up after the invitation
    viewer.goto(f"/?c={comparison_id}")
    expect(panes(viewer)).to_have_count(3, timeout=30_000)
    expect(
        viewer.get_by_text(
            "You can read this comparison; your role in its project does not allow running it."
        )
    ).to_be_visible()
    expect(viewer.get_by_role("button", name="Run")).to_be_disabled()
    viewer.goto("/history")
    listed = viewer.get_by_role("row").filter(has=viewer.get_by_role("link"))
    expect(listed).to_have_count(1, timeout=15_000)
    # The list's own filter, named on screen apart from the search form's "Search in project".
    viewer.get_by_role("combobox", name="Project", exact=True).select_option(label="Personal")
    expect(listed).to_have_count(0, timeout=15_000)
    viewer.get_by_role("combobox", name="Project", exact=True).select_option(label="Field trial")
    expect(listed).to_have_count(1, timeout=15_000)
    viewer.context.close()

    outsider = _tab_of(browser, app_url, app_data_dir, "outsider@example.org")
    outsider.goto(f"/?c={comparison_id}")
    expect(outsider.get_by_role("alert")).to_contain_text("No comparison", timeout=30_000)
    expect(panes(outsider)).to_have_count(0)
    outsider.context.close()
