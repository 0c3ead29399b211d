"""Streaming benchmark: token-to-DOM latency, WebSocket bytes per text byte, API TTFT.

Run from the project root:

    .venv/bin/python -m bench.streaming            # full run (~3-5 min once the frontend is built)
    .venv/bin/python -m bench.streaming --quick    # smaller run, for a smoke check

It starts the real app once (`tests.support.app_process.running_app`, embedded
mode, its own data directory under a temp dir) and measures:

1. token-to-DOM latency (p50/p95): from the moment the worker published a token
   (wall clock, written by the app when LLMDASH_TRACE_TOKENS=path is set) to the
   first animation frame in which the pane's DOM had changed after the
   `window.__llmLive.apply` batch that carried it.  8 panes of simulated:steady
   (100 tokens/s, exactly N tokens via `[[simulate:tokens=N]]`), for 1 browser
   session and for 20 concurrent sessions (pages in separate contexts of one
   chromium).  Browser and app share the machine's clock.
2. WebSocket payload bytes received by the page (Socket.IO frames, as decoded
   text: what the app sends, before any permessage-deflate) from the Run click
   until every pane is done (+ a short settle), divided by the UTF-8 size of
   the final answers, for 8 simulated:steady panes (the page as it is used, and
   the same 8 panes as (1)) answering 500 and 5,000 tokens (and, for
   information, 1 pane x 500 tokens, where the fixed cost of a message weighs most).
3. time to first token through the API (POST /api/v1/comparisons, then the SSE
   stream until the first non-empty `delta`, timed from just before the POST)
   against calling the same simulated provider in-process.

Prints one table and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from backend.providers import registry
from backend.providers.base import ChatRequest, TextChunk
from backend.providers.simulated import simulated_text
from backend.settings import Settings
from backend.streaming.follower import short_key
from tests.support.accounts import account_in
from tests.support.app_process import CHROMIUM, CHROMIUM_ARGS, running_app

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
STEADY = "simulated:steady"

TARGET_DOM_P95_MS = 100.0
TARGET_WS_RATIO = 3.0
WS_TARGET_PANES = 8  # bytes per pane are measured on the same 8-pane page as (1)
TARGET_WS_SIMILAR = 1.25  # "similar for both lengths": the larger ratio is at most 25% above the smaller
TARGET_ADDED_TTFT_MS = 5.0

# Installed before any page script runs.  Wraps the live store's `apply` (the
# store is created by assets/live_pane.jsx as window.__llmLive) and records, per
# run key and text length reached: when the Socket.IO frame carrying the batch
# reached the page (tFrameIn), when `apply` ran (tApply), whether React had
# already changed the pane's DOM in the microtask after it (tCommit) and the
# first animation frame in which the pane's DOM differs from before the batch
# (tFrame).  Times are performance.timeOrigin + performance.now(): epoch ms.
# With window.__benchTransportOnly set, batches are recorded (and their text
# accumulated in __bench.texts) but NOT applied: nothing re-renders, which
# separates the server + network part of the latency from the browser's work.
INIT_SCRIPT = r"""
(() => {
  if (window.__bench) return;
  const now = () => performance.timeOrigin + performance.now();
  const bench = (window.__bench = {
    samples: [], batches: 0, unverified: 0, wrapped: false, frameTimes: [], texts: {}, longTasks: [],
  });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        bench.longTasks.push([performance.timeOrigin + e.startTime, e.duration]);
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { /* no long task timing */ }
  // When each Socket.IO frame carrying an apply script reached the page (our
  // listener is added before socket.io's onmessage, so it runs first).
  const NativeWebSocket = window.WebSocket;
  const Instrumented = function (...args) {
    const ws = new NativeWebSocket(...args);
    ws.addEventListener("message", (event) => {
      const data = event.data;
      if (typeof data === "string" && data.includes("__llmLive.apply")) bench.frameTimes.push(now());
    });
    return ws;
  };
  Instrumented.prototype = NativeWebSocket.prototype;
  for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Instrumented[name] = NativeWebSocket[name];
  window.WebSocket = Instrumented;
  const paneText = (key) =>
    document.querySelector(`[data-testid="pane"][data-run-key="${key}"] [data-testid="pane-text"]`);
  const wrap = (store) => {
    if (!store || store.__benchWrapped) return;
    store.__benchWrapped = true;
    bench.wrapped = true;
    const original = store.apply.bind(store);
    store.apply = (batch) => {
      const tApply = now();
      const tFrameIn = bench.frameTimes.length ? bench.frameTimes.shift() : null;
      if (window.__benchTransportOnly) {
        for (const entry of batch) {
          const key = entry[0], offset = entry[1], text = entry[2];
          const prev = bench.texts[key] || "";
          bench.texts[key] = offset > 0 ? prev.slice(0, offset) + text : text;
          if (text) bench.samples.push([key, offset + text.length, tApply, null, null, 1, tFrameIn]);
        }
        bench.batches += 1;
        return undefined;
      }
      const items = [];
      for (const entry of batch) {
        const key = entry[0], offset = entry[1], text = entry[2];
        if (!text) continue;
        const el = paneText(key);
        items.push({ key, len: offset + text.length, before: el ? el.textContent : null });
      }
      const result = original(batch);
      bench.batches += 1;
      if (!items.length) return result;
      queueMicrotask(() => {
        const tCommit = now();
        for (const it of items) {
          const el = paneText(it.key);
          it.tCommit = el && el.textContent !== it.before ? tCommit : null;
        }
        let frames = 0;
        const onFrame = () => {
          const t = now();
          frames += 1;
          let waiting = false;
          for (const it of items) {
            if (it.done) continue;
            const el = paneText(it.key);
            const changed = !!el && el.textContent !== it.before;
            if (changed || frames >= 30) {
              it.done = true;
              if (!changed) bench.unverified += 1;
              bench.samples.push([it.key, it.len, tApply, it.tCommit, t, changed ? 1 : 0, tFrameIn]);
            } else {
              waiting = true;
            }
          }
          if (waiting) requestAnimationFrame(onFrame);
        };
        requestAnimationFrame(onFrame);
      });
      return result;
    };
  };
  let current = window.__llmLive;
  if (current) wrap(current);
  Object.defineProperty(window, "__llmLive", {
    configurable: true,
    enumerable: true,
    get() { return current; },
    set(value) { current = value; wrap(value); },
  });
})();
"""

# Every pane shows a run started after the click (not one of `old` run keys) that has ended.
ALL_ENDED_JS = """
([n, old]) => {
  const panes = [...document.querySelectorAll('[data-testid=pane]')];
  return panes.length === n && panes.every(p => p.dataset.runKey && !old.includes(p.dataset.runKey)
    && ['done', 'error', 'cancelled'].includes(p.dataset.status));
}
"""

RUN_KEYS_JS = "() => [...document.querySelectorAll('[data-testid=pane]')].map(p => p.dataset.runKey || '')"

FRAME_RATE_JS = """
() => new Promise(resolve => {
  let n = 0; const t0 = performance.now();
  const tick = () => {
    n += 1;
    const dt = performance.now() - t0;
    if (dt < 500) requestAnimationFrame(tick);
    else resolve({ fps: n / (dt / 1000), vis: document.visibilityState });
  };
  requestAnimationFrame(tick);
})
"""


# --- small helpers -----------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    data = sorted(values)
    if not data:
        return math.nan
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
        "mean": sum(values) / len(values) if values else math.nan,
    }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def expected_text(prompt: str, max_tokens: int = 1024) -> str:
    return "".join(
        simulated_text("steady", ChatRequest(model="steady", prompt=prompt, max_tokens=max_tokens))
    )


def read_trace(path: Path) -> dict[str, list[tuple[int, float]]]:
    """run key -> [(text length after the chunk in UTF-16 units, wall time s)] in publish order."""
    lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
    if not path.exists():
        return lines
    for raw in path.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError):
            row = json.loads(raw)
            lines[short_key(f"{row['run_id']}:{row['attempt']}")].append(
                (int(row["text_len"]), float(row["t_wall"]))
            )
    return lines


def trace_supported() -> bool:
    return "LLMDASH_TRACE_TOKENS" in (ROOT / "workers" / "runner.py").read_text()


# --- driving the compare page ---------------------------------------------------
def open_compare(context: BrowserContext, base: str) -> Page:
    page = context.new_page()
    page.goto(base + "/", wait_until="load", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('select[aria-label=\"Model to add\"] option').length > 0"
        " && document.querySelectorAll('[data-testid=pane]').length > 0",
        timeout=60_000,
    )
    return page


def configure_panes(page: Page, n: int, model: str, prompt: str) -> None:
    """Make the page show exactly `n` panes of `model` and type `prompt`."""
    panes = page.locator("[data-testid=pane]")
    count_is = "(n) => document.querySelectorAll('[data-testid=pane]').length === n"
    while panes.count() > n:
        before = panes.count()
        panes.last.get_by_role("button", name="Remove pane").click()
        page.wait_for_function(count_is, arg=before - 1, timeout=15_000)
    page.locator('select[aria-label="Model to add"]').select_option(model)
    page.wait_for_function(
        "(m) => document.querySelector('select[aria-label=\"Model to add\"]').value === m", arg=model
    )
    while panes.count() < n:
        before = panes.count()
        page.get_by_role("button", name="Add pane").click()
        page.wait_for_function(count_is, arg=before + 1, timeout=15_000)
    for i in range(n):
        pane = panes.nth(i)
        if pane.get_attribute("data-model") != model:
            pane.locator('select[aria-label="Model"]').select_option(model)
    page.wait_for_function(
        "([n, m]) => { const p = [...document.querySelectorAll('[data-testid=pane]')];"
        " return p.length === n && p.every(x => x.dataset.model === m); }",
        arg=[n, model],
        timeout=15_000,
    )
    page.get_by_label("Prompt", exact=True).fill(prompt)


def click_run(page: Page) -> list[str]:
    """Click Run; return the run keys shown before, so a wait can tell the new runs apart."""
    old = page.evaluate(RUN_KEYS_JS)
    page.get_by_role("button", name="Run", exact=True).click()
    return [k for k in old if k]


def wait_all_ended(page: Page, n: int, old_keys: list[str], timeout_s: float) -> list[str]:
    page.wait_for_function(ALL_ENDED_JS, arg=[n, old_keys], timeout=timeout_s * 1000, polling=100)
    return [p.get_attribute("data-status") or "" for p in page.locator("[data-testid=pane]").all()]


def live_texts(page: Page) -> dict[str, str]:
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('[data-testid=pane]')]"
        ".map(p => [p.dataset.runKey || '',"
        " (window.__llmLive && window.__llmLive.get(p.dataset.runKey)?.text) ?? null]))"
    )


def clock_check(page: Page) -> dict[str, float]:
    """Browser clock (timeOrigin + now) minus Python's time.time(), with the round trip as bound."""
    t0 = time.time()
    browser_ms, date_ms = page.evaluate("() => [performance.timeOrigin + performance.now(), Date.now()]")
    t1 = time.time()
    return {
        "skew_ms": browser_ms - (t0 + t1) * 500.0,
        "rtt_ms": (t1 - t0) * 1000.0,
        "hr_vs_date_ms": browser_ms - date_ms,
    }


