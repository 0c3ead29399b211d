"""`/api/v1/health` answers within 100 ms while the largest request a person may send runs
(issue 15, bounded work): eight panes of the instant simulated model (no pacing: it writes as
fast as the process can), each asked for as many tokens as the validation allows, streamed back
to the client that sent it as server-sent events.

A load balancer's probe reaches the process from outside: here a thread hands each probe to the
event loop (`run_coroutine_threadsafe`) every 20 ms and times it from that moment to the answer,
so a loop held by the run path delays the probe by as long as it is held, as it would a real
connection waiting in its socket. A ticker on the loop records how late it wakes (the loop lag).

Each figure is taken twice: in wall time, and in the CPU time the event loop's thread spent
meanwhile (its own CPU clock, read from the probing thread). The machine these tests run on is
shared (load average 4-10 on 2 cores), so wall time also counts the moments the OS gave the
cores to other processes; the loop thread's CPU time counts only the work the app did meanwhile,
which is what a code change moves. Asserted: no tick of the loop waited 100 ms of the loop's CPU
(the longest hold: 450 ms before the fix), 95 % of the probes were answered within 100 ms of it
(250 ms before), and every probe was (the worst reached 80-215 ms on SQLite and 125-220 ms on
PostgreSQL while the probe itself read the database: on SQLite through a thread that waits for
the GIL at each switch interval of a saturated loop, on PostgreSQL a loop turn per round trip).
The probe now answers the report that a task of the runtime checks every second
(`backend/health_watch.py`): 18-25 ms at worst in six runs on a quiet machine.

The garbage collector sees the heap a server process has (`server_heap`): a server freezes its
heap once its runtime runs (`runtime.serving` calls `backend/heap.py`'s `freeze_startup_heap`),
and so does this test, with the same function, then unfreezes it after. Without that the heap a
full collection walks is this test process's: in the clean-clone CI's one process (browser, fault
and security tests before this one) one tick of the loop waited 0.81 s of its CPU and the test
failed. Reproduced with 2.8 million live objects and the collector's counts brought near a full
collection: one came in the run, on the loop's thread, 513 ms of its CPU (loop lag max 523 ms:
fails); frozen, the same collection walked 35,000 objects in 26 ms (lag max 35 ms). After this
request a server's full collection walks what it made since start-up: about 6,000 objects
(this test's client app among them), 10-14 ms.

Field class: one request that holds the server's event loop (issue 15: 300,000 tokens held it
5.2 s; fastapi/starlette and aiohttp reports of CPU-bound handlers starving health checks).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from backend.catalog import estimate_tokens, load_catalog
from backend.heap import freeze_startup_heap
from backend.runtime import Runtime
from backend.services.validation import MAX_PANES, MAX_TOKENS_RANGE
from tests.backend.runtime_support import api_client

HEALTH_LIMIT_S = 0.100
PROBE_EVERY_S = 0.020
TICK_S = 0.005
MODEL = "simulated:instant"


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


@dataclass
class Probes:
    """Health probes sent from another thread, and the loop's lag seen by a ticker on it: each in
    wall time and in the loop thread's CPU time."""

    latencies_s: list[float] = field(default_factory=list)
    latencies_cpu_s: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lags_s: list[float] = field(default_factory=list)
    lags_cpu_s: list[float] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.latencies_s)} health probes, wall: {_ms(self.latencies_s)}; "
            f"loop thread CPU: {_ms(self.latencies_cpu_s)}. "
            f"Loop lag over {len(self.lags_s)} ticks, wall: {_ms(self.lags_s)}; "
            f"CPU: {_ms(self.lags_cpu_s)}. Load average {os.getloadavg()[0]:.1f}"
        )


def largest_request() -> dict[str, object]:
    """Every pane the validation allows, each with the most tokens it allows for this prompt: the
    directive asks for more than that (it is capped by max_tokens)."""
    prompt = f"[[simulate:tokens={MAX_TOKENS_RANGE[1] * 10}]] Write about event loops at length."
    window = load_catalog().get(MODEL).context_window  # type: ignore[union-attr]
    max_tokens = min(MAX_TOKENS_RANGE[1], window - estimate_tokens("\n" + prompt))
    pane = {"model": MODEL, "max_tokens": max_tokens, "temperature": 0.7}
    return {"prompt": prompt, "panes": [dict(pane, seed=i) for i in range(MAX_PANES)]}


