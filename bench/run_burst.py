"""The Run burst alone, in-process: N comparisons started in the same moment, in CPU time per thread.

    .venv/bin/python -m bench.run_burst                       # this checkout, 5 rounds of 50
    .venv/bin/python -m bench.run_burst --baseline DIR        # ... and DIR's, rounds alternating
    # DIR: another checkout's tree (git worktree add --detach DIR <commit>, or git archive | tar -x)
    # options: --sessions 50 --panes 4 --tokens 100 --rounds 5

When fifty pages press Run in the same second (bench.capacity at 50 sessions, issue 22 (a)), the
backend's one event loop saves fifty comparisons, claims and starts their runs and starts fifty
page streams, while the streams already running wait for it. bench.capacity's p95 of one round
moves by more than a change to that path, so it is measured here alone, on uvloop as under
Granian, over a real started runtime (SQLite file, embedded broker and worker, the simulated
`steady` model), without Reflex or sockets.

Each of the N pages does what the compare page's Run and its stream event do: `comparisons.create`
(the Run handler), the stream's start (its access check and read of the comparison), then follows
the runs with the page's pacing until they end. Printed per round: the process's CPU per started
comparison split by thread (the event loop's, SQLite's, the rest) over the burst (the presses
until every page follows its runs) and over the whole round; how late a 5 ms ticker on the loop
woke during the burst (what a running stream's flush waits for) and the time spent in the garbage
collector; the time from the press to the last page following and to each page's first text.

With --baseline each round is a fresh process per checkout, the two alternating (the baseline
first), and the medians are printed side by side with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICK_S = 0.005


def _thread_cpu_ns() -> dict[str, int]:
    """CPU time so far of each of this process's threads, summed by kind (the loop's, SQLite's, other)."""
    kinds: dict[str, int] = {"loop": 0, "sqlite": 0, "other": 0}
    names = {thread.native_id: thread.name for thread in threading.enumerate()}  # Python's names, not comm
    main = os.getpid()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that just ended
        name = names.get(int(tid), "")
        kind = "loop" if int(tid) == main else "sqlite" if name.startswith("sqlite") else "other"
        kinds[kind] += ns
    return kinds


def _spent(before: dict[str, int], after: dict[str, int], per: int) -> dict[str, float]:
    """ms of CPU per comparison, by kind of thread, and in all."""
    ms = {k: (after[k] - before[k]) / 1e6 / per for k in after}
    ms["process"] = sum(ms.values())
    return ms


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class GcPauses:
    """Time in the cyclic garbage collector (any thread), while installed: `total_ms` and the
    longest one, `max_ms`. A collection holds the GIL, so it stalls the event loop too."""

    def __init__(self) -> None:
        self.total_ms = self.max_ms = 0.0
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause_ms = (time.perf_counter() - self._started) * 1000.0
        self.total_ms += pause_ms
        self.max_ms = max(self.max_ms, pause_ms)


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        planned = loop.time() + TICK_S
        await asyncio.sleep(TICK_S)
        lags.append(max(0.0, loop.time() - planned) * 1000.0)


async def _round(sessions: int, panes: int, tokens: int, profile: Path | None) -> dict[str, Any]:
    from backend.runtime import running
    from backend.settings import Settings
    from backend.streaming.follow import page_pacing
    from backend.streaming.follower import short_key
    from tests.backend.runtime_support import make_settings, owner

    with tempfile.TemporaryDirectory(prefix="run-burst-") as tmp:
        settings: Settings = make_settings(
            f"sqlite:///{tmp}/app.db",
            Path(tmp),
            embedded_workers=256,
            rate_limit_requests_per_minute=0,
            rate_limit_tokens_per_day=0,
            max_running_comparisons_per_user=100_000,
        )
        async with running(settings) as rt:
            user = await owner(rt)
            svc = rt.comparisons

            async def signed_in() -> bool:
                return True

            async def page(
                i: int, n: int, marks: dict[str, list[float]], started: Callable[[], None]
            ) -> None:
                payload = {
                    "prompt": f"Session {i} of {n}: explain queues [[simulate:tokens={tokens}]]",
                    "panes": [{"model": "simulated:steady"} for _ in range(panes)],
                }
                pressed = time.perf_counter()
                record = await svc.create(user, payload)  # the Run handler
                marks["created_ms"].append((time.perf_counter() - pressed) * 1000.0)
                readable = await _stream_start(svc, user, record.id)  # the stream event's start
                following = {run.id: f"{run.id}:{run.attempt}" for run in readable.runs}
                marks["following_ms"].append((time.perf_counter() - pressed) * 1000.0)
                started()
                first = True
                updates = svc.follow(
                    record.id,
                    following,
                    pacing=page_pacing(rt.settings.stream_flush_hz, rt.page_flushes),
                    client_key=short_key,
                    reader=user,
                    signed_in=signed_in,
                )
                async for batch in updates:
                    if first and any(entry[2] for entry in batch.live):
                        marks["first_text_ms"].append((time.perf_counter() - pressed) * 1000.0)
                        first = False

            async def burst(n: int) -> dict[str, Any]:
                marks: dict[str, list[float]] = {"created_ms": [], "following_ms": [], "first_text_ms": []}
                left = n
                all_started = asyncio.Event()

                def started() -> None:
                    nonlocal left
                    left -= 1
                    if left == 0:
                        all_started.set()

                lags: list[float] = []
                stop = asyncio.Event()
                ticker = asyncio.create_task(_ticker(lags, stop))
                await asyncio.sleep(0.05)
                cpu0, t0 = _thread_cpu_ns(), time.perf_counter()
                with GcPauses() as pauses:
                    pages = [asyncio.create_task(page(i, n, marks, started)) for i in range(n)]
                    await all_started.wait()
                cpu1, t1 = _thread_cpu_ns(), time.perf_counter()
                burst_lags = list(lags)
                await asyncio.gather(*pages)
                cpu2, t2 = _thread_cpu_ns(), time.perf_counter()
                stop.set()
                await ticker
                return {
                    "burst_cpu_ms": _spent(cpu0, cpu1, n),
                    "round_cpu_ms": _spent(cpu0, cpu2, n),
                    "burst_s": t1 - t0,
                    "round_s": t2 - t0,
                    "lag_p95_ms": _percentile(burst_lags, 0.95),
                    "lag_max_ms": max(burst_lags, default=0.0),
                    "gc_ms": pauses.total_ms,
                    "gc_max_ms": pauses.max_ms,
                    "created_p95_ms": _percentile(marks["created_ms"], 0.95),
                    "following_p95_ms": _percentile(marks["following_ms"], 0.95),
                    "first_text_p50_ms": _percentile(marks["first_text_ms"], 0.5),
                    "first_text_p95_ms": _percentile(marks["first_text_ms"], 0.95),
                }

            await burst(5)  # warm-up: imports, first statements, the engines' first connections
            if profile is None:
                return await burst(sessions)
            from bench.profiling import Profiles

            profiles = Profiles(profile)
            profiles.record(f"burst-{os.getpid()}", [os.getpid()], 60)
            await asyncio.sleep(2.0)  # py-spy attaches
            result = await burst(sessions)
            profiles.finish()
            return result


