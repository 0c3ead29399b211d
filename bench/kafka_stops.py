"""Probe: what a worker's tail of the stops topic costs, by fetch wait, and how fast a stop arrives.

    .venv/bin/python -m bench.kafka_stops

Every worker tails the one-partition cancellations topic.  A short
`fetch_max_wait_ms` means many fetches while nothing happens, each costing the
broker and the worker CPU; a long one could delay a stop (Tansu answers some
waiting fetches late).  For each wait: 2 worker-role brokers idle for a few
seconds (CPU of Tansu and of this process, from /proc, in cores), then 20 stops
sent from a web-role broker one at a time (send-to-receive). The app uses
`CANCEL_FETCH_WAIT_MS` (backend/queue/kafka.py).  2 cores shared with whatever
else runs: compare rows of one run.
"""

from __future__ import annotations

import asyncio
import os
import time
from unittest import mock

from backend.queue import kafka
from backend.queue.kafka import KafkaBroker
from backend.queue.messages import CancelRequest
from backend.settings import Settings
from bench.common import percentile
from bench.proc_cpu import cpu_seconds
from bench.tansu_probe import run_tansu_probe
from tests.support.tansu import Tansu

WAITS_MS = (20, 100, 500)
IDLE_S = 8.0
STOPS = 20


async def run_case(broker: Tansu, wait_ms: int) -> dict[str, float]:
    assert broker.pid is not None
    bootstrap, broker_pid = broker.bootstrap, broker.pid
    settings = Settings(_env_file=None, kafka_bootstrap_servers=bootstrap)
    with mock.patch.object(kafka, "CANCEL_FETCH_WAIT_MS", wait_ms):
        web, workers = KafkaBroker(settings, "web"), [KafkaBroker(settings, "worker") for _ in range(2)]
        for client in (web, *workers):
            await client.start()
    arrived: dict[str, float] = {}
    came = asyncio.Event()

    async def listen(worker: KafkaBroker) -> None:
        async for cancel in worker.cancellations():
            arrived.setdefault(cancel.run_id, time.perf_counter())
            came.set()

    listeners = [asyncio.create_task(listen(w)) for w in workers]
    try:
        await asyncio.sleep(1.0)
        tansu0, own0, started = cpu_seconds(broker_pid), cpu_seconds(os.getpid()), time.monotonic()
        await asyncio.sleep(IDLE_S)
        idle = time.monotonic() - started
        tansu = (cpu_seconds(broker_pid) - tansu0) / idle
        own = (cpu_seconds(os.getpid()) - own0) / idle  # 3 brokers' clients, mostly the 2 tails
        latencies: list[float] = []
        for i in range(STOPS):
            run_id = f"stop-{wait_ms}-{i}"
            sent = time.perf_counter()
            await web.request_cancel(CancelRequest(run_id=run_id, attempt=0))
            while run_id not in arrived:
                came.clear()
                await asyncio.wait_for(came.wait(), timeout=5.0)
            latencies.append((arrived[run_id] - sent) * 1000.0)
            await asyncio.sleep(0.25)
    finally:
        for task in listeners:
            task.cancel()
        for client in (web, *workers):
            await client.stop()
    return {
        "fetch_wait_ms": wait_ms,
        "idle_tansu_cores": tansu,
        "idle_clients_cores": own,
        "stop_p50_ms": percentile(latencies, 50),
        "stop_max_ms": max(latencies),
    }


def describe(wait_ms: int, row: dict[str, float]) -> str:
    return (
        f"fetch wait {wait_ms:3d} ms: idle Tansu {row['idle_tansu_cores']:.3f} cores,"
        f" clients {row['idle_clients_cores']:.3f}; stop arrives p50 {row['stop_p50_ms']:5.1f}"
        f" / max {row['stop_max_ms']:5.1f} ms"
    )


def main() -> int:
    return run_tansu_probe("kafka_stops.json", WAITS_MS, run_case, describe)


if __name__ == "__main__":
    raise SystemExit(main())
