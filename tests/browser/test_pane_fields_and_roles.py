"""What a pane runs is what it shows; what a viewer may not do is off, with the reason; deleting
a comparison asks first. Every element is found by its role and accessible name."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from devstack.accounts import TestAccount, account_in
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser

# Each pane parameter field: its accessible name, a value out of range, and the message.
# A parameter added later (top_p, seed, stop, penalties) adds a line here.
PANE_FIELDS = [
    ("Temperature", "5", "Temperature must be between 0.0 and 2.0."),
    ("Temperature", "-1", "Temperature must be between 0.0 and 2.0."),
    ("Max tokens", "0", "Max tokens must be a whole number from 1 to 32,768."),
    ("Max tokens", "40000", "Max tokens must be a whole number from 1 to 32,768."),
]
RUN_TIMEOUT_MS = 60_000


def _panes(page: Page) -> Locator:
    return (
        page.get_by_role("main").get_by_role("group").filter(has=page.get_by_role("combobox", name="Model"))
    )


def _open_compare(page: Page) -> None:
    page.goto("/")
    expect(_panes(page)).to_have_count(3, timeout=30_000)


@pytest.mark.parametrize(("field", "invalid", "message"), PANE_FIELDS)
def test_an_invalid_field_left_blocks_run(page: Page, field: str, invalid: str, message: str) -> None:
    _open_compare(page)
    page.get_by_role("textbox", name="Prompt", exact=True).fill("[[simulate:tokens=3]] must not start")
    pane = _panes(page).nth(1)
    box = pane.get_by_role("spinbutton", name=field, exact=True)
    box.fill(invalid)
    box.press("Tab")  # leave the field: its value is handed over, and refused
    expect(pane.get_by_role("alert")).to_have_text(message)
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_accessible_description(message)

    # Another field of the same pane, valid, does not make the first one acceptable.
    other = "Max tokens" if field == "Temperature" else "Temperature"
    pane.get_by_role("spinbutton", name=other, exact=True).fill("1")
    pane.get_by_role("spinbutton", name=other, exact=True).press("Tab")

    page.get_by_role("button", name="Run", exact=True).click()
    expect(
        page.get_by_role("alert").filter(has_text="Fix the highlighted pane settings first.")
    ).to_be_visible()
    expect(box).to_have_value(invalid)  # the field still shows what was typed
    page.wait_for_timeout(1_000)
    assert "c=" not in page.url, "a comparison was saved"
    expect(page.get_by_role("main").get_by_text(re.compile(r"^(queued|running)$"))).to_have_count(0)

    box.fill("1")  # fixed: the message goes, and the run uses what the field shows
    box.press("Tab")
    expect(pane.get_by_role("alert")).to_have_count(0)


def test_ctrl_enter_in_a_field_being_edited_runs_what_it_shows(page: Page) -> None:
    _open_compare(page)
    page.get_by_role("textbox", name="Prompt", exact=True).fill("[[simulate:tokens=3]] shortcut")
    box = _panes(page).first.get_by_role("spinbutton", name="Temperature", exact=True)
    box.fill("7")
    box.press("Control+Enter")  # without leaving the field first
    expect(
        page.get_by_role("alert").filter(has_text="Fix the highlighted pane settings first.")
    ).to_be_visible()
    page.wait_for_timeout(1_000)
    assert "c=" not in page.url


def _tab_of(browser: Browser, app_url: str, account: TestAccount) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=app_url)
    context.add_cookies([account.cookie(app_url)])  # type: ignore[list-item]
    return context.new_page()


def _wait_final(api: httpx.Client, comparison_id: str) -> None:
    for _ in range(120):
        runs = api.get(f"/api/v1/comparisons/{comparison_id}").json()["runs"]
        if all(r["status"] in ("done", "error", "cancelled") for r in runs):
            return
        time.sleep(0.5)
    raise AssertionError("the runs did not end")


def test_a_viewer_sees_every_control_off_with_the_reason_and_the_project_named(
    browser: Browser, app_url: str, app_data_dir: Path, user: TestAccount
) -> None:
    project_name = f"Reading room {uuid.uuid4().hex[:6]}"
    viewer_email = f"reader-{uuid.uuid4().hex[:8]}@example.org"
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        project_id = api.post("/api/v1/projects", json={"name": project_name}).json()["id"]
        invited = api.put(
            f"/api/v1/projects/{project_id}/members", json={"email": viewer_email, "role": "viewer"}
        )
        assert invited.status_code < 300, invited.text
        body = {
            "prompt": "[[simulate:tokens=4]] for readers",
            "project_id": project_id,
            "panes": [{"model": "simulated:swift"}, {"model": "simulated:coder"}],
        }
        comparison_id = api.post("/api/v1/comparisons", json=body).json()["id"]
        _wait_final(api, comparison_id)

    viewer = _tab_of(browser, app_url, account_in(app_data_dir, viewer_email))
    try:
        viewer.goto(f"/?c={comparison_id}")
        expect(_panes(viewer)).to_have_count(2, timeout=30_000)
        reason = "You can read this comparison; your role in its project does not allow running it."
        expect(viewer.get_by_text(reason)).to_be_visible()
        off = [
            viewer.get_by_role("button", name="Run", exact=True),
            viewer.get_by_role("button", name="Battle"),
            viewer.get_by_role("button", name="Add pane"),
            *[
                control
                for pane in _panes(viewer).all()
                for control in (
                    pane.get_by_role("button", name="Retry pane"),
                    pane.get_by_role("button", name="Remove pane"),
                    pane.get_by_role("combobox", name="Model"),
                    pane.get_by_role("spinbutton", name="Temperature"),
                    pane.get_by_role("spinbutton", name="Max tokens"),
                )
            ],
        ]
        for control in off:
            expect(control).to_be_disabled()
            expect(control).to_have_accessible_description(reason)
        picker = viewer.get_by_role("combobox", name="Project")
        expect(picker).to_be_disabled()
        expect(picker.get_by_role("option", name=project_name)).to_have_count(1)  # not the viewer's own
        expect(viewer.get_by_role("button", name="Delete comparison")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Share")).to_have_count(0)
        assert serious_violations(viewer) == []
    finally:
        viewer.context.close()


def _saved_comparison(app_url: str, user: TestAccount, prompt: str) -> str:
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        body = {"prompt": prompt, "panes": [{"model": "simulated:swift"}]}
        comparison_id = str(api.post("/api/v1/comparisons", json=body).json()["id"])
        _wait_final(api, comparison_id)
        return comparison_id


def _exists(app_url: str, user: TestAccount, comparison_id: str) -> bool:
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        return api.get(f"/api/v1/comparisons/{comparison_id}").status_code == 200


def test_delete_from_history_asks_first(page: Page, app_url: str, user: TestAccount) -> None:
    prompt = f"[[simulate:tokens=2]] delete me {uuid.uuid4().hex[:6]}"
    comparison_id = _saved_comparison(app_url, user, prompt)
    page.goto("/history")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=prompt))
    expect(row).to_have_count(1, timeout=30_000)

    row.get_by_role("button", name="Delete comparison").click()
    dialog = page.get_by_role("alertdialog", name="Delete this comparison?")
    expect(dialog).to_be_visible()
    assert serious_violations(page) == []
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_have_count(0)
    assert _exists(app_url, user, comparison_id)

    row.get_by_role("button", name="Delete comparison").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete", exact=True).click()
    expect(row).to_have_count(0, timeout=15_000)
    assert not _exists(app_url, user, comparison_id)


def test_delete_from_the_comparison_asks_first(page: Page, app_url: str, user: TestAccount) -> None:
    comparison_id = _saved_comparison(app_url, user, "[[simulate:tokens=2]] delete from its page")
    page.goto(f"/?c={comparison_id}")
    expect(_panes(page)).to_have_count(1, timeout=30_000)
    page.get_by_role("button", name="Delete comparison").click()
    page.get_by_role("alertdialog", name="Delete this comparison?").get_by_role(
        "button", name="Delete", exact=True
    ).click()
    expect(page).not_to_have_url(re.compile(r"c="), timeout=15_000)
    assert not _exists(app_url, user, comparison_id)


def test_stop_is_neutral_and_retry_keeps_the_attempt_before(page: Page) -> None:
    page.goto(
        "/compare?" + urlencode({"models": "simulated:swift", "prompt": "Wait [[simulate:stall@3:30]]"})
    )
    pane = _panes(page).first
    expect(pane).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(pane.get_by_text("running", exact=True)).to_be_visible(timeout=30_000)
    pane.get_by_role("button", name="Stop pane").click()
    expect(pane.get_by_text("stopped", exact=True)).to_be_visible(timeout=30_000)
    expect(pane.get_by_text("error", exact=True)).to_have_count(0)  # a person's Stop is no failure
    expect(pane.get_by_text(re.compile(r"^Input: about \d+ tokens$"))).to_be_visible()

    pane.get_by_role("button", name="Retry pane").click()
    expect(pane.get_by_text("attempt 2 of 2")).to_be_visible(timeout=15_000)
    pane.get_by_text("Show attempt 1").click()
    earlier = pane.get_by_role("region", name="Attempt 1")
    expect(earlier).to_be_visible()
    expect(pane.get_by_text("stopped", exact=True).first).to_be_visible()
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(pane.get_by_text("stopped", exact=True)).to_have_count(2, timeout=30_000)  # both attempts

    # After a reload the attempt before comes from the database, not from this tab's memory.
    attempt_one = earlier.inner_text()
    page.reload()
    pane = _panes(page).first
    expect(pane.get_by_text("attempt 2 of 2")).to_be_visible(timeout=30_000)
    pane.get_by_text("Show attempt 1").click()
    expect(pane.get_by_role("region", name="Attempt 1")).to_have_text(attempt_one)
    expect(pane.get_by_text("stopped", exact=True)).to_have_count(2)
