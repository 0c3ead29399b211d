"""Concurrent SSE streams one embedded process holds without a stall, and their CPU per token.

    .venv/bin/python -m bench.sse                            # this checkout's app, up to the first stall
    .venv/bin/python -m bench.sse --baseline DIR --rounds 2  # ... beside another checkout's, alternating

Each stream is one GET /api/v1/comparisons/{id}/events of a raw socket client (no HTTP library
between the bytes and their arrival time) following its own run of `simulated:steady` (100
tokens/s, `SSE_TOKENS` each; up to `MAX_COMPARISONS` runs, beyond that streams share them).  A
level stalls when one of its streams sees a gap of more than `STALL_MS` between two reads before
its `done`, or gets its `done` later than `PACE_SLACK` x the model's time + 2 s after the streams
opened (the text no longer keeps pace).  Per level: the backend's CPU (all its processes but the
search indexer's background embedder, /proc) over the streaming window only (the comparisons are
created before it), in cores and per streamed token (a token delivered to one stream).

With `--baseline DIR` (another checkout: `git worktree add --detach DIR <commit>` or `git archive
<commit> | tar -x -C DIR`) both apps run at once and each level is measured on one, then the
other (alternating which goes first), so both meet the same load; the idle app costs next to
nothing.  bench.capacity's `sse` part measures the same levels on its own app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.app_runs import AppUnderTest, embedded_app
from bench.common import STEADY, log, summary, write_results
from bench.proc_cpu import CpuMeter
from bench.profiling import Profiles

STALL_MS = 500.0
PACE_SLACK = 1.5  # a level also stalls if its streams end later than 1.5 x the model's time + 2 s
SSE_TOKENS = 600  # 6 s streams: long enough for every stream of a level to be open at once
MAX_COMPARISONS = 128  # half of what EMBEDDED_WORKERS allows (256, backend/settings.py)
LEVELS = "16,32,64,96,128,192,256,384,512"


async def _stream(
    host: str, port: int, path: str, token: str, deadline: float, first_at: list[float]
) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    loop = asyncio.get_running_loop()
    last = first = None
    max_gap = 0.0
    done = False
    tail = b""
    deltas = 0
    try:
        while not done and loop.time() < deadline:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            if not chunk:
                break
            now = loop.time()
            window = tail + chunk
            deltas += chunk.count(b"event: delta")
            if b"event: delta" in window and first is None:
                first = now
                first_at.append(now)
            if first is not None and last is not None:
                max_gap = max(max_gap, now - last)
            if first is not None:
                last = now
            done = b"event: done" in window
            tail = window[-16:]
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return {"done": done, "max_gap_ms": max_gap * 1000.0, "first": first, "last": last, "deltas": deltas}


async def _create(base: str, token: str, streams: int) -> list[str]:
    """One comparison of one `simulated:steady` pane per stream (at most MAX_COMPARISONS)."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60.0, limits=limits) as http:
        gate = asyncio.Semaphore(16)

        async def post(i: int) -> str:
            body = {
                "prompt": f"SSE level {streams} #{i}: explain streams [[simulate:tokens={SSE_TOKENS}]]",
                "panes": [{"model": STEADY}],
            }
            async with gate:
                response = await http.post("/api/v1/comparisons", json=body)
            response.raise_for_status()
            return str(response.json()["id"])

        return list(await asyncio.gather(*(post(i) for i in range(min(streams, MAX_COMPARISONS)))))


async def _follow(base: str, token: str, streams: int, ids: list[str]) -> dict[str, Any]:
    url = urllib.parse.urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SSE_TOKENS / 100.0 + 30.0
    first_at: list[float] = []
    opened = loop.time()
    results = await asyncio.gather(
        *(
            _stream(host, port, f"/api/v1/comparisons/{ids[i % len(ids)]}/events", token, deadline, first_at)
            for i in range(streams)
        ),
        return_exceptions=True,
    )
    good = [r for r in results if isinstance(r, dict)]
    failed = [f"{type(r).__name__}: {r}"[:120] for r in results if not isinstance(r, dict)]
    gaps = [r["max_gap_ms"] for r in good if r["first"] is not None]
    ends = [r["last"] for r in good if r["done"] and r["last"] is not None]
    live_together = sum(1 for r in good if r["first"] is not None and ends and r["first"] < min(ends))
    nominal = 0.1 + SSE_TOKENS / 100.0
    late_after = opened + nominal * PACE_SLACK + 2.0  # the text came slower than the model made it
    stalled = sum(
        1 for r in good if not r["done"] or r["max_gap_ms"] > STALL_MS or r["last"] > late_after
    ) + len(failed)
    return {
        "streams": streams,
        "comparisons": len(ids),
        "tokens": SSE_TOKENS,
        "done": sum(1 for r in good if r["done"]),
        "stalled_or_failed": stalled,
        "streams_live_at_once": live_together,
        "max_gap_ms": summary(gaps),
        "open_to_first_delta_s": (max(first_at) - opened) if first_at else math.nan,
        "open_to_last_done_s": (max(ends) - opened) if ends else math.nan,
        "nominal_stream_s": nominal,
        "deltas_per_stream_mean": sum(r["deltas"] for r in good) / len(good) if good else 0,
        "errors": failed[:5],
    }


