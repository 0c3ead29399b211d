"""Throughput: runs per second the stack completes with a simulated model (zero-latency by default).

Run from the project root:

    .venv/bin/python -m bench.throughput           # 150 comparisons x 4 panes, 2 rounds per setup
    .venv/bin/python -m bench.throughput --quick   # 50 x 2, 1 round

For each setup (the embedded app, for reference; then the Kafka stack of
bench/app_runs.py with 1 worker process, then a fresh one with 2) it submits
K comparisons of P `simulated:instant` panes (no time to first token, no
pacing; `--model simulated:steady` for a provider that takes time, 100 tokens/s;
`[[simulate:tokens=N]]` sets the answer's length) through
POST /api/v1/comparisons, at most --in-flight requests at a time, as fast as
the app answers, and polls the database until every run is final:

- end to end: runs / (last run final - first POST).  The POSTs go to the one
  web process, which also consumes every run's events and saves every final
  record, so this figure is bounded by the web process as much as the workers.
- drain (Kafka only): the same, but the worker processes are stopped
  (SIGSTOP) while the comparisons are submitted and resumed (SIGCONT) once all
  are queued: runs / (last run final - resume).  This takes the POST path out
  and shows what the workers (and the event path behind them) complete from a
  full queue.  The consumer group's session timeout is raised for these
  stacks so the stopped workers keep their partitions.

CPU use of each component (web process, each worker, the Kafka node, this database's
PostgreSQL backends, Redis, this client) is sampled from /proc over each
window, in cores (1.0 = one core busy throughout), to show which one saturates.
The machine has 2 cores, shared with anything else running at the time.
It also counts, from the Kafka stack's logs, how often a consumer rewound a
partition to offset 0 ("... reading it from 0"), how many replayed requests
the workers skipped as already final, and how many runs a worker started more
than once.  Writes bench/results/throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from backend.settings import Settings
from bench.app_runs import AppUnderTest, embedded_app, kafka_stack
from bench.common import ROOT, log, percentile, write_results
from bench.proc_cpu import CpuMeter, group_pids, pids_matching

MODEL = "simulated:instant"
FINAL = ("done", "error", "cancelled")
WORKER_RUN_LINE = re.compile(r"run \S+ attempt \d+: simulated:")


def log_counts(app: AppUnderTest) -> dict[str, int]:
    """Kafka stack: how often a consumer rewound a partition to 0 (it took the broker for restarted),
    and how many redelivered requests the workers skipped as already final, so far."""
    workers = "".join(w.log() for w in app.workers)
    app_log = (
        (app.log_paths[0].read_text(errors="replace") if app.log_paths[0].exists() else "")
        if app.workers
        else ""
    )
    return {
        "worker_rewinds_to_0": workers.count("reading it from 0"),
        "web_rewinds_to_0": app_log.count("reading it from 0"),
        "requests_skipped_as_final": workers.count("already final; skipping"),
    }


def runs_started(app: AppUnderTest) -> list[int]:
    """Runs each worker process has logged starting so far."""
    return [len(WORKER_RUN_LINE.findall(w.log())) for w in app.workers]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 comparisons x 2 panes, 1 round")
    parser.add_argument("--comparisons", type=int, default=None, help="K comparisons per round (150)")
    parser.add_argument("--panes", type=int, default=None, help="panes per comparison (4)")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per answer (20)")
    parser.add_argument("--model", default=MODEL, help=f"the panes' model ({MODEL})")
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds per setup (2)")
    parser.add_argument("--in-flight", type=int, default=8, help="POSTs in flight at once (8)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="WORKER_CONCURRENCY / EMBEDDED_WORKERS (16, the default)"
    )
    parser.add_argument("--workers", default="1,2", help="Kafka worker counts to measure (1,2)")
    parser.add_argument("--web-processes", type=int, default=1, help="GRANIAN_WORKERS of the Kafka app (1)")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded reference")
    return parser.parse_args(argv)


def database_url(app: AppUnderTest) -> str:
    if app.database_url:
        return app.database_url
    settings = Settings(_env_file=None, data_dir=app.data_dir, database_url="")
    return settings.resolved_database_url


def cpu_groups(app: AppUnderTest) -> dict[str, Any]:
    port = urllib.parse.urlsplit(app.base).port
    web_group = -1
    for pid in pids_matching(f"--frontend-port {port}"):
        # The group of the `reflex run` processes, not the first one's pid: once pids wrap around,
        # a child's pid may come before its parent's (the 1-worker stack's web process read 0.0).
        try:
            web_group = os.getpgid(pid)
            break
        except ProcessLookupError:
            continue
    groups: dict[str, Any] = {
        "web process" if app.mode == "kafka" else "app (web + in-process worker)": lambda: group_pids(
            web_group
        )
    }
    for i, worker in enumerate(app.workers):
        groups[f"worker {i + 1}"] = lambda pid=worker.process.pid: [pid]
    if app.mode == "kafka":
        groups["kafka node"] = lambda: list(app.config.get("broker_pids", []))
        db_name = urllib.parse.urlsplit(app.database_url).path.lstrip("/")
        groups["postgresql (this db)"] = lambda: pids_matching(f" {db_name} ")
        groups["redis (shared)"] = lambda: pids_matching("redis-server")
    groups["bench client"] = lambda: [os.getpid()]
    return groups


async def submit(
    base: str,
    headers: dict[str, str],
    k: int,
    panes: int,
    tokens: int,
    tag: str,
    in_flight: int,
    model: str = MODEL,
) -> tuple[float, float, int]:
    """POST k comparisons; (wall time of the first POST, of the last answer, failures)."""
    gate = asyncio.Semaphore(in_flight)
    failures = 0
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60.0, limits=limits) as http:

        async def one(i: int) -> None:
            nonlocal failures
            body = {
                "prompt": f"Throughput {tag} #{i}: explain queues [[simulate:tokens={tokens}]]",
                "panes": [{"model": model}] * panes,
            }
            async with gate:
                response = await http.post("/api/v1/comparisons", json=body)
            if response.status_code != 201:
                failures += 1
                log(f"    POST failed: {response.status_code} {response.text[:200]}")

        first = time.time()
        await asyncio.gather(*(one(i) for i in range(k)))
        return first, time.time(), failures


def final_count(engine: Any) -> tuple[int, int]:
    """(final runs, of which not done)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM runs GROUP BY status")).all()
    counts = {status: n for status, n in rows}
    return sum(counts.get(s, 0) for s in FINAL), sum(counts.get(s, 0) for s in FINAL if s != "done")


