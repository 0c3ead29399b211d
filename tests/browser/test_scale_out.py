"""Scale out: two app replicas and two worker processes behind nginx, browsers on each replica.

The production shape on this machine: the session's Apache Kafka broker, a fresh
PostgreSQL database, Redis (a database of its own, flushed at the end) for Reflex's
session state and the app's cache and limits, two `python -m workers` processes, two
`reflex run --env prod --single-port` replicas and nginx round-robin in front of them.

Two browsers are each pinned to one replica and stream a comparison at the same time; a
third goes through nginx.  Each pane must end with exactly the deterministic simulated
answer, equal to what was saved.  The workers run the panes wherever the requests land,
and every replica consumes every run's events, so each chunk reaches the browser that
owns it whichever replica it is on.

The replicas build the front end with REFLEX_API_URL pointing at nginx, as a deployment
would (Reflex bakes the backend's address into the bundle; only the host name follows the
page), so the third browser's event socket goes through nginx.  The pinned browsers load
the page from their replica's own port and an init script points their event socket at
that same origin.  The build goes to a web directory of its own (REFLEX_WEB_WORKDIR), so
this test never rewrites the checkout's .web under another app running from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.streaming.follower import short_key
from devstack.accounts import TestAccount, account_in
from devstack.app_process import free_port, running_app
from devstack.kafka_server import KafkaCluster
from devstack.kafka_workers import WorkerProcess
from devstack.nginx import Nginx, running_nginx
from devstack.stack import kafka_backend
from tests.browser.conftest import panes

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]

# Reflex keeps its own session keys in Redis next to ours: a database of their own, flushed at the end.
REDIS_URL = os.environ.get("LLMDASH_TEST_SCALE_OUT_REDIS_URL", "redis://127.0.0.1:6379/10")
RUN_TIMEOUT_MS = 60_000
ALL_DONE = (
    "() => { const p = [...document.querySelectorAll('[data-testid=pane]')];"
    " return p.length > 0 && p.every(e => e.dataset.status === 'done'); }"
)
ANY_RUNNING = (
    "() => [...document.querySelectorAll('[data-testid=pane]')].some(p => p.dataset.status === 'running')"
)
# Pins a page's Reflex event socket to the origin the page came from (its replica's own port).
# Without it the socket follows REFLEX_API_URL, i.e. goes through nginx to any replica.
PIN_SOCKET_TO_PAGE_ORIGIN = r"""
(() => {
  const Native = window.WebSocket;
  const Pinned = function (url, protocols) {
    const target = new URL(url, location.href);
    if (target.pathname.startsWith("/_event")) target.host = location.host;
    return protocols === undefined ? new Native(target.href) : new Native(target.href, protocols);
  };
  Pinned.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Pinned[k] = Native[k];
  window.WebSocket = Pinned;
})();
"""
WORKER_RUN_LINE = re.compile(r"run (\S+) attempt \d+: simulated:")


@dataclass
class Stack:
    replicas: list[str]  # base URLs, each replica on its own port
    lb: Nginx
    workers: list[WorkerProcess]
    account: TestAccount
    data_dirs: list[Path] = field(default_factory=list)

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET (or POST `body` to) the HTTP API through nginx as the account."""
        headers = {**self.account.api_headers, "content-type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.lb.url}{path}", data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def runs_per_worker(self) -> list[set[str]]:
        """The run ids each worker process logged starting."""
        return [set(WORKER_RUN_LINE.findall(w.log())) for w in self.workers]

    def replica_logs(self) -> str:
        return "\n".join(
            f"--- replica {i + 1}:\n{(d / 'app.log').read_text()[-3000:]}"
            for i, d in enumerate(self.data_dirs)
        )


def _health(base_url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{base_url}/api/v1/health", timeout=5) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as error:  # 503 while a dependency is down
        return dict(json.load(error))


def _wait_for_workers(base_url: str, n: int, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        health = _health(base_url)
        if len(health.get("workers") or []) >= n and health.get("status") == "ok":
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"{base_url}: {n} live workers expected within {timeout_s} s: {health}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def stack(kafka: KafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("scale-out")
    lb_port = free_port()
    with (
        kafka_backend(kafka.bootstrap, tmp, workers=2, redis_url=REDIS_URL, name="scale-out") as backend,
        contextlib.ExitStack() as stack,
    ):
        database_url, workers = backend.database_url, backend.workers
        app_env = {
            **backend.app_env,
            "OPENAI_API_KEY": "",
            "ANTHROPIC_API_KEY": "",
            "GOOGLE_CLOUD_PROJECT": "",
            "SIMULATED_ENABLED": "true",
            "OLLAMA_BASE_URL": "http://127.0.0.1:9",  # nothing listens: no probe waits
            "OPENAI_COMPATIBLE_ENDPOINTS": "{}",
            "AUTH_PROVIDER": "builtin",
            "GRANIAN_WORKERS": "1",  # one backend process per replica
            "REFLEX_API_URL": f"http://localhost:{lb_port}",  # the public address: nginx
            "REFLEX_WEB_WORKDIR": str(tmp / "web"),
            "REFLEX_STATES_WORKDIR": str(tmp / "states"),
        }
        data_dirs = [tmp / "replica-1", tmp / "replica-2"]
        # One after the other: the second build only starts once the first replica answers.
        replicas = [stack.enter_context(running_app(d, app_env)) for d in data_dirs]
        lb = stack.enter_context(
            running_nginx(tmp / "nginx", lb_port, [urllib.parse.urlsplit(u).netloc for u in replicas])
        )
        for url in replicas:
            _wait_for_workers(url, 2)
        account = account_in(
            data_dirs[0], "scale@example.org", name="Scale Tester", database_url=database_url
        )
        yield Stack(replicas, lb, workers, account, data_dirs)


@dataclass
class Session:
    """One browser context of the account, with the event-socket URLs it opened."""

    context: BrowserContext
    page: Page
    sockets: list[str] = field(default_factory=list)


def _session(browser: Browser, base_url: str, account: TestAccount, pin: bool) -> Session:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=base_url)
    context.add_cookies([account.cookie(base_url)])  # type: ignore[list-item]
    if pin:
        context.add_init_script(PIN_SOCKET_TO_PAGE_ORIGIN)
    page = context.new_page()
    session = Session(context, page)

    def on_socket(ws: WebSocket) -> None:
        if "/_event" in ws.url:
            session.sockets.append(ws.url)

    page.on("websocket", on_socket)
    return session


def _open_prefilled(page: Page, models: list[str], prompt: str) -> None:
    page.goto("/compare?" + urllib.parse.urlencode({"models": ",".join(models), "prompt": prompt}))
    expect(panes(page)).to_have_count(len(models), timeout=30_000)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(prompt)


def _comparison_id(page: Page) -> str:
    page.wait_for_function("() => new URLSearchParams(location.search).get('c')", timeout=15_000)
    return str(page.evaluate("() => new URLSearchParams(location.search).get('c')"))


def _live_text(page: Page, run: dict[str, Any]) -> str:
    key = short_key(f"{run['id']}:{run['attempt']}")
    return str(page.evaluate("(k) => (window.__llmLive && window.__llmLive.get(k)?.text) || ''", key))


def _expected(run: dict[str, Any], prompt: str) -> str:
    """The exact text the simulated model streams for this pane (see tests/backend/runtime_support.py)."""
    name = run["model"].split(":", 1)[1]
    params = run["params"]
    request = ChatRequest(
        model=name,
        prompt=prompt,
        system_prompt="",
        temperature=float(params.get("temperature", 0.7)),
        max_tokens=int(params.get("max_tokens", 1024)),
        seed=params.get("seed"),
    )
    return "".join(simulated_text(name, request))


def _port(url: str) -> int | None:
    return urllib.parse.urlsplit(url).port


def _wait_streaming_at_once(pages: list[Page], timeout_s: float = 15.0) -> None:
    """Until every page has a pane streaming at the same moment."""
    deadline = time.monotonic() + timeout_s
    while not all(p.evaluate(ANY_RUNNING) for p in pages):
        if time.monotonic() > deadline:
            raise AssertionError("the browsers never streamed at the same time")
        time.sleep(0.05)


def _top_up(stack: Stack, timeout_s: float = 30.0) -> None:
    """One more comparison of 4 instant panes through the API, until it is saved."""
    panes = [{"model": "simulated:instant"}] * 4
    created = stack.api("/api/v1/comparisons", {"prompt": "[[simulate:tokens=5]] top up", "panes": panes})
    deadline = time.monotonic() + timeout_s
    path = f"/api/v1/comparisons/{created['id']}"
    while not all(r["status"] in ("done", "error", "cancelled") for r in stack.api(path)["runs"]):
        if time.monotonic() > deadline:
            raise AssertionError("a top-up comparison did not finish")
        time.sleep(0.2)


def _wait_for_socket_log(lb: Nginx, timeout_s: float = 10.0) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout_s
    while True:
        log = lb.access_log()
        upgrades = [line for line in log if line["path"].startswith("/_event") and line["status"] == "101"]
        if upgrades:
            return upgrades
        if time.monotonic() > deadline:
            raise AssertionError(f"nginx logged no event socket: {log}")
        time.sleep(0.2)


def test_two_replicas_two_workers_browsers_on_each_replica_stream_at_once(
    stack: Stack, browser: Browser
) -> None:
    models = ["simulated:steady", "simulated:swift", "simulated:coder"]
    sessions = [
        _session(browser, stack.replicas[0], stack.account, pin=True),
        _session(browser, stack.replicas[1], stack.account, pin=True),
        _session(browser, stack.lb.url, stack.account, pin=False),
    ]
    prompts = [
        "[[simulate:tokens=200]] Replica one: explain consistent hashing",
        "[[simulate:tokens=200]] Replica two: explain vector clocks",
        "[[simulate:tokens=80]] Through nginx: explain round robin",
    ]
    browser_runs: set[str] = set()
    try:
        for s, prompt in zip(sessions, prompts, strict=True):
            _open_prefilled(s.page, models if s is not sessions[2] else models[:2], prompt)

        # All three Run at once; the two pinned browsers are streaming at the same moment.
        for s in sessions:
            s.page.get_by_role("button", name="Run").click()
        _wait_streaming_at_once([s.page for s in sessions[:2]])
        ids = [_comparison_id(s.page) for s in sessions]
        for s in sessions:
            try:
                s.page.wait_for_function(ALL_DONE, timeout=RUN_TIMEOUT_MS)
            except PlaywrightTimeoutError as error:
                raise AssertionError(f"{s.page.url} did not finish:\n{stack.replica_logs()}") from error

        for s, comparison_id, prompt in zip(sessions, ids, prompts, strict=True):
            saved = stack.api(f"/api/v1/comparisons/{comparison_id}")
            browser_runs.update(run["id"] for run in saved["runs"])
            assert [r["status"] for r in saved["runs"]] == ["done"] * len(saved["runs"]), saved["runs"]
            for run in saved["runs"]:
                expected = _expected(run, prompt)
                assert run["output_text"] == expected, (
                    f"saved text of {run['model']} is not the simulated answer"
                )
                assert _live_text(s.page, run) == expected, (
                    f"the browser on {s.page.url} lost, duplicated or mixed up chunks of {run['model']}"
                )
            expect(panes(s.page).get_by_role("status")).to_have_text(["done"] * len(saved["runs"]))

        # Each pinned browser's event socket went to its own replica; the third one through nginx.
        expected_ports = [_port(stack.replicas[0]), _port(stack.replicas[1]), _port(stack.lb.url)]
        for s, port in zip(sessions, expected_ports, strict=True):
            assert s.sockets, f"{s.page.url} opened no event socket"
            assert {_port(u) for u in s.sockets} == {port}, (s.sockets, port)
    finally:
        for s in sessions:
            s.context.close()

    # nginx balanced over both replicas (pages, assets, API) and carried the third browser's
    # socket to one of them (a WebSocket is logged when it closes).
    replica_addrs = {urllib.parse.urlsplit(u).netloc for u in stack.replicas}
    upgrades = _wait_for_socket_log(stack.lb)
    assert {line["upstream"] for line in upgrades} <= replica_addrs, upgrades
    assert {line["upstream"] for line in stack.lb.access_log()} == replica_addrs, stack.lb.error_log()

    # Two workers are alive, and both served runs: the worker group splits the request partitions
    # and a run's partition follows its id.  The 8 runs above all landing on one worker's half
    # happens 2 times in 256: then a few more small comparisons (API) go in until both have served.
    health = stack.api("/api/v1/health")
    assert health["status"] == "ok" and len(health["workers"]) == 2, health
    served = stack.runs_per_worker()
    assert browser_runs and browser_runs <= served[0] | served[1], (browser_runs, served)
    for _ in range(5):
        if all(served):
            break
        _top_up(stack)
        served = stack.runs_per_worker()
    assert all(served), f"runs per worker: {[len(s) for s in served]}"
