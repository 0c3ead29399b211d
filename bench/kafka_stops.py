"""Probe: what a worker's tail of the stops topic costs, by fetch wait, and how fast a stop arrives.

    .venv/bin/python -m bench.kafka_stops

Every worker tails the one-partition cancellations topic.  A short
`fetch_max_wait_ms` means many fetches while nothing happens, each costing the
broker and the worker CPU; a long one could delay a stop.  For each wait
(`KAFKA_FETCH_MAX_WAIT_MS`, which every consumer of backend/queue/kafka.py
uses), against one Apache Kafka node: 2 worker-role brokers idle for a few
seconds (CPU of the Kafka node and of this process, from /proc, in cores), then
20 stops sent from a web-role broker one at a time (send-to-receive).  2 cores
shared with whatever else runs: compare rows of one run.
"""

from __future__ import annotations

import asyncio
import os
import time

from backend.queue.kafka import KafkaBroker
from backend.queue.messages import CancelRequest
from backend.settings import Settings
from bench.common import percentile
from bench.kafka_probe import broker_pid as node_pid
from bench.kafka_probe import run_kafka_probe
from bench.proc_cpu import cpu_seconds
from devstack.kafka_server import KafkaCluster

WAITS_MS = (20, 100, 500)
IDLE_S = 8.0
STOPS = 20


async def run_case(broker: KafkaCluster, wait_ms: int) -> dict[str, float]:
    bootstrap, broker_pid = broker.bootstrap, node_pid(broker)
    settings = Settings(_env_file=None, kafka_bootstrap_servers=bootstrap, kafka_fetch_max_wait_ms=wait_ms)
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
        node0, own0, started = cpu_seconds(broker_pid), cpu_seconds(os.getpid()), time.monotonic()
        await asyncio.sleep(IDLE_S)
        idle = time.monotonic() - started
        node = (cpu_seconds(broker_pid) - node0) / idle
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
        "idle_broker_cores": node,
        "idle_clients_cores": own,
        "stop_p50_ms": percentile(latencies, 50),
        "stop_max_ms": max(latencies),
    }


def describe(wait_ms: int, row: dict[str, float]) -> str:
    return (
        f"fetch wait {wait_ms:3d} ms: idle Kafka node {row['idle_broker_cores']:.3f} cores,"
        f" clients {row['idle_clients_cores']:.3f}; stop arrives p50 {row['stop_p50_ms']:5.1f}"
        f" / max {row['stop_max_ms']:5.1f} ms"
    )


def main() -> int:
    return run_kafka_probe("kafka_stops.json", WAITS_MS, run_case, describe)


if __name__ == "__main__":
    raise SystemExit(main())