def wait_final(engine: Any, target: int, timeout_s: float) -> tuple[float, int, int]:
    """Poll until `target` runs are final; (wall time seen, final runs, not done)."""
    deadline = time.monotonic() + timeout_s
    while True:
        final, bad = final_count(engine)
        if final >= target or time.monotonic() > deadline:
            return time.time(), final, bad
        time.sleep(0.05)


def _epoch(value: Any) -> float:
    """A finished_at as seconds: PostgreSQL gives datetimes, SQLite (raw SQL) gives ISO strings."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return float(value.timestamp())


def finish_spread(engine: Any, n: int) -> float | None:
    """Runs per second between the 10th and 90th percentile of the last n runs' finished_at."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT finished_at FROM runs WHERE finished_at IS NOT NULL"
                " ORDER BY finished_at DESC LIMIT :n"
            ),
            {"n": n},
        ).all()
    times = [_epoch(r[0]) for r in rows]
    if len(times) < 10:
        return None
    lo, hi = percentile(times, 10), percentile(times, 90)
    return 0.8 * len(times) / (hi - lo) if hi > lo else None


def one_round(
    app: AppUnderTest, engine: Any, args: argparse.Namespace, tag: str, drain: bool
) -> dict[str, Any]:
    k, panes = args.comparisons, args.panes
    runs = k * panes
    already, _ = final_count(engine)
    started_before = runs_started(app)
    logs_before = log_counts(app)
    meter = CpuMeter(cpu_groups(app))
    if drain:
        for w in app.workers:
            w.process.send_signal(signal.SIGSTOP)
    try:
        meter.start(time.time())
        first, last_post, failures = asyncio.run(
            submit(
                app.base,
                app.account.api_headers,
                k,
                panes,
                args.tokens,
                tag,
                args.in_flight,
                getattr(args, "model", MODEL),
            )
        )
        submit_cpu = meter.stop(time.time()) if drain else None
        start = first
        if drain:
            meter.start(time.time())
            start = time.time()
    finally:
        if drain:
            for w in app.workers:
                w.process.send_signal(signal.SIGCONT)
    seen, final, bad = wait_final(engine, already + runs - failures * panes, timeout_s=600)
    cpu = meter.stop(seen)
    done = final - already
    per_worker = [b - a for a, b in zip(started_before, runs_started(app), strict=True)]
    logs = {k: v - logs_before[k] for k, v in log_counts(app).items()}
    result = {
        "kind": "drain" if drain else "end to end",
        "runs": runs,
        "runs_final": done,
        "runs_not_done": bad,
        "post_failures": failures,
        "submit_seconds": last_post - first,
        "submit_runs_per_s": runs / (last_post - first) if last_post > first else None,
        "seconds": seen - start,
        "runs_per_s": done / (seen - start) if seen > start else None,
        "runs_per_s_p10_p90_finished_at": finish_spread(engine, done),
        "runs_per_worker": per_worker,
        "provider_calls_beyond_one_per_run": sum(per_worker) - done if per_worker else 0,
        **logs,
        "cpu_cores": cpu,
    }
    if submit_cpu is not None:
        result["cpu_cores_while_submitting"] = submit_cpu
    busiest = max((v, name) for name, v in cpu.items() if not name.startswith("machine"))
    log(
        f"    {result['kind']}: {done}/{runs} runs final ({bad} not done) in {result['seconds']:.2f} s ="
        f" {result['runs_per_s'] or 0:.1f} runs/s (POSTs took {result['submit_seconds']:.2f} s);"
        + (
            f" runs started per worker {per_worker}, rewinds to 0 {logs['worker_rewinds_to_0']} (workers)"
            f" / {logs['web_rewinds_to_0']} (web),"
            f" {logs['requests_skipped_as_final']} replayed requests skipped;"
            if per_worker
            else ""
        )
        + f" busiest: {busiest[1]} {busiest[0]:.2f} cores, machine {cpu['machine (all processes)']:.2f} of 2"
    )
    return result


