"""Follow-up turns in the browser (issue 19): a follow-up to every pane streams and shows as the
second turn under the first; a viewer cannot send one. Role and accessible-name locators only."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000
MODELS = "simulated:instant,simulated:swift"
PROMPT = "[[simulate:tokens=6]] Name a river"
# Stalls 2 s after the first token: long enough to see both panes streaming.
FOLLOW_UP = "[[simulate:tokens=6]] [[simulate:stall@1:2]] And a lake?"


def _run(page: Page) -> str:
    page.goto("/compare?" + urlencode({"models": MODELS, "prompt": PROMPT}))
    expect(page.get_by_role("button", name="Remove pane")).to_have_count(2, timeout=30_000)
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"\?c=\w+"), timeout=15_000)
    expect(page.get_by_role("button", name="Retry pane")).to_have_count(2, timeout=RUN_TIMEOUT_MS)
    return page.url.split("?c=")[1]


def test_a_follow_up_to_every_pane_streams_and_shows_as_the_second_turn(
    page: Page, app_url: str, user: TestAccount
) -> None:
    comparison_id = _run(page)
    expect(page.get_by_role("group", name="Earlier turns")).to_have_count(0)
    box = page.get_by_role("textbox", name="Follow-up")
    send = page.get_by_role("button", name="Send follow-up")

    send.click()  # empty: a clear message, nothing sent
    expect(page.get_by_role("alert")).to_have_text("Enter a message.", timeout=15_000)

    box.fill(FOLLOW_UP)
    expect(page.get_by_role("combobox", name="Send to")).to_have_value("all")
    send.click()
    # both panes stream the second turn (each has its Stop button while it runs) ...
    expect(page.get_by_role("button", name="Stop pane")).to_have_count(2, timeout=15_000)
    expect(send).to_be_disabled()
    expect(box).to_have_value("")
    # ... under their first turn
    earlier = page.get_by_role("group", name="Earlier turns")
    expect(earlier).to_have_count(2)
    for group in earlier.all():
        expect(group).to_contain_text("You · turn 1")
        expect(group).to_contain_text(PROMPT)
        expect(group).to_contain_text("You · turn 2")
        expect(group).to_contain_text(FOLLOW_UP)
    expect(page.get_by_role("button", name="Retry pane")).to_have_count(2, timeout=RUN_TIMEOUT_MS)
    expect(send).to_be_enabled()

    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        turns = api.get(f"/api/v1/comparisons/{comparison_id}").json()["turns"]
    assert [t["message"] for t in turns] == [PROMPT, FOLLOW_UP]
    assert [r["status"] for r in turns[1]["runs"]] == ["done", "done"]
    for group, first in zip(earlier.all(), turns[0]["runs"], strict=True):
        # each pane shows its own first answer, as saved (rendered: its last line is prose)
        last_line = [line for line in first["output_text"].splitlines() if line.strip()][-1]
        expect(group).to_contain_text(last_line.strip("#*- "))

    page.reload()  # the conversation is saved: it comes back with the comparison
    expect(page.get_by_role("group", name="Earlier turns")).to_have_count(2, timeout=30_000)
    assert serious_violations(page) == []


def test_a_viewer_cannot_send_a_follow_up(
    browser: Browser, page: Page, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    comparison_id = _run(page)
    viewer_email = f"viewer-{uuid.uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        project_id = api.get(f"/api/v1/comparisons/{comparison_id}").json()["project_id"]
        invited = api.put(
            f"/api/v1/projects/{project_id}/members", json={"email": viewer_email, "role": "viewer"}
        )
        assert invited.status_code < 300, invited.text
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account_in(app_data_dir, viewer_email).cookie(app_url)])  # type: ignore[list-item]
    viewer = context.new_page()
    try:
        viewer.goto(f"/?c={comparison_id}")
        expect(viewer.get_by_role("button", name="Run")).to_be_disabled(timeout=30_000)
        expect(viewer.get_by_role("textbox", name="Follow-up")).to_be_disabled()
        expect(viewer.get_by_role("button", name="Send follow-up")).to_be_disabled()
        expect(viewer.get_by_role("group", name="Follow-up")).to_contain_text(
            "Viewers can read this conversation but not continue it."
        )
    finally:
        context.close()
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        assert len(api.get(f"/api/v1/comparisons/{comparison_id}").json()["turns"]) == 1


def test_each_turn_has_its_own_vote(page: Page, app_url: str, user: TestAccount) -> None:
    comparison_id = _run(page)
    expect(page.get_by_role("combobox", name="Vote on turn")).to_have_count(0)  # one turn: no picker
    page.get_by_role("textbox", name="Follow-up").fill("[[simulate:tokens=4]] And a lake?")
    page.get_by_role("button", name="Send follow-up").click()
    turn = page.get_by_role("combobox", name="Vote on turn")
    expect(turn).to_have_value("2", timeout=RUN_TIMEOUT_MS)  # the latest turn by default

    page.get_by_role("radio", name="Pane 2: simulated:swift").click()
    page.get_by_role("button", name="Save vote").click()
    expect(page.get_by_role("button", name="Change my vote")).to_be_visible(timeout=15_000)

    turn.select_option("1")  # the first turn has no vote of mine yet
    expect(page.get_by_role("button", name="Save vote")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("radio", name="Pane 2: simulated:swift")).not_to_be_checked()
    page.get_by_role("radio", name="Tie").click()
    page.get_by_role("button", name="Save vote").click()
    expect(page.get_by_role("button", name="Change my vote")).to_be_visible(timeout=15_000)

    turn.select_option("2")
    expect(page.get_by_role("radio", name="Pane 2: simulated:swift")).to_be_checked(timeout=15_000)
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        votes = f"/api/v1/comparisons/{comparison_id}/votes"
        assert api.get(votes, params={"turn": 1}).json()["mine"]["best"] == "tie"
        assert api.get(votes, params={"turn": 2}).json()["mine"]["best"] == 1
    assert serious_violations(page) == []
