"""Probe: how long one message takes from producer to consumer on Apache Kafka.

    .venv/bin/python -m bench.kafka_fetch

A consumer assigned several partitions (the web process reads every partition
of the events topic; a worker reads its share of the requests topic) sends one
fetch request for all of them; the broker answers it once `fetch_min_bytes`
(1) have arrived on any of them or `fetch_max_wait_ms` runs out.  The probe
sends one message at a time (every 137 ms, round robin over the partitions,
acks=1, linger_ms=2 as the app's producer) and times send-to-receive for 1 and
6 partitions and a few `fetch_max_wait_ms` values against one Apache Kafka
node (KRaft); the wait should not show.  2 cores shared with other
processes: single milliseconds are noise.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import percentile
from bench.kafka_probe import run_kafka_probe
from devstack.kafka_server import KafkaCluster

MESSAGES = 20


async def probe(bootstrap: str, partitions: int, max_wait_ms: int) -> list[float]:
    topic = f"probe-{partitions}-{max_wait_ms}-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, acks=1)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, fetch_max_wait_ms=max_wait_ms, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await producer.send_and_wait(topic, b"warm-up", partition=0)
        await consumer.getone()
        latencies = []
        for i in range(MESSAGES):
            await asyncio.sleep(0.137)
            start = time.perf_counter()
            await producer.send_and_wait(topic, b"x", partition=i % partitions)
            await consumer.getone()
            latencies.append((time.perf_counter() - start) * 1000.0)
        return latencies
    finally:
        await consumer.stop()
        await producer.stop()


CASES = [(partitions, max_wait_ms) for partitions in (1, 6) for max_wait_ms in (500, 100, 20)]


async def measure(broker: KafkaCluster, case: tuple[int, int]) -> dict[str, float]:
    partitions, max_wait_ms = case
    values = await probe(broker.bootstrap, partitions, max_wait_ms)
    return {
        "partitions": partitions,
        "fetch_max_wait_ms": max_wait_ms,
        "p50_ms": percentile(values, 50),
        "max_ms": max(values),
    }


def describe(case: tuple[int, int], row: dict[str, float]) -> str:
    partitions, max_wait_ms = case
    return (
        f"{partitions} partition(s), fetch_max_wait_ms={max_wait_ms:>3}:"
        f" send -> receive p50 {row['p50_ms']:6.1f} ms, max {row['max_ms']:6.1f} ms"
    )


def main() -> int:
    return run_kafka_probe("kafka_fetch.json", CASES, measure, describe)


if __name__ == "__main__":
    raise SystemExit(main())