def measure(app: AppUnderTest, args: argparse.Namespace, label: str) -> dict[str, Any]:
    engine = create_engine(database_url(app), pool_size=1, max_overflow=0)
    try:
        log(f"{label}: warm-up")
        one_round(app, engine, argparse.Namespace(**{**vars(args), "comparisons": 5}), f"{label}-w", False)
        rounds = []
        for r in range(args.rounds):
            log(f"{label}: round {r + 1}: {args.comparisons} comparisons x {args.panes} panes")
            rounds.append(one_round(app, engine, args, f"{label}-{r}", False))
            if app.workers:
                rounds.append(one_round(app, engine, args, f"{label}-{r}d", True))
    finally:
        engine.dispose()

    def mean(kind: str) -> float | None:
        values = [x["runs_per_s"] for x in rounds if x["kind"] == kind and x["runs_per_s"]]
        return sum(values) / len(values) if values else None

    return {
        "setup": app.description,
        "rounds": rounds,
        "end_to_end": mean("end to end"),
        "drain": mean("drain"),
    }


def verdict_lines(setups: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    one, two = setups.get("kafka, 1 worker"), setups.get("kafka, 2 workers")
    if not (one and two):
        return lines
    for kind in ("end_to_end", "drain"):
        if one[kind] and two[kind]:
            lines.append(f"2 workers / 1 worker, {kind.replace('_', ' ')}: {two[kind] / one[kind]:.2f}x")
    for name, setup in setups.items():
        cores: dict[str, list[float]] = {}
        for r in setup["rounds"]:
            for component, v in r["cpu_cores"].items():
                cores.setdefault(component, []).append(v)
        top = sorted(
            ((sum(v) / len(v), c) for c, v in cores.items() if not c.startswith("machine")), reverse=True
        )
        machine = cores.get("machine (all processes)", [0.0])
        shown = ", ".join(f"{c} {v:.2f}" for v, c in top[:3])
        ours = sum(v for v, c in top if c != "redis (shared)")
        lines.append(
            f"{name}: busiest {shown} cores; the stack and client {ours:.2f}, the machine"
            f" {sum(machine) / len(machine):.2f} of 2 cores busy (the rest: other processes)"
        )
        measured = [r for r in setup["rounds"] if "worker_rewinds_to_0" in r and r["runs_per_worker"]]
        if measured:
            lines.append(
                f"{name}: consumers rewound to offset 0"
                f" {sum(r['worker_rewinds_to_0'] for r in measured)} times (workers) and"
                f" {sum(r['web_rewinds_to_0'] for r in measured)} (web);"
                f" {sum(r['requests_skipped_as_final'] for r in measured)} replayed requests skipped,"
                f" {sum(r['provider_calls_beyond_one_per_run'] for r in measured)} runs started twice"
                f" (of {sum(r['runs'] for r in measured)} runs)"
            )
    return lines


def render(setups: dict[str, dict[str, Any]]) -> str:
    header = ("setup", "end to end runs/s", "drain runs/s (queued first)", "POST rate runs/s")
    rows = [header]
    for name, s in setups.items():
        posts = [
            r["submit_runs_per_s"]
            for r in s["rounds"]
            if r["kind"] == "end to end" and r["submit_runs_per_s"]
        ]
        rows.append(
            (
                name,
                f"{s['end_to_end']:.1f}" if s["end_to_end"] else "n/a",
                f"{s['drain']:.1f}" if s["drain"] else "n/a",
                f"{sum(posts) / len(posts):.1f}" if posts else "n/a",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.comparisons = args.comparisons or (50 if args.quick else 150)
    args.panes = args.panes or (2 if args.quick else 4)
    args.rounds = args.rounds or (1 if args.quick else 2)
    worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="llmdash-throughput-"))
    setups: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "config": vars(args),
        "setups": setups,
    }
    started = time.monotonic()
    try:
        if not args.no_embedded:
            with embedded_app(tmp, args.concurrency, trace=False) as app:
                setups["embedded"] = measure(app, args, "embedded")
        for n in worker_counts:
            name = f"kafka, {n} worker" + ("s" if n > 1 else "")
            with kafka_stack(
                tmp / f"w{n}",
                n,
                args.concurrency,
                trace=False,
                web_processes=args.web_processes,
                session_timeout_ms=60_000,
            ) as app:
                setups[name] = measure(app, args, name)
    finally:
        results["verdict"] = verdict_lines(setups)
        results["total_seconds"] = time.monotonic() - started
        out = write_results("throughput.json", results)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(render(setups))
    print()
    for line in results["verdict"]:
        print(line)
    print(
        f"{args.comparisons} comparisons x {args.panes} panes x {args.tokens} tokens of {args.model}"
        " per round,"
        f" {args.rounds} round(s); concurrency {args.concurrency}; 2 cores shared with every other process"
    )
    print(f"total {results['total_seconds']:.0f} s; results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
