"""Probe: the Kafka broker's CPU for the workers' way of producing run events, side by side.

    .venv/bin/python -m bench.kafka_cost

Why chunks do not wait for the broker's acknowledgement (backend/queue/kafka.py),
what the events topic's partition count costs the broker, and why the workers' producer
lingers.  Each case streams R runs x 100
chunk events a second (about 180 bytes, keyed by run as the workers do) from
2 producers (acks=1, lingering L ms, as the workers) to a topic of P partitions
that a consumer tails (fetch_max_wait_ms=20, as the web process), for a few
seconds, against one Apache Kafka node (KRaft), and reports the broker's CPU
(from /proc, in cores) and the producer-to-consumer lag.  "wait" sends each chunk with send_and_wait (one
chunk per round trip per run, as the workers did before); "no wait" only puts
it in the producer's buffer, which sends what gathered in L ms as one request.
The producer's batch size is the workers'.
2 cores shared with whatever else runs: compare rows of one run, not runs.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from backend.queue.kafka import CHUNK_WINDOW_S, PRODUCER_BATCH_BYTES
from bench.common import percentile
from bench.kafka_probe import broker_pid as node_pid
from bench.kafka_probe import run_kafka_probe
from bench.proc_cpu import cpu_seconds
from devstack.kafka_server import KafkaCluster

SECONDS = 6.0
RATE_HZ = 100  # chunks per second per run, as simulated:steady


@dataclass(frozen=True)
class Case:
    runs: int
    partitions: int
    wait_for_ack: bool
    linger_ms: int = round(CHUNK_WINDOW_S * 1000)  # the workers gather chunks this long
    seconds: float = SECONDS


CASES = [
    Case(8, 6, True, 2),  # 1 session's panes, as the workers sent them two versions ago
    Case(8, 6, False, 2),  # ... and one version ago
    Case(8, 6, False),  # ... and before KAFKA_EVENT_PARTITIONS went from 6 to 1
    Case(8, 1, False),  # as they send them now
    Case(80, 6, True, 2),  # 10 sessions' worth
    Case(80, 6, False, 2),
    Case(80, 6, False),
    Case(80, 1, False),
]


async def run_case(broker: KafkaCluster, case: Case) -> dict[str, Any]:
    bootstrap, broker_pid = broker.bootstrap, node_pid(broker)
    topic = f"cost-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, case.partitions, 1)])
    finally:
        await admin.close()
    producers = [
        AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            linger_ms=case.linger_ms,
            acks=1,
            max_batch_size=PRODUCER_BATCH_BYTES,
        )
        for _ in range(2)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, fetch_max_wait_ms=20, auto_offset_reset="earliest"
    )
    for producer in producers:
        await producer.start()
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(case.partitions)])
    lags: list[tuple[float, float]] = []  # (received at, lag), both in seconds

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            now = time.time()
            for records in batches.values():
                lags.extend((now, now - json.loads(r.value)["t"]) for r in records)

    async def stream(i: int) -> None:
        producer, key = producers[i % 2], uuid.uuid4().hex
        due = time.monotonic()
        seq = 0
        while due - started < case.seconds:
            due += 1.0 / RATE_HZ
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            value = json.dumps(
                {
                    "kind": "chunk",
                    "run_id": key,
                    "attempt": 0,
                    "seq": seq,
                    "text": " word",
                    "elapsed_ms": seq * 10.0,
                    "output_tokens": seq + 1,
                    "t": time.time(),
                }
            ).encode()
            seq += 1
            if case.wait_for_ack:
                await producer.send_and_wait(topic, value, key=key.encode())
            else:
                await producer.send(topic, value, key=key.encode())

    reader = asyncio.create_task(consume())
    try:
        await asyncio.sleep(0.5)
        cpu0, started = cpu_seconds(broker_pid), time.monotonic()
        await asyncio.gather(*(stream(i) for i in range(case.runs)))
        for producer in producers:
            await producer.flush()
        elapsed = time.monotonic() - started
        broker_cores = (cpu_seconds(broker_pid) - cpu0) / elapsed
        await asyncio.sleep(0.5)
    finally:
        reader.cancel()
        await consumer.stop()
        for producer in producers:
            await producer.stop()
    return {
        "runs": case.runs,
        "partitions": case.partitions,
        "wait_for_ack": case.wait_for_ack,
        "linger_ms": case.linger_ms,
        "chunks_per_s": case.runs * RATE_HZ,
        "seconds": elapsed,
        "broker_cores": broker_cores,
        "lag_p50_ms": percentile((lag for _, lag in lags), 50) * 1000.0,
        "lag_p95_ms": percentile((lag for _, lag in lags), 95) * 1000.0,
    }


def describe(case: Case, row: dict[str, Any]) -> str:
    return (
        f"{case.runs:3d} runs ({row['chunks_per_s']:5.0f} chunks/s), {case.partitions} partition(s), "
        f"{'wait for ack' if case.wait_for_ack else 'no wait     '}, linger {case.linger_ms:2d} ms:"
        f" Kafka node {row['broker_cores']:.2f} cores,"
        f" lag p50 {row['lag_p50_ms']:5.1f} / p95 {row['lag_p95_ms']:6.1f} ms"
        f" ({row['seconds']:.1f} s for {case.seconds:.0f} s of chunks)"
    )


def main() -> int:
    return run_kafka_probe("kafka_cost.json", CASES, run_case, describe)


if __name__ == "__main__":
    raise SystemExit(main())