async def sse_level(
    app: AppUnderTest,
    streams: int,
    backend: Callable[[], list[int]],
    profiles: Profiles | None = None,
    name: str = "",
) -> dict[str, Any]:
    """One level: create the comparisons, then open `streams` streams at once and read them to
    their end; the backend's CPU is measured over the streaming alone."""
    token = app.account.api_token
    ids = await _create(app.base, token, streams)
    # The clients' process too: on 2 cores, reading 512 streams in Python takes cores from the app.
    meter = CpuMeter({"backend": backend, "clients": lambda: [os.getpid()]})
    if profiles is not None:
        profiles.record(f"{name or app.mode}-{streams}", backend(), SSE_TOKENS / 100.0 + 5.0)
    started = time.time()
    meter.start(started)
    try:
        row = await _follow(app.base, token, streams, ids)
    except Exception as exc:
        row = {
            "streams": streams,
            "error": f"{type(exc).__name__}: {exc}"[:200],
            "stalled_or_failed": streams,
        }
    ended = time.time()
    row["cpu_cores"] = meter.stop(ended)
    row["window_s"] = ended - started
    row["loadavg"] = os.getloadavg()[0]
    streamed = streams * SSE_TOKENS  # tokens delivered, one per stream
    row["backend_ms_per_streamed_token"] = row["cpu_cores"]["backend"] * row["window_s"] * 1000.0 / streamed
    return row


def describe(row: dict[str, Any]) -> str:
    cpu = row["cpu_cores"]
    return (
        f"{row.get('done', 0)}/{row['streams']} done, {row['stalled_or_failed']} stalled, late or failed,"
        f" last done {row.get('open_to_last_done_s', math.nan):.1f} s after opening"
        f" ({row.get('nominal_stream_s', math.nan):.1f} s of text), max gap p95"
        f" {row.get('max_gap_ms', {}).get('p95', math.nan):.0f} ms; backend {cpu['backend']:.2f} cores,"
        f" {row['backend_ms_per_streamed_token'] * 1000:.1f} us a streamed token;"
        f" clients {cpu.get('clients', math.nan):.2f} cores;"
        f" machine {cpu.get('machine (all processes)', math.nan):.2f} cores, load {row['loadavg']:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    from bench.capacity import backend_pids  # the app's processes, as bench.capacity counts them

    parser = argparse.ArgumentParser(prog="python -m bench.sse", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--levels", default=LEVELS, help="concurrent streams tried, up to the first that stalls"
    )
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout, run beside this one")
    parser.add_argument("--rounds", type=int, default=1, help="times each level is measured on each app")
    parser.add_argument(
        "--every-level", action="store_true", help="measure every level, past stalls (CPU per token)"
    )
    parser.add_argument("--no-indexer", action="store_true", help="SEARCH_EMBEDDER=none in the apps")
    parser.add_argument(
        "--no-trace", action="store_true", help="no LLMDASH_TRACE_TOKENS (bench.capacity has it)"
    )
    parser.add_argument("--profile", default="", help="a folder: py-spy profiles of the backend per level")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    env = {"SEARCH_EMBEDDER": "none"} if args.no_indexer else {}
    profiles = Profiles(Path(args.profile)) if args.profile else None
    tmp = Path(tempfile.mkdtemp(prefix="llmdash-sse-"))
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": vars(args),
        "rows": [],
    }
    workers = 2 * MAX_COMPARISONS
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, True)  # last: the apps stop first
        apps = {
            "this checkout": stack.enter_context(embedded_app(tmp / "this", workers, not args.no_trace, env))
        }
        if args.baseline is not None:
            apps["baseline"] = stack.enter_context(
                embedded_app(tmp / "baseline", workers, not args.no_trace, env, root=args.baseline.resolve())
            )
        backends = {name: backend_pids(app) for name, app in apps.items()}
        held = dict.fromkeys(apps, 0)
        stalled: set[str] = set()
        order = list(apps)
        for streams in levels:
            for round_ in range(args.rounds):
                for name in order:
                    if name in stalled and not args.every_level:
                        continue
                    log(f"{name}: {streams} streams (round {round_ + 1})")
                    row = asyncio.run(sse_level(apps[name], streams, backends[name], profiles, name))
                    if profiles is not None:
                        profiles.finish()
                    row["app"], row["round"] = name, round_ + 1
                    results["rows"].append(row)
                    log(f"    {describe(row)}")
                    if row["stalled_or_failed"]:
                        stalled.add(name)
                    time.sleep(2.0)  # the saves and the indexer settle
                order.reverse()
            for name in apps:
                if name not in stalled:
                    held[name] = streams  # the levels below held too
            if len(stalled) == len(apps) and not args.every_level:
                break
    results["held_without_stalls"] = held
    out = write_results("sse.json", results)
    print()
    head = ["app", "streams", "round", "held", "last done / text", "max gap p95", "backend cores"]
    head += ["us a streamed token", "load"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for row in results["rows"]:
        print(
            f"| {row['app']} | {row['streams']} | {row['round']}"
            f" | {'no' if row['stalled_or_failed'] else 'yes'}"
            f" | {row.get('open_to_last_done_s', math.nan):.1f}"
            f" / {row.get('nominal_stream_s', math.nan):.1f} s"
            f" | {row.get('max_gap_ms', {}).get('p95', math.nan):.0f} ms | {row['cpu_cores']['backend']:.2f}"
            f" | {row['backend_ms_per_streamed_token'] * 1000:.1f} | {row['loadavg']:.1f} |"
        )
    print()
    print("held without a stall: " + ", ".join(f"{name} {n}" for name, n in held.items()))
    print(f"(raw rows: {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