async def _stream_start(svc: Any, user: Any, comparison_id: str) -> Any:
    """What the page's stream event reads before it follows (state/compare_stream.py)."""
    return await svc.get(user, comparison_id)


def _child(sessions: int, panes: int, tokens: int, profile: Path | None) -> None:
    import logging

    import uvloop

    logging.disable(logging.WARNING)
    print(json.dumps(uvloop.run(_round(sessions, panes, tokens, profile))))


def _measure(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "REFLEX_TELEMETRY_ENABLED": "false"}
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    command += ["--sessions", str(args.sessions), "--panes", str(args.panes), "--tokens", str(args.tokens)]
    if args.profile:
        command += ["--profile", str(args.profile.resolve() / tree.name)]
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: the round failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


FIGURES: list[tuple[str, Callable[[dict[str, Any]], float]]] = [
    ("burst CPU ms/comparison, process", lambda r: r["burst_cpu_ms"]["process"]),
    ("burst CPU ms/comparison, loop thread", lambda r: r["burst_cpu_ms"]["loop"]),
    ("burst CPU ms/comparison, SQLite thread", lambda r: r["burst_cpu_ms"]["sqlite"]),
    ("burst CPU ms/comparison, other threads", lambda r: r["burst_cpu_ms"]["other"]),
    ("round CPU ms/comparison, process", lambda r: r["round_cpu_ms"]["process"]),
    ("round CPU ms/comparison, loop thread", lambda r: r["round_cpu_ms"]["loop"]),
    ("burst wall s (press -> last page following)", lambda r: r["burst_s"]),
    ("loop wake-up lateness in the burst p95 ms", lambda r: r["lag_p95_ms"]),
    ("loop wake-up lateness in the burst max ms", lambda r: r["lag_max_ms"]),
    ("garbage collection in the burst ms", lambda r: r["gc_ms"]),
    ("longest collection in the burst ms", lambda r: r["gc_max_ms"]),
    ("press -> comparison created p95 ms", lambda r: r["created_p95_ms"]),
    ("press -> page following p95 ms", lambda r: r["following_p95_ms"]),
    ("press -> first text p50 ms", lambda r: r["first_text_p50_ms"]),
    ("press -> first text p95 ms", lambda r: r["first_text_p95_ms"]),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, help="another checkout's tree, measured alternately")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--panes", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=100, help="per pane (the steady model: 100 a second)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="a folder: py-spy profiles of each round's burst (bench/profiling.py)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.sessions, args.panes, args.tokens, args.profile)
        return
    trees = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    print(f"load average {os.getloadavg()[0]:.1f} at the start; {args.sessions} x {args.panes} panes")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for i in range(args.rounds):
        for name in reversed(trees):  # the baseline first in each round
            result = _measure(trees[name], args)
            runs[name].append(result)
            cpu = result["burst_cpu_ms"]
            print(
                f"round {i + 1} {name}: burst {cpu['process']:.2f} ms/comparison"
                f" (loop {cpu['loop']:.2f}, sqlite {cpu['sqlite']:.2f}, other {cpu['other']:.2f}),"
                f" {result['burst_s']:.2f} s, loop late p95 {result['lag_p95_ms']:.0f} ms"
                f" (max {result['lag_max_ms']:.0f}), gc {result['gc_ms']:.0f} ms"
                f" (max {result['gc_max_ms']:.0f});"
                f" round {result['round_cpu_ms']['process']:.2f}"
                f" ms/comparison; p95 created {result['created_p95_ms']:.0f}, following"
                f" {result['following_p95_ms']:.0f}, first text {result['first_text_p95_ms']:.0f} ms;"
                f" load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print(f"medians of {args.rounds} rounds" + (" (this / baseline)" if args.baseline else ""))
    for label, figure in FIGURES:
        medians = {name: statistics.median(figure(r) for r in results) for name, results in runs.items()}
        line = ", ".join(f"{name} {medians[name]:.2f}" for name in trees)
        ratio = ""
        if medians.get("baseline"):
            ratio = f" ({medians['this'] / medians['baseline']:.2f}x)"
        print(f"{label}: {line}{ratio}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
