"""Blind mode and Battle in a real browser (issue 14): every WebSocket frame, and every body of
the page's own fetches, that reaches the page between the press of Battle / Run and the press of
"Reveal models" / "Save vote" is read, and none names a model of the catalog or shows a cost.

The model list of the pickers is sent when the page loads, before the press: it names every
model, none of them as a pane's. What the test forbids is any frame after the press naming a
model at all (a re-sent model list or pane rows would), or any cost figure.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Response, WebSocket, expect

from devstack.accounts import TestAccount
from tests.browser.a11y import serious_violations

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 60_000
SHOTS = Path("/tmp/blind-ui-shots")
COST_FIGURE = re.compile(r"\$\s?\d")  # "$0", "$0.00012" (backend/services/metrics.format_cost)
# Fast simulated models, so the battle's length does not depend on which two are drawn.
BATTLE_POOL = ["simulated:swift", "simulated:terse", "simulated:coder", "simulated:steady"]
# Every pane stalls after its third token: long enough to look at the panes mid-run.
PROMPT = "[[simulate:tokens=12]] [[simulate:stall@3:3]] Name a river"


class Wire:
    """What the page receives: WebSocket frames and the bodies of its fetch/XHR responses."""

    def __init__(self, page: Page) -> None:
        self.frames: list[str] = []
        self.responses: list[Response] = []
        page.on("websocket", self._socket)
        page.on("response", self._response)

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        self.frames.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    def _response(self, response: Response) -> None:
        if response.request.resource_type in ("fetch", "xhr"):
            self.responses.append(response)

    def mark(self) -> tuple[int, int]:
        return len(self.frames), len(self.responses)

    def between(self, start: tuple[int, int], end: tuple[int, int]) -> list[str]:
        """Everything received from `start` up to `end` (two marks)."""
        bodies = []
        for response in self.responses[start[1] : end[1]]:
            try:
                bodies.append(f"{response.url}\n{response.text()}")
            except Exception:  # a redirect or an aborted request has no body to read
                bodies.append(response.url)
        return self.frames[start[0] : end[0]] + bodies


def _catalog(app_url: str, user: TestAccount) -> dict[str, str]:
    """Every model the person may see: id -> display name."""
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        models = api.get("/api/v1/models").json()
    return {m["id"]: m["display_name"] for m in models}


def _leaks(received: list[str], catalog: dict[str, str]) -> list[str]:
    """Each identifying string found, with the start of the message it was found in."""
    found = []
    for message in received:
        for model_id, name in catalog.items():
            for needle in (model_id, name):
                if needle in message:
                    found.append(f"{needle!r} in {message[:300]!r}")
        if match := COST_FIGURE.search(message):
            start = max(match.start() - 150, 0)
            found.append(f"cost {match.group()!r} in {message[start : match.end() + 150]!r}")
    return found


def _real_models(app_url: str, user: TestAccount, comparison_id: str) -> list[str]:
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        runs = api.get(f"/api/v1/comparisons/{comparison_id}").json()["runs"]
    return [run["model"] for run in sorted(runs, key=lambda r: r["position"])]


def _comparison_id(page: Page) -> str:
    expect(page).to_have_url(re.compile(r"\?c=\w+"), timeout=15_000)
    return page.url.split("?c=")[1]


def _shoot(page: Page, name: str) -> None:
    """The page at 1400 px and at 390 px (full length, and its first 1200 px); on a phone the
    controls must wrap, not widen the page."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-1400.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    top = {"x": 0, "y": 0, "width": 390, "height": 1200}  # Playwright's Clip type is not public
    page.screenshot(path=str(SHOTS / f"{name}-390-top.png"), full_page=True, clip=top)  # type: ignore[arg-type]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1400, "height": 1000})


def _expect_masked(page: Page, labels: list[str]) -> None:
    """The DOM shows labels, the notice and "cost hidden", and no model picker on a pane."""
    for label in labels:
        expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible(timeout=15_000)
    notice = page.get_by_role("status").filter(has_text="Blind comparison")
    expect(notice).to_be_visible()
    expect(notice.get_by_role("button", name="Reveal models")).to_be_visible()
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Run")).to_be_disabled()


def _expect_no_models_in_dom(page: Page, catalog: dict[str, str]) -> None:
    """Outside the two pickers (which list every model), no model id or name is on the page."""
    html = page.evaluate(
        """() => {
            const copy = document.body.cloneNode(true);
            copy.querySelectorAll('select').forEach(s => s.remove());
            return copy.outerHTML;
        }"""
    )
    assert _leaks([html], catalog) == []


@pytest.fixture
def battle_project(app_url: str, user: TestAccount) -> Iterator[str]:
    """A project of the user's whose battles draw from BATTLE_POOL; its name."""
    name = f"Battles {uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=app_url, headers=user.api_headers, timeout=15) as api:
        created = api.post("/api/v1/projects", json={"name": name})
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]
        pool = api.put(f"/api/v1/projects/{project_id}/battle-pool", json={"models": BATTLE_POOL})
        assert pool.status_code == 200, pool.text
    yield name