# --- (1) token-to-DOM latency ---------------------------------------------------
def token_latencies(
    trace: dict[str, list[tuple[int, float]]], samples: list[list[Any]], keys: set[str], column: int
) -> tuple[list[float], int]:
    """Per token: the first browser time (sample `column`) at which its run's text reached it,
    minus the token's emit time.

    Returns the latencies in ms and how many traced tokens never reached the browser.
    """
    per_key: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for sample in samples:
        t = sample[column]
        if t is not None:
            per_key[sample[0]].append((float(t), int(sample[1])))
    latencies: list[float] = []
    missing = 0
    for key in keys:
        points = sorted(per_key.get(key, []))
        times: list[float] = []
        reached: list[int] = []
        best = -1
        for t, length in points:
            if length > best:  # keep only the frames that reached a new length
                best = length
                times.append(t)
                reached.append(length)
        for text_len, t_wall in trace.get(key, []):
            index = bisect_left(reached, text_len)
            if index == len(reached):
                missing += 1
                continue
            latencies.append(times[index] - t_wall * 1000.0)
    return latencies, missing


RESET_JS = """
(transportOnly) => {
  window.__benchTransportOnly = transportOnly;
  Object.assign(window.__bench, {
    samples: [], batches: 0, unverified: 0, frameTimes: [], texts: {}, longTasks: [],
  });
}
"""

