"""Streaming benchmark: token-to-DOM latency, WebSocket bytes per text byte, API TTFT.

Run from the project root:

    .venv/bin/python -m bench.streaming                  # both modes, full run (~9-10 min)
    .venv/bin/python -m bench.streaming --quick          # both modes, smaller run, for a smoke check
    .venv/bin/python -m bench.streaming --mode embedded  # one mode only (embedded or kafka)

Each mode starts the real app (bench/app_runs.py), afresh for each part below:
`embedded` is the app alone (in-process broker and worker, SQLite); `kafka` is
the production shape on this machine: one Apache Kafka node (KRaft), 2
`python -m workers` processes, PostgreSQL and Redis behind one app process.
With `--mode both` (the default) the same measurements run against embedded,
then Kafka, in one invocation, and the table puts them side by side with the
Kafka/embedded ratio.  Each mode measures:

1. token-to-DOM latency (p50/p95): from the moment the worker published a token
   (wall clock, written by the worker when LLMDASH_TRACE_TOKENS=path is set) to the
   first animation frame in which the pane's DOM had changed after the
   `window.__llmLive.apply` batch that carried it.  8 panes of simulated:steady
   (100 tokens/s, exactly N tokens via `[[simulate:tokens=N]]`) in 1 browser
   session.  Browser, app and workers share the machine's clock.  (Many
   sessions: `python -m bench.capacity`, protocol-level clients plus one page;
   20 Chromium pages on 2 cores measured Chromium, not the server.)
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
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

from backend.settings import Settings
from bench.app_runs import AppUnderTest, embedded_app, kafka_stack
from bench.common import (
    ROOT,
    TARGET_ADDED_TTFT_MS,
    TARGET_DOM_P95_MS,
    TARGET_KAFKA_DOM_P95_RATIO,
    TARGET_WS_RATIO,
    TARGET_WS_SIMILAR,
    app_log_problems,
    log,
    read_trace,
    trace_supported,
    write_results,
)
from bench.dom_latency import bench_token_to_dom
from bench.report import build_table
from bench.ttft import bench_ttft
from bench.ws_bytes import bench_ws_bytes
from devstack.app_process import CHROMIUM, CHROMIUM_ARGS

KAFKA_WORKERS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.streaming", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run: shorter answers, fewer probes")
    parser.add_argument(
        "--mode",
        choices=["embedded", "kafka", "both"],
        default="both",
        help="embedded app, Kafka stack (2 workers, PostgreSQL, Redis), or both side by side (default)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="EMBEDDED_WORKERS, and WORKER_CONCURRENCY of each Kafka worker (default 16)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the apps' data dirs and logs")
    parser.add_argument("--only", choices=["dom", "ws", "ttft"], action="append", help="run only these parts")
    return parser.parse_args(argv)


def measure(
    start: Callable[[str], ContextManager[AppUnderTest]], browser: Browser, plan: dict[str, Any], keep: bool
) -> dict[str, Any]:
    """Every part of the benchmark, each against an app of its own (`start(part)`).

    A fresh app (and, on Kafka, a fresh broker) per part, so no part measures what an earlier
    one left behind; both modes' parts start alike.  A part that fails (say a pane that never
    ends) is recorded under "errors" and shown in the table; the other parts still run."""
    results: dict[str, Any] = {}
    log_paths: list[Path] = []
    parts = plan["parts"]

    def attempt(
        name: str, part: str, run: Callable[[AppUnderTest], Any], fallback: Callable[[str], Any]
    ) -> Any:
        try:
            with start(part) as app:
                results.setdefault("mode", app.description)
                results.setdefault("app_start_seconds", app.start_seconds)
                results.update(app.config)
                try:
                    return run(app)
                finally:
                    log_paths.extend(app.log_paths)
        except Exception as exc:
            message = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}"
            log(f"    {name} failed: {message}")
            results.setdefault("errors", {})[name] = message
            return fallback(message)

    def dom_case(part: str, sessions: int, timeout_s: float, warmup: bool) -> dict[str, Any]:
        return attempt(
            f"(1) token-to-DOM, {sessions} session(s)",
            part,
            lambda app: bench_token_to_dom(
                browser,
                app.base,
                app.trace_paths,
                sessions,
                plan["panes"],
                plan["dom_tokens"],
                timeout_s,
                warmup,
            ),
            lambda message: {
                "sessions": sessions,
                "panes_per_session": plan["panes"],
                "rendered": {"error": message[:60]},
            },
        )

    def ws_bytes(app: AppUnderTest) -> Any:
        with _api(app) as http:
            rows = bench_ws_bytes(browser, app.base, http, plan["ws_cases"], timeout_s=120)
        if len(app.trace_paths) > 1:  # Kafka: did every worker process take runs?
            results["runs_per_worker"] = [len(read_trace(path)) for path in app.trace_paths]
            log(f"    runs per worker process: {results['runs_per_worker']}")
        return rows

    def ttft(app: AppUnderTest) -> Any:
        with _api(app) as http:
            return bench_ttft(http, plan["ttft_runs"], plan["ttft_warmup"], app.trace_paths)

    if "dom" in parts:
        dom: dict[str, Any] = {}
        if not trace_supported():
            dom["skipped"] = "token-to-DOM: needs LLMDASH_TRACE_TOKENS support"
            log(dom["skipped"])
        else:
            dom["sessions_1"] = dom_case("dom-1", 1, 60, True)
        results["token_to_dom"] = dom
    if "ws" in parts:
        results["ws_bytes"] = attempt("(2) WS bytes", "ws", ws_bytes, lambda _: [])
    if "ttft" in parts:
        results["ttft"] = attempt("(3) TTFT", "ttft", ttft, lambda _: None)
    results["app_log"] = log_report(log_paths, keep)
    return results


def _api(app: AppUnderTest) -> httpx.Client:
    return httpx.Client(base_url=app.base, timeout=60.0, headers=app.account.api_headers)


def _starter(mode: str, tmp: Path, concurrency: int) -> Callable[[str], ContextManager[AppUnderTest]]:
    """How one mode starts a fresh app for a part (in a directory of the part's own)."""

    def start(part: str) -> ContextManager[AppUnderTest]:
        if mode == "embedded":
            return embedded_app(tmp / part, concurrency)
        return kafka_stack(tmp / mode / part, KAFKA_WORKERS, concurrency)

    return start


def log_report(log_paths: list[Path], keep: bool) -> dict[str, Any]:
    """Warnings and errors in the logs of the apps (and workers) one mode's parts ran against."""
    problems = [line for path in log_paths for line in app_log_problems(path)]
    known = {
        "kafka_rewinds_to_0": "reading it from 0",  # a consumer took a partition for lost by the broker
        "reflex_state_lock_held_too_long": "held too long",
    }
    return {
        **{name: sum(needle in line for line in problems) for name, needle in known.items()},
        "paths": [str(p) for p in log_paths] if keep else "(deleted; use --keep)",
        "problem_lines": len(problems),
        "excerpt": problems[:40],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    panes = 8
    plan: dict[str, Any] = {
        "panes": panes,
        "dom_tokens": 150 if quick else 300,
        "ws_cases": [(8, 500), (8, 1500)] if quick else [(8, 500), (8, 5000), (1, 500)],
        "ttft_runs": 10 if quick else 30,
        "ttft_warmup": 2 if quick else 3,
        "parts": sorted(set(args.only or ["dom", "ws", "ttft"])),
    }
    concurrency = args.workers or 16
    modes = ["embedded", "kafka"] if args.mode == "both" else [args.mode]
    tmp = Path(tempfile.mkdtemp(prefix="llmdash-bench-"))
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "note": "2 cores shared by the app, its workers, the broker, the databases, chromium "
            "and any other process running at the time",
        },
        "config": {**plan, "concurrency": concurrency, "stream_flush_hz": Settings().stream_flush_hz},
        "targets": {
            "token_to_dom_p95_ms": TARGET_DOM_P95_MS,
            "kafka_over_embedded_token_to_dom_p95_max": TARGET_KAFKA_DOM_P95_RATIO,
            "ws_ratio_max": TARGET_WS_RATIO,
            "ws_ratio_similar_max_over_min": TARGET_WS_SIMILAR,
            "api_added_ttft_p50_ms": TARGET_ADDED_TTFT_MS,
        },
        "modes": {},
    }
    wall_start = time.monotonic()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for mode in modes:
                    results["modes"][mode] = measure(
                        _starter(mode, tmp, concurrency), browser, plan, args.keep
                    )
            finally:
                browser.close()
    finally:
        results["total_seconds"] = time.monotonic() - wall_start
        table = build_table(results["modes"])
        results["table"] = table.as_dicts()
        out = write_results("latest.json", results)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(table.render())
    print()
    for mode, r in results["modes"].items():
        problems = r.get("app_log", {})
        if problems.get("problem_lines"):
            print(
                f"{mode} logs: {problems['problem_lines']} warning/error line(s), of which"
                f" {problems['kafka_rewinds_to_0']} '... (broker restarted?); reading it from 0'"
                f" and {problems['reflex_state_lock_held_too_long']} 'Lock for token ... held too long';"
                f" first: {problems['excerpt'][0][:160]}"
            )
    starts = ", ".join(
        f"{m} start {r.get('app_start_seconds', 0):.0f} s" for m, r in results["modes"].items()
    )
    print(f"total {results['total_seconds']:.0f} s ({starts}); 2 cores shared with every other process")
    print(f"results: {out.relative_to(ROOT)}")
    return 1 if table.failed() else 0


if __name__ == "__main__":
    raise SystemExit(main())