def test_battle_names_no_model_until_reveal(
    page: Page, app_url: str, user: TestAccount, battle_project: str
) -> None:
    catalog = _catalog(app_url, user)
    wire = Wire(page)
    page.goto("/")
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_count(3, timeout=30_000)
    page.get_by_role("combobox", name="Project").select_option(label=battle_project)
    page.get_by_label("Prompt", exact=True).fill(PROMPT)

    pressed = wire.mark()
    page.get_by_role("button", name="Battle").click()
    comparison_id = _comparison_id(page)
    _expect_masked(page, ["Model A", "Model B"])
    expect(page.get_by_role("heading", name="Model C", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_enabled()  # still running
    _expect_no_models_in_dom(page, catalog)
    _shoot(page, "battle-running")

    expect(page.get_by_role("radiogroup", name="Best answer")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text("cost hidden")).to_have_count(2)
    _expect_masked(page, ["Model A", "Model B"])
    _expect_no_models_in_dom(page, catalog)
    assert serious_violations(page) == []
    _shoot(page, "battle-finished")

    before_reveal = wire.mark()
    received = wire.between(pressed, before_reveal)
    assert len(received) > 5, "the page received almost nothing: is the recording working?"
    assert _leaks(received, catalog) == []

    page.get_by_role("button", name="Reveal models").click()
    pickers = page.get_by_role("combobox", name="Model", exact=True)
    expect(pickers).to_have_count(2, timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="Blind comparison")).to_have_count(0)
    expect(page.get_by_text("cost hidden")).to_have_count(0)
    drawn = _real_models(app_url, user, comparison_id)
    assert len(set(drawn)) == 2 and set(drawn) <= set(BATTLE_POOL), drawn
    assert [p.input_value() for p in pickers.all()] == drawn
    # The frames after the press do carry the models: the recording would have seen a leak.
    page.wait_for_timeout(500)
    revealed = " ".join(wire.between(before_reveal, wire.mark()))
    assert all(model in revealed for model in drawn), "the reveal's frames were not recorded"
    # The vote panel names the panes by the labels the person knew them by, with their models.
    for label, model in zip(["Model A", "Model B"], drawn, strict=True):
        expect(page.get_by_role("radio", name=f"{label}: {model}")).to_be_visible()
    _shoot(page, "battle-revealed")


def test_blind_run_of_three_models_names_none_until_the_vote(
    page: Page, app_url: str, user: TestAccount
) -> None:
    catalog = _catalog(app_url, user)
    wire = Wire(page)
    page.goto("/")
    pickers = page.get_by_role("combobox", name="Model", exact=True)
    expect(pickers).to_have_count(3, timeout=30_000)
    picked = [p.input_value() for p in pickers.all()]
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    blind = page.get_by_role("switch", name="Blind")
    blind.click()
    expect(blind).to_be_checked()

    pressed = wire.mark()
    page.get_by_role("button", name="Run").click()
    comparison_id = _comparison_id(page)
    _expect_masked(page, ["Model A", "Model B", "Model C"])
    _expect_no_models_in_dom(page, catalog)
    _shoot(page, "blind-running")

    best = page.get_by_role("radiogroup", name="Best answer")
    expect(best).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text("cost hidden")).to_have_count(3)
    _expect_masked(page, ["Model A", "Model B", "Model C"])
    _expect_no_models_in_dom(page, catalog)
    _shoot(page, "blind-finished")

    best.get_by_role("radio", name="Model B", exact=True).click()
    page.get_by_role("button", name="Thumbs up for pane 2").click()
    before_vote = wire.mark()
    received = wire.between(pressed, before_vote)
    assert len(received) > 5, "the page received almost nothing: is the recording working?"
    assert _leaks(received, catalog) == []

    page.get_by_role("button", name="Save vote").click()
    expect(page.get_by_role("status").filter(has_text="Your vote is saved")).to_be_visible(timeout=15_000)
    expect(pickers).to_have_count(3, timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="Blind comparison")).to_have_count(0)
    real = _real_models(app_url, user, comparison_id)
    assert sorted(real) == sorted(picked)
    assert [p.input_value() for p in pickers.all()] == real
    expect(page.get_by_role("radio", name=f"Model B: {real[1]}")).to_be_checked()
    page.wait_for_timeout(500)
    revealed = " ".join(wire.between(before_vote, wire.mark()))
    assert all(model in revealed for model in real), "the vote's frames were not recorded"
    _shoot(page, "blind-voted")

    # "New" brings back the panes as picked, in their order, and Run works again.
    page.get_by_role("button", name="New").click()
    expect(pickers).to_have_count(3, timeout=15_000)
    expect(page.get_by_role("button", name="Run")).to_be_enabled()
    for i, model in enumerate(picked):  # waits for the redraw: the revealed panes are there first
        expect(pickers.nth(i)).to_have_value(model)
