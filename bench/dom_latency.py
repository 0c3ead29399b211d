"""(1) Token-to-DOM latency: from the worker's publish time to the first animation frame showing it."""

from __future__ import annotations

import contextlib
import math
import os
import time
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

from bench.common import STEADY, expected_text, log, read_traces, summary
from bench.page_js import FRAME_RATE_JS, INIT_SCRIPT, RESET_JS, ROUND_JS
from bench.pages import (
    click_run,
    clock_check,
    configure_panes,
    open_compare,
    signed_in_context,
    wait_all_ended,
)


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
    trace_paths: list[Path],
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
    trace = read_traces(trace_paths)
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
    trace_paths: list[Path],
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
        rendered = result["rendered"] = run_round(pages, prompts, panes, trace_paths, False, timeout_s)
        if "token_to_dom_ms" in rendered:
            lat = rendered["token_to_dom_ms"]
            log(
                f"    {rendered['run_seconds']:.1f} s, {rendered['traced_tokens']} tokens:"
                f" DOM p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f} ms"
                f" (batch arrives p50 {rendered['token_to_apply_ms']['p50']:.1f} ms);"
                f" main thread in long tasks {rendered['main_thread_long_task_share']['mean']:.0%};"
                f" {rendered['pane_statuses']}; transport-only round"
            )
        transport = result["transport_only"] = run_round(pages, prompts, panes, trace_paths, True, timeout_s)
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
