"""(2) WebSocket bytes the page receives per byte of answer text."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page

from bench.common import STEADY, log
from bench.pages import click_run, configure_panes, live_texts, signed_in_context, wait_all_ended


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
