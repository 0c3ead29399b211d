"""The Settings page's Google Cloud (Vertex AI) section: whether Gemini and Claude on Vertex AI
can run, found in the background after the page loads."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations


def test_settings_say_why_vertex_ai_cannot_run(page: Page) -> None:
    page.goto("/settings")
    expect(page.get_by_role("heading", name="Google Cloud (Vertex AI)")).to_be_visible(timeout=30_000)
    # The browser tests' app has no GOOGLE_CLOUD_PROJECT: the reason shows, not "Looking for…" forever.
    status = page.get_by_role("status").filter(has_text="Vertex AI")
    expect(status).to_have_text(
        "Vertex AI models cannot run: GOOGLE_CLOUD_PROJECT is not set.", timeout=30_000
    )
    assert serious_violations(page, "[data-testid=google-section]") == []


def _tab(browser: Browser, app_url: str, account: TestAccount) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def test_a_saved_key_says_whether_it_was_tested_and_the_picker_marks_a_failed_one(
    browser: Browser, app_url: str, app_data_dir: Path
) -> None:
    """Never tested, then failed (this server cannot reach OpenAI with a made-up key), kept
    across visits, marked in the model picker; a replaced key is untested again. Its own
    account: a saved OpenAI key would change other tests' pickers."""
    page = _tab(browser, app_url, account_in(app_data_dir, f"keys-{uuid.uuid4().hex[:8]}@example.org"))
    page.goto("/settings")
    openai = page.get_by_role("group", name="OpenAI", exact=True)
    expect(openai).to_be_visible(timeout=30_000)
    test_status = openai.get_by_role("status", name="OpenAI key test")
    expect(test_status).to_have_count(0)  # no key: nothing to test
    openai.get_by_role("textbox", name="OpenAI key").fill("sk-browser-0123456789-made-up")
    openai.get_by_role("button", name="Save OpenAI key").click()
    expect(test_status).to_have_text("never tested", timeout=15_000)

    openai.get_by_role("button", name="Test OpenAI key").click()
    expect(test_status).to_have_text(re.compile(r"^test failed: \S"), timeout=30_000)
    page.goto("/")
    picker = page.get_by_role("combobox", name="Model to add")
    expect(picker).to_be_visible(timeout=30_000)
    failed = " — key test failed: see Settings"
    gpt = picker.get_by_role("option", name="GPT-4o mini" + failed, exact=True)
    expect(gpt).to_have_count(1, timeout=15_000)
    expect(picker.get_by_role("option", name=re.compile("^Claude .*" + failed))).to_have_count(0)
    pane_picker = page.get_by_role("combobox", name="Model", exact=True).first  # each pane's too
    expect(pane_picker.get_by_role("option", name="GPT-4o mini" + failed, exact=True)).to_have_count(1)

    page.goto("/settings")  # another visit: the outcome was kept
    expect(test_status).to_have_text(re.compile(r"^test failed: \S"), timeout=30_000)
    assert serious_violations(page, "[data-testid=key-row]") == []
    openai.get_by_role("textbox", name="OpenAI key").fill("sk-browser-9876543210-another")
    openai.get_by_role("button", name="Replace OpenAI key").click()
    expect(test_status).to_have_text("never tested", timeout=15_000)
    page.context.close()
