"""What tracing and metrics cost: the same load on two embedded apps, one with them off, one on.

Run from the project root:

    .venv/bin/python -m bench.tracing_overhead                        # 10 rounds x 10 streams x 4 panes
    .venv/bin/python -m bench.tracing_overhead --sample-ratio 1.0     # "on" keeps every trace
    .venv/bin/python -m bench.tracing_overhead --control              # A/A: both apps off
    .venv/bin/python -m bench.tracing_overhead --rounds 1 --streams 2 --tokens 50   # a smoke run

Two apps run side by side (bench/app_runs.py's embedded app, the token trace on in both, search
indexing off in both): "off" with the defaults (OTEL_TRACES_EXPORTER=none, /metrics never
asked), "on" as production would run it: its spans exported over OTLP/HTTP to a collector
stand-in at the default OTEL_TRACES_SAMPLE_RATIO (backend/settings.py; ``--sample-ratio``), and
/metrics scraped with METRICS_TOKEN every 15 s (``--scrape-interval``: a common Prometheus
scrape_interval; its default is 1 min). Before the rounds, the cost of one scrape of the "on"
app is measured apart (``--scrapes`` back to back, less the app's idle CPU over as long). The
stand-in (bench/collector.py) is a process of its own, so decoding spans and scraping never take
the GIL from the clients that time the tokens; those clients are the same for both apps. The
Prometheus counters count in both: they cannot be turned off. Rounds alternate between the two
apps (off, on; on, off; ...), so a busy spell of the shared machine falls on both, and each
round is printed, off beside on: how far apart two rounds of the same app are is the noise.
``--control`` starts "on" with everything off too: the ratios then show what the bench cannot
tell apart.

A round: `--streams` API clients each create a comparison of `--panes` panes of
`simulated:steady` (100 tokens/s) and follow it over SSE (GET /api/v1/comparisons/{id}/events).
Per token, token-to-receive is the arrival of the SSE delta carrying it (this process's wall
clock) minus the time the worker emitted it (the LLMDASH_TRACE_TOKENS trace; tokens emitted
before their stream opened are left out).  The backend's CPU (the app's process group, /proc,
bench/proc_cpu.py), from the round's start to `--settle` seconds after its last stream ended
(the saves, the last spans exported: "on" exports every 500 ms here), divided by the tokens
streamed in it is the CPU per token.

Prints both apps' figures side by side and the ratios on/off (pooled over every round, and the
median of the rounds' own ratios); the target is a difference under 5% for both.  The "others"
columns say how busy the machine was besides this app, its clients and the collector.  Every
address is loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from backend.settings import Settings
from backend.streaming.follower import short_key
from bench.app_runs import AppUnderTest, embedded_app
from bench.capacity import backend_pids
from bench.collector import Collector, collector_process
from bench.common import STEADY, log, percentile, read_traces, summary
from bench.dom_latency import token_latencies
from bench.proc_cpu import CpuMeter, cpu_seconds

TARGET_RATIO = 1.05  # on / off: less than 5% worse
DEFAULT_SAMPLE_RATIO = float(Settings.model_fields["otel_traces_sample_ratio"].default)
METRICS_TOKEN = "bench-metrics-token"
BSP_SCHEDULE_DELAY_MS = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="rounds per app (they alternate)")
    parser.add_argument("--streams", type=int, default=10, help="SSE clients per round, a comparison each")
    parser.add_argument("--panes", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per pane (100 a second)")
    parser.add_argument(
        "--sample-ratio",
        type=float,
        default=DEFAULT_SAMPLE_RATIO,
        help="the 'on' app's OTEL_TRACES_SAMPLE_RATIO: the share of traces kept (1.0: every one;"
        f" default: the app's, {DEFAULT_SAMPLE_RATIO})",
    )
    parser.add_argument(
        "--scrape-interval",
        type=float,
        default=15.0,
        help="seconds between two scrapes of the 'on' app's /metrics (Prometheus: 1 min by default,"
        " 15 s is common)",
    )
    parser.add_argument(
        "--scrapes", type=int, default=100, help="scrapes back to back to measure one's cost (0: skip)"
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="an A/A run: the 'on' app with tracing and metrics off too (what the bench itself tells apart)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds a round's CPU is still counted after its streams end (the saves, the last export)",
    )
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
def found_backend(app: AppUnderTest, wait_s: float = 10.0) -> Callable[[], list[int]]:
    """The app's backend processes; looked for again for a while if none is seen."""
    deadline = time.monotonic() + wait_s
    while True:
        backend = backend_pids(app)
        if backend():
            return backend
        if time.monotonic() > deadline:
            raise RuntimeError(f"the processes of the app at {app.base} were not found")
        time.sleep(0.5)


