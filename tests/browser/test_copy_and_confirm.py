"""Copy an answer or a code block; reach and scroll them with the keyboard; a key and a member
are removed only once confirmed, and the last owner stays. Found by role and accessible name."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount

pytestmark = pytest.mark.browser


def test_copy_buttons_and_keyboard_scrolling(browser: Browser, app_url: str, user: TestAccount) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.add_cookies([user.cookie(app_url)])  # type: ignore[list-item]
    page = context.new_page()
    try:
        prompt = "[[simulate:tokens=600]] sorting lists"
        page.goto("/compare?" + urlencode({"models": "simulated:coder", "prompt": prompt}))
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_role("main").get_by_text("done", exact=True)).to_be_visible(timeout=60_000)

        answer = page.get_by_role("region", name=re.compile(r"^Answer: "))
        expect(answer).to_have_count(1)
        answer.focus()  # a keyboard reaches the answer, and the arrow keys scroll it
        expect(answer).to_be_focused()
        assert answer.evaluate("el => el.scrollHeight > el.clientHeight"), "the answer does not scroll"
        answer.evaluate("el => { el.scrollTop = 0; }")
        before = answer.evaluate("el => el.scrollTop")
        page.keyboard.press("PageDown")
        page.wait_for_function("(b) => document.activeElement.scrollTop > b", arg=before)

        page.get_by_role("button", name="Copy answer").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("A small Python sketch"), copied[:80]
        assert "```python" in copied  # the Markdown as the model wrote it

        code = page.get_by_role("group", name="Code: python").first
        code.focus()
        expect(code).to_be_focused()
        page.get_by_role("button", name="Copy code").first.click()
        copied_code = page.evaluate("navigator.clipboard.readText()")
        assert copied_code.startswith("def ") and "```" not in copied_code, copied_code[:80]
    finally:
        context.close()


def test_deleting_a_key_asks_first(page: Page) -> None:
    page.goto("/settings")
    field = page.get_by_label("OpenAI key").first
    expect(field).to_be_visible(timeout=30_000)
    field.fill("sk-test-" + "x" * 40)
    field.press("Enter")
    delete = page.get_by_role("button", name="Delete OpenAI key").first
    expect(delete).to_be_visible(timeout=15_000)
    delete.click()
    dialog = page.get_by_role("alertdialog", name="Delete this key?")
    dialog.get_by_role("button", name="Keep it").click()
    expect(delete).to_be_visible()
    delete.click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("button", name="Delete OpenAI key")).to_have_count(0, timeout=15_000)


def test_removing_a_member_asks_first_and_the_last_owner_stays(
    page: Page, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    name = f"Pair {uuid.uuid4().hex[:6]}"
    guest = f"guest-{uuid.uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        project_id = api.post("/api/v1/projects", json={"name": name}).json()["id"]
        invited = api.put(f"/api/v1/projects/{project_id}/members", json={"email": guest, "role": "editor"})
        assert invited.status_code < 300, invited.text
    page.goto("/projects")
    page.get_by_role("button", name=re.compile(re.escape(name))).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=30_000)
    rows = page.get_by_role("row").filter(has=page.get_by_role("button", name="Remove member"))
    expect(rows).to_have_count(2)

    guest_row = rows.filter(has_text=guest)
    guest_row.get_by_role("button", name="Remove member").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Keep it").click()
    expect(rows).to_have_count(2)
    guest_row.get_by_role("button", name="Remove member").click()
    page.get_by_role("alertdialog", name=f"Remove {guest} from this project?").get_by_role(
        "button", name="Remove", exact=True
    ).click()
    expect(rows).to_have_count(1, timeout=15_000)

    rows.first.get_by_role("button", name="Remove member").click()  # the only owner: refused, with why
    page.get_by_role("alertdialog").get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("A project needs at least one owner.", timeout=15_000)
    expect(rows).to_have_count(1)
