"""What tracing and metrics cost: the same load on two embedded apps, one with them off, one on.

Run from the project root:

    .venv/bin/python -m bench.tracing_overhead                        # 3 rounds x 10 streams x 4 panes
    .venv/bin/python -m bench.tracing_overhead --rounds 1 --streams 2 --tokens 50   # a smoke run

Two apps run side by side (bench/app_runs.py's embedded app, the token trace on in both):
"off" with the defaults (OTEL_TRACES_EXPORTER=none, /metrics never asked), "on" with every span
exported over OTLP/HTTP to a receiver in this process (devstack/otlp_receiver.py, as a collector
would take them) and /metrics scraped every second with METRICS_TOKEN.  The Prometheus counters
themselves count in both: they cannot be turned off.  Rounds alternate between the two apps (off,
on, off, on ...), so a busy spell of the shared machine falls on both.

A round: `--streams` API clients each create a comparison of `--panes` panes of
`simulated:steady` (100 tokens/s) and follow it over SSE (GET /api/v1/comparisons/{id}/events).
Per token, token-to-receive is the arrival of the SSE delta carrying it (this process's wall
clock) minus the time the worker emitted it (the LLMDASH_TRACE_TOKENS trace; tokens emitted
before their stream opened are left out).  The backend's CPU (the app's process group, /proc,
bench/proc_cpu.py) over the round divided by the tokens streamed in it is the CPU per token.

Prints both apps' figures side by side and the ratios on/off; the target is a difference under 5%
for both.  Figures from a machine that other work keeps busy say little: the "other processes"
column shows how busy it was.  Every address is loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from backend.streaming.follower import short_key
from bench.app_runs import AppUnderTest, embedded_app
from bench.capacity import backend_pids
from bench.common import STEADY, log, read_traces, summary
from bench.dom_latency import token_latencies
from bench.proc_cpu import CpuMeter
from devstack.otlp_receiver import OtlpReceiver, otlp_receiver

TARGET_RATIO = 1.05  # on / off: less than 5% worse
METRICS_TOKEN = "bench-metrics-token"
SCRAPE_EVERY_S = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per app (they alternate)")
    parser.add_argument("--streams", type=int, default=10, help="SSE clients per round, a comparison each")
    parser.add_argument("--panes", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per pane (100 a second)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tracing_overhead.json"))
    return parser.parse_args(argv)


# --- one stream -------------------------------------------------------------------------
async def _follow(http: httpx.AsyncClient, comparison_id: str, samples: list[list[Any]]) -> float:
    """Follow one comparison's SSE stream to its end; append [run key, text length, arrival ms]
    per delta; return when the stream answered (wall ms): tokens before it are not counted."""
    lengths: dict[str, int] = {}
    event = ""
    async with http.stream("GET", f"/api/v1/comparisons/{comparison_id}/events") as answer:
        answer.raise_for_status()
        opened_ms = time.time() * 1000.0
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "done":
                    break
            elif line.startswith("data: ") and event == "delta":
                now_ms = time.time() * 1000.0
                delta = json.loads(line[6:])
                key = short_key(f"{delta['run_id']}:{delta['attempt']}")
                # Lengths in UTF-16 units, as the token trace counts them.
                lengths[key] = lengths.get(key, 0) + len(delta["text"].encode("utf-16-le")) // 2
                samples.append([key, lengths[key], now_ms])
    return opened_ms


async def _round(base: str, token: str, streams: int, panes: int, tokens: int, tag: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=streams * 2 + 4)
    samples: list[list[Any]] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120.0, limits=limits) as http:

        async def one(i: int) -> tuple[list[str], float]:
            body = {
                "prompt": f"Overhead {tag} #{i}: explain tracing [[simulate:tokens={tokens}]]",
                "panes": [{"model": STEADY}] * panes,
            }
            created = await http.post("/api/v1/comparisons", json=body)
            created.raise_for_status()
            record = created.json()
            opened_ms = await _follow(http, str(record["id"]), samples)
            return [short_key(f"{r['id']}:{r['attempt']}") for r in record["runs"]], opened_ms

        results = await asyncio.gather(*(one(i) for i in range(streams)))
    return {"samples": samples, "runs": {k: opened for keys, opened in results for k in keys}}


# --- one app -------------------------------------------------------------------------------
class Scraper:
    """Asks the "on" app's /metrics every SCRAPE_EVERY_S, as Prometheus would, in a thread."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10.0) as http:
            while not self._stop.wait(SCRAPE_EVERY_S):
                with contextlib.suppress(httpx.HTTPError):
                    answer = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
                    self.scrapes += answer.status_code == 200

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)