def measure_round(
    app: AppUnderTest, args: argparse.Namespace, tag: str, collector: Collector
) -> dict[str, Any]:
    backend = found_backend(app)
    meter = CpuMeter(
        {"backend": backend, "bench": lambda: [os.getpid()], "collector": lambda: [collector.pid]}
    )
    started = time.time()
    meter.start(started)
    result = asyncio.run(_round(app.base, app.account.api_token, args.streams, args.panes, args.tokens, tag))
    streamed_s = time.time() - started
    # The app's CPU until its last spans are exported (every BSP_SCHEDULE_DELAY_MS, or per 512).
    # The same wait for both apps.
    time.sleep(args.settle)
    ended = time.time()
    cpu = meter.stop(ended)
    trace = read_traces(app.trace_paths)
    runs: dict[str, float] = result["runs"]
    # Tokens emitted once their stream was open: the ones whose latency the stream can show.
    counted = {
        key: [(n, t) for n, t in trace.get(key, []) if t * 1000.0 >= opened] for key, opened in runs.items()
    }
    latencies, missing = token_latencies(counted, result["samples"], set(runs), column=2)
    streamed = sum(len(trace.get(key, [])) for key in runs)
    seconds = ended - started
    backend_cpu_s = cpu["backend"] * seconds
    machine = cpu["machine (all processes)"]
    return {
        "latencies_ms": latencies,
        "receive_ms": summary(latencies),
        "tokens_streamed": streamed,
        "tokens_never_received": missing,
        "backend_cpu_s": backend_cpu_s,
        "backend_cpu_ms_per_token": 1000.0 * backend_cpu_s / streamed if streamed else math.nan,
        "bench_cores": cpu["bench"] * seconds / streamed_s,  # the SSE clients, while they stream
        "collector_cpu_s": cpu["collector"] * seconds,
        "machine_cores": machine,
        # Everything but this app, the clients and the collector: the other app (idle) and other work.
        "other_cores": max(0.0, machine - cpu["backend"] - cpu["bench"] - cpu["collector"]),
        "load_average": os.getloadavg()[0],
        "seconds": seconds,
        "streaming_seconds": streamed_s,
    }


