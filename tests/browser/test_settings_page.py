"""The Settings page's Google Cloud (Vertex AI) section: whether Gemini and Claude on Vertex AI
can run, found in the background after the page loads."""

from __future__ import annotations

from playwright.sync_api import Page, expect

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