def measure_round(app: AppUnderTest, args: argparse.Namespace, tag: str, scrape: bool) -> dict[str, Any]:
    backend = backend_pids(app)
    if not backend():
        raise RuntimeError(f"the processes of the app at {app.base} were not found")
    meter = CpuMeter({"backend": backend})
    started = time.time()
    meter.start(started)
    with Scraper(app.base) if scrape else contextlib.nullcontext():
        result = asyncio.run(
            _round(app.base, app.account.api_token, args.streams, args.panes, args.tokens, tag)
        )
    ended = time.time()
    cpu = meter.stop(ended)
    time.sleep(0.5)  # the trace is written when each run ends; let the last lines land
    trace = read_traces(app.trace_paths)
    runs: dict[str, float] = result["runs"]
    # Tokens emitted once their stream was open: the ones whose latency the stream can show.
    counted = {
        key: [(n, t) for n, t in trace.get(key, []) if t * 1000.0 >= opened] for key, opened in runs.items()
    }
    latencies, missing = token_latencies(counted, result["samples"], set(runs), column=2)
    streamed = sum(len(trace.get(key, [])) for key in runs)
    backend_cpu_s = cpu["backend"] * (ended - started)
    return {
        "latencies_ms": latencies,
        "receive_ms": summary(latencies),
        "tokens_streamed": streamed,
        "tokens_never_received": missing,
        "backend_cpu_s": backend_cpu_s,
        "backend_cpu_ms_per_token": 1000.0 * backend_cpu_s / streamed if streamed else math.nan,
        "machine_cores": cpu["machine (all processes)"],
        "other_cores": max(0.0, cpu["machine (all processes)"] - cpu["backend"]),
        "seconds": ended - started,
    }


def _combined(rounds: list[dict[str, Any]]) -> dict[str, float]:
    cpu_s = sum(r["backend_cpu_s"] for r in rounds)
    tokens = sum(r["tokens_streamed"] for r in rounds)
    every = [ms for r in rounds for ms in r["latencies_ms"]]
    return {
        "receive_p95_ms": summary(every)["p95"],  # over every token of every round
        "backend_cpu_ms_per_token": 1000.0 * cpu_s / tokens if tokens else math.nan,
        "tokens": float(tokens),
        "other_cores": sum(r["other_cores"] for r in rounds) / len(rounds),
    }


@contextlib.contextmanager
def two_apps(tmp: Path, receiver: OtlpReceiver) -> Iterator[tuple[AppUnderTest, AppUnderTest]]:
    on_env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    with (
        embedded_app(tmp / "off", embedded_workers=64) as off,
        embedded_app(tmp / "on", embedded_workers=64, extra_env=on_env) as on,
    ):
        yield off, on


def render(off: dict[str, float], on: dict[str, float]) -> str:
    rows = [("", "off", "on", "on / off", "target")]
    for label, key in (
        ("token-to-receive p95 (ms)", "receive_p95_ms"),
        ("backend CPU per token (ms)", "backend_cpu_ms_per_token"),
    ):
        ratio = on[key] / off[key] if off[key] else math.nan
        verdict = "PASS" if ratio < TARGET_RATIO else "FAIL"
        rows.append(
            (label, f"{off[key]:.3f}", f"{on[key]:.3f}", f"{ratio:.3f}", f"< {TARGET_RATIO:.2f}: {verdict}")
        )
    rows.append(("tokens streamed", f"{off['tokens']:.0f}", f"{on['tokens']:.0f}", "", ""))
    rows.append(("other processes (cores)", f"{off['other_cores']:.2f}", f"{on['other_cores']:.2f}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory(prefix="llmdash-overhead-") as tmp, otlp_receiver() as receiver:
        with two_apps(Path(tmp), receiver) as (off, on):
            apps = {"off": off, "on": on}
            for name, app in apps.items():  # warm both: first requests, lazy imports, JIT of nothing
                measure_round(app, argparse.Namespace(**{**vars(args), "streams": 1}), f"warm-{name}", False)
            for i in range(args.rounds):
                for name in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    log(f"round {i + 1}/{args.rounds}, tracing and metrics {name}")
                    row = measure_round(apps[name], args, f"{name}-{i}", scrape=name == "on")
                    rounds[name].append(row)
                    log(
                        f"    receive p95 {row['receive_ms']['p95']:.0f} ms,"
                        f" {row['tokens_streamed']} tokens,"
                        f" backend {row['backend_cpu_ms_per_token']:.3f} ms CPU per token,"
                        f" other processes {row['other_cores']:.2f} cores"
                    )
                    time.sleep(1.0)
        spans = len(receiver.received())
    off_total, on_total = _combined(rounds["off"]), _combined(rounds["on"])
    for row in (*rounds["off"], *rounds["on"]):
        del row["latencies_ms"]  # summarised: not written out
    print()
    print(
        f"{args.rounds} round(s) per app x {args.streams} streams x {args.panes} panes x {args.tokens} tokens"
        f" of {STEADY}; {spans} spans received from the 'on' app; {os.cpu_count()} cores"
    )
    print(render(off_total, on_total))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "rounds": rounds,
                "off": off_total,
                "on": on_total,
                "spans": spans,
            },
            indent=2,
        )
    )
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