def scrape_cost(app: AppUnderTest, scrapes: int) -> dict[str, float]:
    """The app's CPU for one /metrics scrape: ``scrapes`` back to back, less its idle CPU over as
    long (measured right after), per scrape; and the answer's size."""
    backend = found_backend(app)

    def cpu() -> float:
        return sum(cpu_seconds(pid) for pid in backend())

    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    with httpx.Client(base_url=app.base, headers=headers, timeout=10.0) as http:
        started, before = time.time(), cpu()
        for _ in range(scrapes):
            answer = http.get("/metrics")
            answer.raise_for_status()
        busy_s, busy_cpu = time.time() - started, cpu() - before
    idle_before = cpu()
    time.sleep(busy_s)
    idle_cpu = cpu() - idle_before
    return {
        "cpu_ms_per_scrape": 1000.0 * (busy_cpu - idle_cpu) / scrapes,
        "idle_cpu_ms_per_s": 1000.0 * idle_cpu / busy_s,
        "bytes": float(len(answer.content)),
        "series": float(sum(1 for line in answer.text.splitlines() if line and not line.startswith("#"))),
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
def two_apps(
    tmp: Path, collector: Collector, sample_ratio: float, control: bool = False
) -> Iterator[tuple[AppUnderTest, AppUnderTest]]:
    # Search indexing off in both: its batches land in whichever round comes next (noise) and
    # trace nothing (its polls start no trace).
    both = {"SEARCH_EMBEDDER": "none"}
    on_env = {
        **both,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_TRACES_SAMPLE_RATIO": str(sample_ratio),
        # Spans leave within half a second (the SDK's default waits 5 s), so a round's CPU window
        # closes soon after its streams: more, smaller exports, which cost more, not less.
        "OTEL_BSP_SCHEDULE_DELAY": str(BSP_SCHEDULE_DELAY_MS),
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    with (
        embedded_app(tmp / "off", embedded_workers=64, extra_env=both) as off,
        embedded_app(tmp / "on", embedded_workers=64, extra_env=both if control else on_env) as on,
    ):
        yield off, on


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def render_rounds(off: list[dict[str, Any]], on: list[dict[str, Any]]) -> str:
    """Round by round, off beside on: how far apart two rounds of the same app are is the noise."""
    rows = [
        ("round", "p95 off", "p95 on", "on/off", "CPU/token off", "CPU/token on", "on/off", "others off / on")
    ]
    for i, (a, b) in enumerate(zip(off, on, strict=True)):
        p95_a, p95_b = a["receive_ms"]["p95"], b["receive_ms"]["p95"]
        cpu_a, cpu_b = a["backend_cpu_ms_per_token"], b["backend_cpu_ms_per_token"]
        rows.append(
            (
                f"{i + 1} ({'off, on' if i % 2 == 0 else 'on, off'})",
                f"{p95_a:.1f} ms",
                f"{p95_b:.1f} ms",
                f"{p95_b / p95_a:.2f}",
                f"{cpu_a:.4f} ms",
                f"{cpu_b:.4f} ms",
                f"{cpu_b / cpu_a:.3f}",
                f"{a['other_cores']:.2f} / {b['other_cores']:.2f}",
            )
        )
    return _table(rows)


def render(off: dict[str, float], on: dict[str, float], pair_ratios: dict[str, float]) -> str:
    rows = [("", "off", "on", "on / off", "median of rounds", "target")]
    for label, key in (
        ("token-to-receive p95 (ms)", "receive_p95_ms"),
        ("backend CPU per token (ms)", "backend_cpu_ms_per_token"),
    ):
        ratio = on[key] / off[key] if off[key] else math.nan
        verdict = "PASS" if ratio < TARGET_RATIO else "FAIL"
        rows.append(
            (
                label,
                f"{off[key]:.4f}",
                f"{on[key]:.4f}",
                f"{ratio:.3f}",
                f"{pair_ratios[key]:.3f}",
                f"< {TARGET_RATIO:.2f}: {verdict}",
            )
        )
    rows.append(("tokens streamed", f"{off['tokens']:.0f}", f"{on['tokens']:.0f}", "", "", ""))
    others = (f"{off['other_cores']:.2f}", f"{on['other_cores']:.2f}")
    rows.append(("other processes (cores)", *others, "", "", ""))
    return _table(rows)


def _pair_ratios(off: list[dict[str, Any]], on: list[dict[str, Any]]) -> dict[str, float]:
    """The median over rounds of on / off in the same round: a busy spell hits one round, not this."""
    pairs = list(zip(off, on, strict=True))
    cpu = "backend_cpu_ms_per_token"
    return {
        "receive_p95_ms": percentile([b["receive_ms"]["p95"] / a["receive_ms"]["p95"] for a, b in pairs], 50),
        cpu: percentile([b[cpu] / a[cpu] for a, b in pairs], 50),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="llmdash-overhead-") as tmp, collector_process() as collector:
        with two_apps(Path(tmp), collector, args.sample_ratio, args.control) as (off, on):
            apps = {"off": off, "on": on}
            warm = argparse.Namespace(**{**vars(args), "streams": 2, "settle": 1.0})
            for name, app in apps.items():  # warm both: first requests, lazy imports
                measure_round(app, warm, f"warm-{name}", collector)
            scrape: dict[str, float] = {}
            if not args.control:
                if args.scrapes:  # after the warm-up: the metrics have their series
                    scrape = scrape_cost(on, args.scrapes)
                    log(
                        f"one /metrics scrape: {scrape['cpu_ms_per_scrape']:.2f} ms of the app's CPU"
                        f" ({scrape['series']:.0f} series, {scrape['bytes'] / 1000:.1f} kB; idle app"
                        f" {scrape['idle_cpu_ms_per_s']:.1f} ms CPU a second)"
                    )
                collector.scrape(f"{on.base}/metrics", METRICS_TOKEN, args.scrape_interval)
            for i in range(args.rounds):
                for name in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    row = measure_round(apps[name], args, f"{name}-{i}", collector)
                    rounds[name].append(row)
                    log(
                        f"round {i + 1}/{args.rounds} {name:3}:"
                        f" receive p95 {row['receive_ms']['p95']:6.1f} ms,"
                        f" {row['tokens_streamed']} tokens,"
                        f" backend {row['backend_cpu_ms_per_token']:.4f} ms CPU per token,"
                        f" clients {row['bench_cores']:.2f} cores, other processes {row['other_cores']:.2f}"
                        f" cores, load average {row['load_average']:.1f}"
                    )
        stats = collector.stats()
    off_total, on_total = _combined(rounds["off"]), _combined(rounds["on"])
    pair_ratios = _pair_ratios(rounds["off"], rounds["on"])
    for row in (*rounds["off"], *rounds["on"]):
        del row["latencies_ms"]  # summarised: not written out
    print()
    print(
        f"{args.rounds} round(s) per app, alternating, x {args.streams} streams x {args.panes} panes x"
        f" {args.tokens} tokens of {STEADY};"
        + (
            " A/A CONTROL: 'on' runs with tracing and metrics off too;"
            if args.control
            else f" 'on' keeps {args.sample_ratio:.0%} of the traces, /metrics every"
            f" {args.scrape_interval:g} s;"
        )
        + " the collector stand-in (its own process) received"
        f" {stats['spans']} spans in {stats['requests']} exports and scraped /metrics"
        f" {stats['scrapes']} times; {os.cpu_count()} cores, load average {load_before[0]:.1f} at the"
        f" start, {os.getloadavg()[0]:.1f} at the end"
    )
    print("spans by name:", ", ".join(f"{name} {n}" for name, n in stats["by_name"].items()))
    if scrape:
        print(
            f"one /metrics scrape: {scrape['cpu_ms_per_scrape']:.2f} ms of the app's CPU"
            f" ({scrape['series']:.0f} series, {scrape['bytes'] / 1000:.1f} kB)"
        )
    print(render_rounds(rounds["off"], rounds["on"]))
    print()
    print(render(off_total, on_total, pair_ratios))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "rounds": rounds,
                "off": off_total,
                "on": on_total,
                "median_round_ratios": pair_ratios,
                "collector": stats,
                "scrape": scrape,
                "load_average_before": load_before,
            },
            indent=2,
        )
    )
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
