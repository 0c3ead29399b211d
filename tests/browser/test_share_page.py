"""Share a comparison with hostile output, open the link with no account, then fork it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Request, expect

from tests.browser.a11y import serious_violations
from tests.browser.accounts import WATCH_SIGN_IN_FORM, form_shown, sign_up
from tests.browser.conftest import panes

HOSTILE_MODEL = "openai-compatible:hostile/evil"
FRIENDLY_MODEL = "simulated:instant"
PROMPT = "Say something nasty [[simulate:tokens=6]]"


@pytest.fixture
def fresh_context(browser: Browser, app_url: str) -> Iterator[BrowserContext]:
    """A browser with no cookies: nobody is signed in."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_init_script(WATCH_SIGN_IN_FORM)
    yield context
    context.close()


def _email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.org"


def _run_and_share(page: Page, app_url: str) -> str:
    """Sign up, open a prefilled /compare link, run it, make a 7-day link; returns the link."""
    page.goto("/login")
    sign_up(page, app_url, _email("sharer"), name="Sharer Sam")
    page.goto("/compare?" + urlencode({"models": f"{HOSTILE_MODEL},{FRIENDLY_MODEL}", "prompt": PROMPT}))
    shown = panes(page)
    expect(shown).to_have_count(2, timeout=30_000)
    expect(shown.first.get_by_role("combobox", name="Model", exact=True)).to_have_value(HOSTILE_MODEL)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(PROMPT)
    expect(shown.first.get_by_role("status")).to_have_text("idle")  # a link never runs by itself
    expect(page.get_by_role("button", name="Share", exact=True)).to_have_count(0)  # nothing saved yet

    page.get_by_role("button", name="Run").click()
    expect(shown.get_by_role("status")).to_have_text(["done"] * 2, timeout=30_000)
    page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_role("combobox", name="Expires").click()
    page.get_by_role("option", name="7 days").click()
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_role("textbox", name="Share link")
    expect(link).to_have_value(re.compile(r"/share/[\w-]{43}$"), timeout=15_000)
    links = (
        page.get_by_role("dialog").get_by_role("row").filter(has=page.get_by_role("button", name="Revoke"))
    )
    expect(links).to_have_count(1)
    assert serious_violations(page, "[role=dialog]") == []  # the share dialog, with its link listed
    return link.input_value()


def test_a_shared_comparison_is_public_inert_and_forkable(
    browser: Browser, fresh_context: BrowserContext, app_url: str
) -> None:
    sharer = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    try:
        share_url = _run_and_share(sharer.new_page(), app_url)
    finally:
        sharer.close()
    assert share_url.startswith(f"{app_url}/share/")

    visitor = fresh_context.new_page()
    dialogs: list[str] = []
    outside: list[str] = []

    def _dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    visitor.on("dialog", _dismiss)

    def _record(request: Request) -> None:
        if not request.url.startswith(app_url) and not request.url.startswith(("data:", "blob:")):
            outside.append(request.url)

    visitor.on("request", _record)
    visitor.goto(share_url)

    expect(visitor.get_by_role("group", name="Shared prompt")).to_have_text(PROMPT, timeout=30_000)
    expect(visitor.get_by_role("group", name="Shared by")).to_contain_text("Shared by Sharer Sam")
    answers = visitor.get_by_role("region", name=re.compile(r"^Answer: "))
    expect(answers).to_have_count(2)  # in pane order: the hostile model's, then the friendly one's
    body = answers.first
    expect(body).to_contain_text("End.")
    expect(body).to_contain_text("<script>window.__pwned=2</script>")  # raw HTML shows as text
    expect(body).to_contain_text("tracker")  # a disallowed image shows its alt text
    expect(visitor.get_by_role("group", name="Figures", exact=True).first).to_contain_text("TTFT")
    expect(answers.nth(1)).not_to_be_empty()

    for tag in ("img", "script", "iframe", "math"):
        assert body.locator(tag).count() == 0, f"a <{tag}> element was created from model output"
    assert visitor.evaluate("() => document.querySelectorAll('iframe, [onerror]').length") == 0
    assert (
        visitor.evaluate("() => [...document.scripts].filter(s => s.textContent.includes('__pwned')).length")
        == 0
    )
    hrefs = [a.get_attribute("href") or "" for a in body.locator("a").all()]
    assert not [h for h in hrefs if not h.startswith(("http:", "https:", "mailto:"))], hrefs
    body.get_by_text("click me").click()  # the javascript: link is inert text now
    visitor.wait_for_timeout(300)
    assert visitor.evaluate("() => window.__pwned") is None
    assert dialogs == []
    assert outside == [], f"the shared page fetched {outside}"

    # A visitor gets no way into private pages: the only site link is "Sign in".
    site_links = visitor.evaluate(
        "() => [...document.querySelectorAll('a[href]')]"
        ".filter(a => !a.closest('[data-testid=shared-output]')).map(a => a.getAttribute('href'))"
    )
    assert site_links and all(h.startswith("/login?next=") for h in site_links), site_links

    # Fork: sign up first, come back to the link, fork into the new account's project.
    visitor.evaluate("window.__formShown = []")
    visitor.get_by_role("button", name="Fork").click()
    visitor.wait_for_url("**/login?next=*", timeout=15_000)
    expect(visitor.get_by_role("button", name="New here? Create an account")).to_be_visible(timeout=30_000)
    visitor.wait_for_timeout(1_000)
    # The form appears once, after a spinner: it used to show at once (the share page was
    # hydrated), turn into a spinner while the login page loaded and come back, and a click
    # on "New here?" in that moment hit nothing (the clean-clone CI's failure here).
    assert form_shown(visitor) == [False, True]
    sign_up(visitor, app_url, _email("forker"), name="Forker Fay")
    visitor.wait_for_url("**/?c=*", timeout=15_000)  # back on the link, the fork happened by itself
    forked = panes(visitor)
    expect(forked).to_have_count(2, timeout=30_000)
    expect(forked.get_by_role("status")).to_have_text(["done"] * 2)
    expect(forked.first.get_by_role("combobox", name="Model", exact=True)).to_have_value(HOSTILE_MODEL)
    expect(forked.first.get_by_role("region", name=re.compile("^Answer"))).to_contain_text("End.")
    expect(visitor.get_by_label("Prompt", exact=True)).to_have_value(PROMPT)
    expect(visitor.get_by_role("button", name=re.compile(r"^Account"))).to_contain_text("Forker Fay")
    expect(
        visitor.get_by_role("button", name="Share", exact=True)
    ).to_be_visible()  # the copy is the forker's own
    first_copy = visitor.url

    # A second Fork of the same link asks before making another copy.
    visitor.goto(share_url)
    visitor.get_by_role("button", name="Fork").click()
    question = visitor.get_by_role("alertdialog", name="Fork this comparison again?")
    expect(question).to_be_visible(timeout=15_000)
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_have_count(0)
    assert visitor.url.rstrip("/") == share_url.rstrip("/")
    visitor.get_by_role("button", name="Fork").click()
    visitor.get_by_role("alertdialog").get_by_role("button", name="Fork again").click()
    visitor.wait_for_url("**/?c=*", timeout=15_000)
    assert visitor.url != first_copy