ROUND_JS = """
(transportOnly) => {
  const keys = [...document.querySelectorAll('[data-testid=pane]')].map(p => p.dataset.runKey || '');
  const b = window.__bench;
  const texts = Object.fromEntries(keys.map(k => [k, transportOnly ? (b.texts[k] ?? null)
                                                     : (window.__llmLive?.get(k)?.text ?? null)]));
  return { wrapped: b.wrapped, samples: b.samples, batches: b.batches, unverified: b.unverified,
           longTasks: b.longTasks, texts };
}
"""


# The bench account's session cookie per app address (set once the app is up, in main()).
SESSION_COOKIES: dict[str, dict[str, str]] = {}


def signed_in_context(browser: Browser, base: str) -> BrowserContext:
    """A browser context signed in as the bench account (every page needs an account)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([SESSION_COOKIES[base]])  # type: ignore[list-item]
    return context


def setup_sessions(
    browser: Browser, base: str, sessions: int, panes: int, tokens: int
) -> tuple[list[BrowserContext], list[Page], list[str]]:
    contexts: list[BrowserContext] = []
    pages: list[Page] = []
    prompts: list[str] = []
    try:
        for i in range(sessions):
            context = signed_in_context(browser, base)
            context.add_init_script(INIT_SCRIPT)
            contexts.append(context)
            page = open_compare(context, base)
            prompt = f"Session {i} of {sessions}: explain cache invalidation [[simulate:tokens={tokens}]]"
            configure_panes(page, panes, STEADY, prompt)
            pages.append(page)
            prompts.append(prompt)
    except BaseException:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
        raise
    return contexts, pages, prompts


def run_round(
    pages: list[Page],
    prompts: list[str],
    panes: int,
    trace_path: Path,
    transport_only: bool,
    timeout_s: float,
) -> dict[str, Any]:
    """Click Run on every page at once, wait for every pane to end, and work out the latencies."""
    for page in pages:
        page.evaluate(RESET_JS, transport_only)
    load_before = os.getloadavg()
    frame_rates = [page.evaluate(FRAME_RATE_JS) for page in pages[:2]] if not transport_only else []
    run_start = time.monotonic()
    t_click = time.time() * 1000.0
    old_keys = [click_run(page) for page in pages]
    statuses = [
        wait_all_ended(page, panes, old, timeout_s) for page, old in zip(pages, old_keys, strict=True)
    ]
    run_s = time.monotonic() - run_start
    pages[0].wait_for_timeout(500)  # let the last frames be sampled
    t_end = time.time() * 1000.0
    clocks = [clock_check(page) for page in pages[:2]]
    samples: list[list[Any]] = []
    batches = unverified = 0
    busy: list[float] = []
    long_tasks: list[float] = []
    text_errors: list[str] = []
    keys: set[str] = set()
    for page, prompt in zip(pages, prompts, strict=True):
        state = page.evaluate(ROUND_JS, transport_only)
        if not state["wrapped"]:
            text_errors.append("the live store was not instrumented (window.__llmLive never set?)")
            continue
        samples.extend(state["samples"])
        batches += state["batches"]
        unverified += state["unverified"]
        mine = [d for start, d in state["longTasks"] if t_click <= start <= t_end]
        long_tasks.extend(mine)
        busy.append(sum(mine) / (t_end - t_click))
        want = expected_text(prompt)
        for key, text in state["texts"].items():
            keys.add(key)
            if text != want:
                got = "missing" if text is None else f"{len(text)} chars"
                text_errors.append(f"{key}: browser text {got}, expected {len(want)} chars")
    flat = [s for x in statuses for s in x]
    result: dict[str, Any] = {
        "mode": "transport only (batches recorded, not rendered)" if transport_only else "rendered",
        "run_seconds": run_s,
        "pane_statuses": {s: flat.count(s) for s in sorted(set(flat))},
        "apply_batches": batches,
        "batches_per_session_per_s": batches / len(pages) / run_s if run_s else math.nan,
        "unverified_samples": unverified,
        "main_thread_long_task_share": {
            "mean": sum(busy) / len(busy) if busy else math.nan,
            "max": max(busy, default=math.nan),
        },
        "long_task_ms": summary(long_tasks),
        "text_mismatch_count": len(text_errors),
        "text_mismatches": text_errors[:20],
        "clock": clocks,
        "frame_rate_before_run": frame_rates,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    trace = read_trace(trace_path)
    if not trace:
        result["error"] = "no token trace (LLMDASH_TRACE_TOKENS not supported by this app build?)"
        return result
    result["traced_tokens"] = sum(len(trace.get(k, [])) for k in keys)
    if transport_only:
        arrival, missing = token_latencies(trace, samples, keys, column=2)
        result.update({"tokens_never_arrived": missing, "token_to_apply_ms": summary(arrival)})
        return result
    frame_lat, missing = token_latencies(trace, samples, keys, column=4)
    result.update(
        {
            "tokens_never_in_dom": missing,
            "token_to_dom_ms": summary(frame_lat),
            "token_to_commit_ms": summary(token_latencies(trace, samples, keys, column=3)[0]),
            "token_to_apply_ms": summary(token_latencies(trace, samples, keys, column=2)[0]),
            "token_to_ws_frame_ms": summary(token_latencies(trace, samples, keys, column=6)[0]),
        }
    )
    return result


def bench_token_to_dom(
    browser: Browser,
    base: str,
    trace_path: Path,
    sessions: int,
    panes: int,
    tokens: int,
    timeout_s: float,
    warmup: bool = False,
) -> dict[str, Any]:
    log(f"(1) token-to-DOM: {sessions} session(s) x {panes} panes x {tokens} tokens of {STEADY}")
    setup_start = time.monotonic()
    contexts, pages, prompts = setup_sessions(browser, base, sessions, panes, tokens)
    result: dict[str, Any] = {
        "sessions": sessions,
        "panes_per_session": panes,
        "tokens_per_pane": tokens,
        "model": STEADY,
        "setup_seconds": time.monotonic() - setup_start,
        "warmup_round": warmup,
    }
    try:
        if warmup:  # one unmeasured run first, so the browser's JIT and lazy chunks are warm
            old_keys = [click_run(page) for page in pages]
            for page, old in zip(pages, old_keys, strict=True):
                wait_all_ended(page, panes, old, timeout_s)
        log(f"    {sessions} page(s) ready in {result['setup_seconds']:.1f} s; rendered round")
        rendered = result["rendered"] = run_round(pages, prompts, panes, trace_path, False, timeout_s)
        if "token_to_dom_ms" in rendered:
            lat = rendered["token_to_dom_ms"]
            log(
                f"    {rendered['run_seconds']:.1f} s, {rendered['traced_tokens']} tokens:"
                f" DOM p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f} ms"
                f" (batch arrives p50 {rendered['token_to_apply_ms']['p50']:.1f} ms);"
                f" main thread in long tasks {rendered['main_thread_long_task_share']['mean']:.0%};"
                f" {rendered['pane_statuses']}; transport-only round"
            )
        transport = result["transport_only"] = run_round(pages, prompts, panes, trace_path, True, timeout_s)
        if "token_to_apply_ms" in transport:
            lat = transport["token_to_apply_ms"]
            log(
                f"    {transport['run_seconds']:.1f} s: batch arrival"
                f" p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f} ms;"
                f" {transport['pane_statuses']}"
            )
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
    return result


# --- (2) WebSocket bytes per text byte -------------------------------------------
class FrameCounter:
    def __init__(self) -> None:
        self.counting = False
        self.received = 0
        self.received_frames = 0
        self.sent = 0

    @staticmethod
    def _size(payload: str | bytes) -> int:
        return len(payload.encode()) if isinstance(payload, str) else len(payload)

    def on_received(self, payload: str | bytes) -> None:
        if self.counting:
            self.received += self._size(payload)
            self.received_frames += 1

    def on_sent(self, payload: str | bytes) -> None:
        if self.counting:
            self.sent += self._size(payload)

    def attach(self, page: Page) -> None:
        def on_websocket(ws: Any) -> None:
            ws.on("framereceived", self.on_received)
            ws.on("framesent", self.on_sent)

        page.on("websocket", on_websocket)


def bench_ws_bytes(
    browser: Browser, base: str, http: httpx.Client, cases: list[tuple[int, int]], timeout_s: float
) -> list[dict[str, Any]]:
    """cases: (panes, tokens) — all run at once, each in its own session."""
    log("(2) WebSocket bytes: " + ", ".join(f"{p} pane(s) x {t} tokens" for p, t in cases))
    contexts: list[BrowserContext] = []
    runs: list[tuple[Page, FrameCounter, int, int]] = []
    results: list[dict[str, Any]] = []
    try:
        for panes, tokens in cases:
            context = signed_in_context(browser, base)
            contexts.append(context)
            page = context.new_page()
            counter = FrameCounter()
            counter.attach(page)  # before navigation, so the Socket.IO connection is seen
            page.goto(base + "/", wait_until="load", timeout=60_000)
            page.wait_for_function(
                "() => document.querySelectorAll('select[aria-label=\"Model to add\"] option').length > 0",
                timeout=60_000,
            )
            configure_panes(page, panes, STEADY, f"Bytes check {panes}x{tokens} [[simulate:tokens={tokens}]]")
            page.wait_for_timeout(300)  # let the prompt's own events go out before counting starts
            runs.append((page, counter, panes, tokens))
        started = {}
        old_keys = {}
        for page, counter, panes, tokens in runs:
            counter.counting = True
            started[(panes, tokens)] = time.monotonic()
            old_keys[(panes, tokens)] = click_run(page)
        for page, counter, panes, tokens in sorted(runs, key=lambda r: (r[3], r[2])):  # shortest first
            statuses = wait_all_ended(page, panes, old_keys[(panes, tokens)], timeout_s)
            elapsed = time.monotonic() - started[(panes, tokens)]
            page.wait_for_timeout(500)  # settle: count the frames that follow the last status change
            counter.counting = False
            comparison_id = page.evaluate("() => new URLSearchParams(location.search).get('c')")
            text_bytes = 0
            source = "api"
            mismatch = False
            if comparison_id:
                record = http.get(f"/api/v1/comparisons/{comparison_id}").json()
                finals = [run["output_text"] for run in record["runs"]]
                text_bytes = sum(len(t.encode()) for t in finals)
                live = [t for t in live_texts(page).values()]
                mismatch = sorted(t or "" for t in live) != sorted(finals)
            else:  # no ?c= in the URL: fall back to the browser's own copy
                source = "browser"
                text_bytes = sum(len((t or "").encode()) for t in live_texts(page).values())
            ratio = counter.received / text_bytes if text_bytes else math.nan
            results.append(
                {
                    "panes": panes,
                    "tokens_per_pane": tokens,
                    "model": STEADY,
                    "statuses": statuses,
                    "seconds": elapsed,
                    "nominal_stream_seconds": 0.1 + (tokens - 1) / 100.0,  # steady: 100 ms TTFT, 100 tokens/s
                    "ws_bytes_received": counter.received,
                    "ws_frames_received": counter.received_frames,
                    "ws_bytes_sent": counter.sent,
                    "final_text_bytes": text_bytes,
                    "final_text_source": source,
                    "browser_text_differs_from_saved": mismatch,
                    "ratio": ratio,
                }
            )
            log(
                f"    {panes} pane(s) x {tokens} tokens: {counter.received:,} B in {counter.received_frames}"
                f" frames / {text_bytes:,} B text = {ratio:.2f}x ({elapsed:.1f} s)"
            )
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
    return results


# --- (3) API time to first token vs the provider itself ---------------------------
async def direct_ttfts(n: int, warmup: int) -> list[float]:
    provider = registry.get_provider(STEADY, Settings())
    values: list[float] = []
    for i in range(n + warmup):
        request = ChatRequest(model="steady", prompt=f"TTFT probe {i} [[simulate:tokens=3]]", max_tokens=16)
        stream = provider.stream(request)
        start = time.perf_counter()
        async for item in stream:
            if isinstance(item, TextChunk) and item.text:
                if i >= warmup:
                    values.append((time.perf_counter() - start) * 1000.0)
                break
        await stream.aclose()  # type: ignore[attr-defined]
    return values


def api_ttft_once(http: httpx.Client, prompt: str, timeout_s: float) -> tuple[float, float, str]:
    """(ms to the first text, ms the POST took, final statuses)."""
    start = time.perf_counter()
    response = http.post("/api/v1/comparisons", json={"prompt": prompt, "panes": [{"model": STEADY}]})
    post_ms = (time.perf_counter() - start) * 1000.0
    response.raise_for_status()
    comparison_id = response.json()["id"]
    first: float | None = None
    final_status = ""
    event = ""
    deadline = time.monotonic() + timeout_s
    with http.stream("GET", f"/api/v1/comparisons/{comparison_id}/events") as events:
        for line in events.iter_lines():
            if time.monotonic() > deadline:
                break
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                if event == "delta" and data.get("text") and first is None:
                    first = (time.perf_counter() - start) * 1000.0
                if event == "done":
                    final_status = ",".join(r["status"] for r in data["runs"])
                    break
    if first is None:
        raise RuntimeError(f"no text arrived for comparison {comparison_id} (status {final_status!r})")
    return first, post_ms, final_status


def bench_ttft(http: httpx.Client, n: int, warmup: int) -> dict[str, Any]:
    log(f"(3) TTFT: {n} runs (after {warmup} warm-up) in-process and through the API")
    # in a thread: the sync Playwright API may own this thread's event loop
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        direct = pool.submit(asyncio.run, direct_ttfts(n, warmup)).result()
    api: list[float] = []
    posts: list[float] = []
    statuses: list[str] = []
    for i in range(n + warmup):
        value, post_ms, status = api_ttft_once(http, f"TTFT probe {i} [[simulate:tokens=3]]", timeout_s=30)
        statuses.append(status)
        if i >= warmup:
            api.append(value)
            posts.append(post_ms)
    d, a = summary(direct), summary(api)
    log(f"    direct p50 {d['p50']:.1f} ms, API p50 {a['p50']:.1f} ms, added {a['p50'] - d['p50']:.1f} ms")
    return {
        "model": STEADY,
        "direct_ms": d,
        "api_ms": a,
        "post_request_ms": summary(posts),
        "added_p50_ms": a["p50"] - d["p50"],
        "added_p95_ms": a["p95"] - d["p95"],
        "non_done_runs": [s for s in statuses if s != "done"],
        "method": "direct: registry.get_provider(...).stream() until the first TextChunk; "
        "API: from before the POST (keep-alive client) to the first SSE delta with text",
    }


# --- report -----------------------------------------------------------------------
def app_log_problems(log_path: Path) -> list[str]:
    if not log_path.exists():
        return []
    pattern = re.compile(r"Traceback|\bERROR\b|Exception|Error:|WARNING", re.IGNORECASE)
    return [
        line.rstrip() for line in log_path.read_text(errors="replace").splitlines() if pattern.search(line)
    ]


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def build_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    dom = results.get("token_to_dom", {})
    if "skipped" in dom:
        rows.append(("(1) token-to-DOM", dom["skipped"], f"p95 < {TARGET_DOM_P95_MS:.0f} ms", "n/a"))
    for key, run in sorted(dom.items(), key=lambda kv: kv[0]):
        if not isinstance(run, dict):
            continue
        who = f"{run['sessions']} session(s) x {run['panes_per_session']} panes"
        is_target = key == "sessions_max" and run["sessions"] >= 20
        target = f"p95 < {TARGET_DOM_P95_MS:.0f} ms" + ("" if is_target else " (info)")
        rendered = run.get("rendered", {})
        if "token_to_dom_ms" not in rendered:
            rows.append((f"(1) token-to-DOM p50/p95, {who}", rendered.get("error", "failed"), target, "n/a"))
            continue
        lat = rendered["token_to_dom_ms"]
        clean = rendered["tokens_never_in_dom"] == 0 and rendered["text_mismatch_count"] == 0
        ok = lat["p95"] < TARGET_DOM_P95_MS and clean
        value = f"{lat['p50']:.1f} / {lat['p95']:.1f} ms"
        if not clean:
            lost, bad = rendered["tokens_never_in_dom"], rendered["text_mismatch_count"]
            value += f" ({lost} tokens lost, {bad} bad panes)"
        rows.append((f"(1) token-to-DOM p50/p95, {who}", value, target, verdict(ok) if is_target else "info"))
        transport = run.get("transport_only", {})
        if "token_to_apply_ms" in transport:
            t = transport["token_to_apply_ms"]
            value = f"{t['p50']:.1f} / {t['p95']:.1f} ms"
            if transport["tokens_never_arrived"] or transport["text_mismatch_count"]:
                value += (
                    f" ({transport['tokens_never_arrived']} lost, {transport['text_mismatch_count']} bad)"
                )
            rows.append((f"    server+network only (no render), {who}", value, "(diagnostic)", ""))
    ws = results.get("ws_bytes", [])
    single = [r for r in ws if r["panes"] == WS_TARGET_PANES]
    ratios = [r["ratio"] for r in single]
    similar = (max(ratios) / min(ratios) <= TARGET_WS_SIMILAR) if len(ratios) >= 2 else None
    for r in ws:
        label = f"(2) WS bytes / text bytes, {r['panes']} pane(s) x {r['tokens_per_pane']} tokens"
        if r["panes"] == WS_TARGET_PANES:
            rows.append(
                (
                    label,
                    f"{r['ratio']:.2f}x",
                    f"< {TARGET_WS_RATIO:.0f}x",
                    verdict(r["ratio"] < TARGET_WS_RATIO),
                )
            )
        else:
            rows.append((label, f"{r['ratio']:.2f}x", "(info)", "info"))
    if len(ratios) >= 2:
        rows.append(
            (
                "(2) ratio similar across lengths (max/min)",
                f"{max(ratios) / min(ratios):.2f}",
                f"<= {TARGET_WS_SIMILAR:.2f}",
                verdict(similar),
            )
        )
    ttft = results.get("ttft")
    if ttft:
        d, a = ttft["direct_ms"], ttft["api_ms"]
        rows.append(("(3) TTFT direct p50/p95", f"{d['p50']:.1f} / {d['p95']:.1f} ms", "(reference)", ""))
        rows.append(("(3) TTFT via API p50/p95", f"{a['p50']:.1f} / {a['p95']:.1f} ms", "", ""))
        rows.append(
            (
                "(3) API added TTFT at p50",
                f"{ttft['added_p50_ms']:.1f} ms",
                f"< {TARGET_ADDED_TTFT_MS:.0f} ms",
                verdict(ttft["added_p50_ms"] < TARGET_ADDED_TTFT_MS),
            )
        )
    return rows


def render_table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("metric", "embedded", "target", "result")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    fmt: Callable[[tuple[str, ...]], str] = lambda row: " | ".join(  # noqa: E731
        str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
    ).rstrip()
    lines = [fmt(header), "-+-".join("-" * w for w in widths)]
    lines.extend(fmt(row) for row in rows)
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.streaming", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run: 1 and 4 sessions, shorter answers")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent sessions for (1) (default 20)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="EMBEDDED_WORKERS for the app (default: enough for every pane of (1) at once, max 256)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the app's data dir (and app.log)")
    parser.add_argument("--only", choices=["dom", "ws", "ttft"], action="append", help="run only these parts")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    sessions = args.sessions or (4 if quick else 20)
    panes, dom_tokens = 8, (150 if quick else 300)
    ws_cases = (
        [(WS_TARGET_PANES, 500), (WS_TARGET_PANES, 1500)]
        if quick
        else [(WS_TARGET_PANES, 500), (WS_TARGET_PANES, 5000), (1, 500)]
    )
    ttft_runs, ttft_warmup = (10, 2) if quick else (30, 3)
    workers = args.workers or min(256, max(16, sessions * panes))
    parts = set(args.only or ["dom", "ws", "ttft"])

    tmp = Path(tempfile.mkdtemp(prefix="llmdash-bench-"))
    data_dir = tmp / "data"
    trace_path = tmp / "token-trace.jsonl"
    env = {
        "LLMDASH_TRACE_TOKENS": str(trace_path),
        "EMBEDDED_WORKERS": str(workers),
        # 20 sessions x 8 panes is one user asking 160 times at once: no limits here.
        "RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
        "RATE_LIMIT_TOKENS_PER_DAY": "0",
    }
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "mode": "embedded (in-process broker and worker, SQLite)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "config": {
            "sessions": sessions,
            "panes": panes,
            "dom_tokens_per_pane": dom_tokens,
            "ws_cases": ws_cases,
            "ttft_runs": ttft_runs,
            "embedded_workers": workers,
            "stream_flush_hz": Settings().stream_flush_hz,
        },
        "targets": {
            "token_to_dom_p95_ms_20_sessions": TARGET_DOM_P95_MS,
            "ws_ratio_max": TARGET_WS_RATIO,
            "ws_ratio_similar_max_over_min": TARGET_WS_SIMILAR,
            "api_added_ttft_p50_ms": TARGET_ADDED_TTFT_MS,
        },
    }
    wall_start = time.monotonic()
    log(f"starting the app (data dir {data_dir}); the first start builds the frontend")
    try:
        for attempt in (1, 2):  # the shared .web build may collide with another process's build
            try:
                app = running_app(data_dir, env)
                base = app.__enter__()
                break
            except (RuntimeError, TimeoutError) as exc:
                if attempt == 2:
                    raise
                log(f"the app did not start ({str(exc).splitlines()[0]}); retrying once")
                data_dir = tmp / "data-retry"
        results["app_start_seconds"] = time.monotonic() - wall_start
        log(f"app up at {base} after {results['app_start_seconds']:.0f} s")
        account = account_in(data_dir, "bench@example.org")
        SESSION_COOKIES[base] = account.cookie(base)
        try:
            with (
                httpx.Client(base_url=base, timeout=60.0, headers=account.api_headers) as http,
                sync_playwright() as p,
            ):
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    if "dom" in parts:
                        dom: dict[str, Any] = {}
                        if not trace_supported():
                            dom["skipped"] = "token-to-DOM: needs LLMDASH_TRACE_TOKENS support"
                            log(dom["skipped"])
                        else:
                            dom["sessions_1"] = bench_token_to_dom(
                                browser, base, trace_path, 1, panes, dom_tokens, timeout_s=60, warmup=True
                            )
                            dom["sessions_max"] = bench_token_to_dom(
                                browser, base, trace_path, sessions, panes, dom_tokens, timeout_s=180
                            )
                        results["token_to_dom"] = dom
                    if "ws" in parts:
                        results["ws_bytes"] = bench_ws_bytes(browser, base, http, ws_cases, timeout_s=120)
                finally:
                    browser.close()
                if "ttft" in parts:
                    results["ttft"] = bench_ttft(http, ttft_runs, ttft_warmup)
        finally:
            app.__exit__(None, None, None)
    finally:
        problems = app_log_problems(data_dir / "app.log")
        results["app_log"] = {
            "path": str(data_dir / "app.log") if args.keep else "(deleted; use --keep)",
            "problem_lines": len(problems),
            "excerpt": problems[:40],
        }
        results["total_seconds"] = time.monotonic() - wall_start
        rows = build_rows(results)
        results["table"] = [
            dict(zip(("metric", "embedded", "target", "result"), r, strict=True)) for r in rows
        ]
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / "latest.json"
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(render_table(rows))
    print()
    if problems:
        print(f"app.log: {len(problems)} warning/error line(s); first: {problems[0][:200]}")
    print(f"total {results['total_seconds']:.0f} s (app start {results.get('app_start_seconds', 0):.0f} s)")
    print(f"results: {out.relative_to(ROOT)}")
    return 0 if all(r[3] in ("PASS", "", "info") or r[3].startswith("info") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