async def _tick(probes: Probes, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before, before_cpu = loop.time(), time.thread_time()
        await asyncio.sleep(TICK_S)
        probes.lags_s.append(max(loop.time() - before - TICK_S, 0.0))
        probes.lags_cpu_s.append(time.thread_time() - before_cpu)


async def _health(client: httpx.AsyncClient) -> tuple[int, float, float]:
    """The probe's status, and when it was answered read on the loop's thread (wall and CPU): the
    thread that sent it may wait for the GIL before it wakes, and that wait is not the server's."""
    response = await client.get("/api/v1/health")
    return response.status_code, time.perf_counter(), time.thread_time()


def _probe_from_outside(
    loop: asyncio.AbstractEventLoop,
    loop_cpu_clock: int,
    client: httpx.AsyncClient,
    probes: Probes,
    stop: threading.Event,
) -> None:
    next_at = time.perf_counter()
    while not stop.is_set():
        sent, sent_cpu = time.perf_counter(), time.clock_gettime(loop_cpu_clock)
        answer: Future[tuple[int, float, float]] = asyncio.run_coroutine_threadsafe(_health(client), loop)
        status, answered, answered_cpu = answer.result(timeout=60)
        probes.latencies_s.append(answered - sent)
        probes.latencies_cpu_s.append(answered_cpu - sent_cpu)
        probes.statuses.append(status)
        next_at = max(next_at + PROBE_EVERY_S, time.perf_counter())
        stop.wait(next_at - time.perf_counter())


async def probed(rt: Runtime, body: dict[str, object]) -> tuple[Probes, list[dict[str, object]]]:
    """Run the request (its whole event stream read) while the probes and the ticker run; the
    runs as the stream's `done` event has them."""
    probes = Probes()
    loop = asyncio.get_running_loop()
    loop_cpu_clock = time.pthread_getcpuclockid(threading.get_ident())  # this (the loop's) thread
    async with api_client(rt) as client:
        await client.get("/api/v1/health")  # routes and the database connection warmed up
        stop_thread, stop_ticker = threading.Event(), asyncio.Event()
        ticker = asyncio.create_task(_tick(probes, stop_ticker))
        prober = threading.Thread(
            target=_probe_from_outside, args=(loop, loop_cpu_clock, client, probes, stop_thread)
        )
        prober.start()
        try:
            await asyncio.sleep(0.2)  # a few probes before the request: the idle figure
            idle = len(probes.latencies_s)
            response = await client.post(
                "/api/v1/comparisons", json=body, headers={"Accept": "text/event-stream"}, timeout=300
            )
        finally:
            stop_thread.set()
            stop_ticker.set()
            await asyncio.to_thread(prober.join)
            await ticker
    assert response.status_code == 201, response.text
    assert idle >= 3, "the probes did not start before the request"
    done = [block for block in response.text.split("\n\n") if block.startswith("event: done")]
    assert len(done) == 1, response.text[-500:]
    runs: list[dict[str, object]] = json.loads(done[0].split("data: ", 1)[1])["runs"]
    return probes, runs


@pytest.fixture
def server_heap(rt: Runtime) -> Iterator[int]:
    """The garbage collector as a server process has it: `runtime.serving` freezes the heap once
    the runtime runs (`freeze_startup_heap`), so a full collection walks only what the process
    made since. Here the heap is this test process's (pytest, and whatever the tests before this
    one left alive: 766,000 objects here after 660 browser, fault and security tests); unfrozen
    after, so that the process's later collections free what became garbage meanwhile."""
    frozen = freeze_startup_heap()
    try:
        yield frozen
    finally:
        gc.unfreeze()


async def test_health_answers_within_100_ms_while_the_largest_request_runs(
    rt: Runtime, server_heap: int, tmp_path: Path
) -> None:
    body = largest_request()
    panes: list[dict[str, int]] = body["panes"]  # type: ignore[assignment]
    max_tokens = panes[0]["max_tokens"]
    assert len(panes) == MAX_PANES and max_tokens > 32_000
    probes, runs = await probed(rt, body)
    # The request really was the largest: every pane wrote all the tokens it was allowed.
    assert [run["status"] for run in runs] == ["done"] * MAX_PANES
    assert [run["output_tokens"] for run in runs] == [max_tokens] * MAX_PANES
    assert all(len(str(run["output_text"])) > 100_000 for run in runs)
    assert set(probes.statuses) == {200}
    assert len(probes.latencies_s) >= 10, probes.summary()  # the request ran long enough to be probed
    print(probes.summary())
    assert max(probes.lags_cpu_s) < HEALTH_LIMIT_S, probes.summary()
    answered = sorted(probes.latencies_cpu_s)
    assert answered[int(len(answered) * 0.95)] < HEALTH_LIMIT_S, probes.summary()
    assert answered[-1] < HEALTH_LIMIT_S, probes.summary()  # every probe, the slowest too
