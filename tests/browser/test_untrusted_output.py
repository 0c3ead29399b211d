"""Model output is untrusted: markup in it must render as inert text in the page."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, Page, Request, expect

from tests.browser.conftest import HOSTILE_REPLY, open_with_first_pane, panes

HOSTILE_MODEL = "openai-compatible:hostile/evil"


def test_hostile_markup_in_a_pane_is_inert(page: Page, app_url: str) -> None:
    dialogs: list[str] = []
    outside: list[str] = []

    def _dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _dismiss)

    def _record(request: Request) -> None:
        if not request.url.startswith(app_url) and not request.url.startswith(("data:", "blob:")):
            outside.append(request.url)

    page.on("request", _record)
    open_with_first_pane(page, HOSTILE_MODEL)
    page.get_by_label("Prompt", exact=True).fill("Say something nasty")
    page.get_by_role("button", name="Run").click()
    pane = panes(page).first  # open_with_first_pane put the hostile model there
    expect(pane.get_by_role("status")).to_have_text("done", timeout=30_000)

    body = pane.get_by_role("region", name=re.compile("^Answer"))
    expect(body).to_contain_text("End.")
    # Raw HTML is shown as text, not turned into elements.
    expect(body).to_contain_text("<script>window.__pwned=2</script>")
    for tag in ("img", "script", "iframe", "math"):
        assert body.locator(tag).count() == 0, f"a <{tag}> element was created from model output"
    hrefs = [a.get_attribute("href") or "" for a in body.locator("a").all()]
    assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:"))], hrefs
    for link in body.locator("a").all():
        link.click(modifiers=["Alt"], no_wait_after=True)
    page.wait_for_timeout(300)

    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    assert outside == [], f"model output made the page fetch {outside}"
    assert "".join(HOSTILE_REPLY).startswith("Hostile answer.")
