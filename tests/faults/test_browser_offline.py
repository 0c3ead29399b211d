"""Fault 16: a browser loses its connection for 10 s in the middle of a run.

The real app (`reflex run --env prod`, embedded queue and worker) on a fresh PostgreSQL
database, driven by Debian's chromium through Playwright.  A signed-in page runs three
simulated panes of 1,000 tokens (swift ~8 s, steady ~10 s, coder ~17 s); 1.5 s in, the
browser context goes offline (`context.set_offline(True)`) for 10 s.  Two panes end
while the page is offline, one goes on streaming after it is back.

Must end with: while offline the page received nothing (its text did not grow); once
back, every pane shows "done" and its text is exactly the simulated model's
deterministic answer, equal to the saved output; each run saved once.

The front end is built into a web directory of the fault tests' own, kept between runs
(REFLEX_WEB_WORKDIR), so the checkout's .web is never rewritten under another app.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.streaming.follower import short_key
from devstack.accounts import TestAccount, account_in
from devstack.app_process import CHROMIUM, CHROMIUM_ARGS, running_app
from devstack.postgres import postgres_database
from tests.faults.support import final_saves, install_final_audit, record_result

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

WEB_WORKDIR = Path(tempfile.gettempdir()) / "llmdash-faults-web"
MODELS = ["simulated:swift", "simulated:steady", "simulated:coder"]
PROMPT = "[[simulate:tokens=1000]] fault 16: the browser goes offline mid-run"
OFFLINE_S = 10.0
LIVE_TEXT = "(k) => (window.__llmLive && window.__llmLive.get(k)?.text) || ''"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, TestAccount]]:
    data_dir = tmp_path_factory.mktemp("offline-app")
    with postgres_database() as database_url:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "KAFKA_BOOTSTRAP_SERVERS": "",
            "RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
            "RATE_LIMIT_TOKENS_PER_DAY": "0",
            "OPENAI_API_KEY": "",
            "ANTHROPIC_API_KEY": "",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9",
            "OPENAI_COMPATIBLE_ENDPOINTS": "{}",
            "REFLEX_WEB_WORKDIR": str(WEB_WORKDIR / "web"),
            "REFLEX_STATES_WORKDIR": str(WEB_WORKDIR / "states"),
        }
        with running_app(data_dir, env) as url:
            install_final_audit(database_url)
            account = account_in(data_dir, "offline@example.org", database_url=database_url)
            yield url, database_url, account


def _saved(base: str, comparison_id: str, account: TestAccount) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/comparisons/{comparison_id}", headers=account.api_headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def _expected(run: dict, prompt: str) -> str:
    name = run["model"].split(":", 1)[1]
    params = run.get("params") or {}
    request = ChatRequest(
        model=name,
        prompt=prompt,
        system_prompt="",
        temperature=float(params.get("temperature", 0.7)),
        max_tokens=int(params.get("max_tokens", 1024)),
        seed=params.get("seed"),
    )
    return "".join(simulated_text(name, request))


def _pane_text(page: Page, run: dict) -> str:
    key = short_key(f"{run['id']}:{run['attempt']}")
    return page.locator(f"[data-testid=pane][data-run-key='{key}'] [data-testid=pane-text]").inner_text()


def _lengths(page: Page, keys: list[str]) -> list[int]:
    return [len(page.evaluate(LIVE_TEXT, k)) for k in keys]


def test_browser_offline_10_s_mid_run_gets_the_full_text_back(app: tuple[str, str, TestAccount]) -> None:
    base, database_url, account = app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base)
        context.add_cookies([account.cookie(base)])  # type: ignore[list-item]
        page = context.new_page()
        try:
            page.goto("/compare?" + urlencode({"models": ",".join(MODELS), "prompt": PROMPT}))
            panes = page.locator("[data-testid=pane]")
            expect(panes).to_have_count(len(MODELS), timeout=30_000)
            page.get_by_role("button", name="Run").click()
            page.wait_for_function("() => new URLSearchParams(location.search).get('c')", timeout=15_000)
            comparison_id = page.evaluate("() => new URLSearchParams(location.search).get('c')")
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=pane]')]"
                ".some(p => p.dataset.status === 'running')",
                timeout=15_000,
            )
            page.wait_for_timeout(1500)
            keys = [k for k in (panes.nth(i).get_attribute("data-run-key") for i in range(len(MODELS))) if k]
            assert len(keys) == len(MODELS)

            context.set_offline(True)
            offline_at = time.monotonic()
            page.wait_for_timeout(1000)  # anything already on the wire lands
            frozen = _lengths(page, keys)
            page.wait_for_timeout((OFFLINE_S - 1.0) * 1000)
            still = _lengths(page, keys)
            ended_offline = [
                r["model"]
                for r in _saved(base, comparison_id, account)["runs"]
                if r["status"] == "done"  # the test process is not offline, only the browser
            ]
            context.set_offline(False)
            back_at = time.monotonic()

            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=pane]')]"
                ".every(p => p.dataset.status === 'done')",
                timeout=60_000,
            )
            done_s = time.monotonic() - back_at
            saved = _saved(base, comparison_id, account)
            dom = {run["id"]: _pane_text(page, run) for run in saved["runs"]}
            shown = {
                run["id"]: page.evaluate(LIVE_TEXT, short_key(f"{run['id']}:{run['attempt']}"))
                for run in saved["runs"]
            }
        finally:
            context.close()
            browser.close()

    saves = final_saves(database_url)
    # Exact text: the page's live store, which the pane renders (as Markdown, so the DOM's text
    # differs in markup); and the rendered pane ends with the answer's last word.
    lost = [
        r["model"]
        for r in saved["runs"]
        if not (
            r["status"] == "done"
            and r["output_text"] == _expected(r, PROMPT) == shown[r["id"]]
            and re.findall(r"[A-Za-z]{3,}", r["output_text"])[-1] in dom[r["id"]][-300:]
        )
    ]
    duplicates = sum(max(0, saves.get(r["id"], 0) - 1) for r in saved["runs"])
    record_result(
        "browser_offline_10s",
        {
            "runs": len(saved["runs"]),
            "lost": len(lost),
            "duplicates": duplicates,
            "offline_s": round(back_at - offline_at, 1),
            "ended_while_offline": ended_offline,
            "chars_received_while_offline": sum(still) - sum(frozen),
            "all_done_s_after_reconnect": round(done_s, 1),
        },
    )
    assert still == frozen, f"the page received text while offline: {frozen} -> {still}"
    assert ended_offline and len(ended_offline) < len(MODELS), "some panes end offline, some after"
    assert not lost, f"panes whose text is not the full answer after reconnecting: {lost}"
    assert duplicates == 0 and all(saves.get(r["id"]) == 1 for r in saved["runs"])
