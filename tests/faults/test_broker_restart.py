"""Fault 14a: one Kafka broker of three is killed under load and started again.

A three-node Apache Kafka cluster of this test's own (KRaft, every node a broker and
a controller), the app's topics replicated 3x with min.insync.replicas 2 and every
producer waiting for all in-sync replicas (acks=all); the web runtime in this process
and two `python -m workers` processes on a fresh PostgreSQL database.  Comparisons are
submitted continuously (one every 150 ms); 2.5 s into the load the node leading the
most partitions of the app's topics is killed (-9), stays down 3 s and is started
again (with its log: it catches up from the others).  Submissions go on throughout.

At the kill, runs are in every state: queued in the requests topic, fetched by a worker
and waiting for a slot, streaming, or ended with their final event not yet read by the
app; the partitions the dead node led have no leader until the controller moves their
leadership to a surviving replica, and sends to them wait (the producers retry).

What the system guarantees, and this test asserts exactly:
- every run submitted before, during or after the outage ends "done" with its complete
  deterministic output (none stays queued or running, none fails);
- each run is saved once (one committed final save per run, one row per pane);
- each run's provider call happens once: no worker crashed, and a message acknowledged
  by two replicas is not lost, so no request is read twice (counted from the workers'
  token traces: one first chunk per stream);
- the app and the workers follow the new leaders by themselves; /health reports the
  queue ok after the restart (and, while two nodes of three answer, throughout).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from backend.db.records import ComparisonRecord
from backend.queue.kafka import KafkaBroker
from backend.runtime import Runtime, running
from devstack.kafka_server import kafka_cluster
from devstack.postgres import make_database_url
from tests.backend.runtime_support import owner, wait_for_workers
from tests.faults.support import (
    KafkaFaultSetup,
    install_final_audit,
    judge,
    record_result,
    trace_starts,
    wait_all_final,
)

pytestmark = pytest.mark.postgres

PANES = 2
MODELS = ["simulated:swift", "simulated:ponder"]  # ~0.5 s and ~2 s per run: runs in every state
PROMPT = "[[simulate:tokens=40]] fault 14, broker restart, comparison {i}"
SUBMIT_EVERY_S = 0.15
LOAD_BEFORE_S = 2.5
DOWN_S = 3.0
LOAD_AFTER_S = 2.5
REPLICAS = 3


async def _health_timeline(rt: Runtime, samples: list[tuple[float, str]], stop: asyncio.Event) -> None:
    t0 = time.monotonic()
    while not stop.is_set():
        health = await rt.health()
        samples.append((round(time.monotonic() - t0, 2), str(health["queue"])))
        await asyncio.sleep(0.25)


async def _leaders(bootstrap: str, topics: list[str]) -> Counter[int]:
    """Node id -> partitions of `topics` it leads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    leaders: Counter[int] = Counter()
    for topic in described:
        for partition in topic["partitions"]:
            assert len(partition["replicas"]) == REPLICAS, (topic["topic"], partition)
            leaders[int(partition["leader"])] += 1
    return leaders


async def test_one_broker_of_three_killed_under_load_no_run_lost_duplicated_or_called_twice(
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:8]
    cluster_started = time.monotonic()
    with (
        kafka_cluster(tmp_path / "kafka", nodes=3) as cluster,
        make_database_url("postgresql", tmp_path) as url,
    ):
        cluster_start_s = time.monotonic() - cluster_started
        setup = KafkaFaultSetup(cluster.bootstrap, url, f"r{tag}.", f"workers-{tag}", tmp_path)
        replicated = {"KAFKA_REPLICATION_FACTOR": str(REPLICAS)}
        traces = [tmp_path / f"trace-{i}.jsonl" for i in range(2)]
        async with running(setup.settings(kafka_replication_factor=REPLICAS)) as rt:
            assert isinstance(rt.broker, KafkaBroker)
            workers = [
                setup.worker(f"w{i}", LLMDASH_TRACE_TOKENS=str(traces[i]), **replicated) for i in range(2)
            ]
            install_final_audit(url)
            submitted: list[tuple[ComparisonRecord, str]] = []
            submit_latency: list[float] = []
            health: list[tuple[float, str]] = []
            stop_health = asyncio.Event()
            try:
                await wait_for_workers(rt, 2)
                user = await owner(rt)
                topics = rt.broker.topics
                leaders = await _leaders(cluster.bootstrap, list(topics.partitions(rt.settings)))
                victim_id, led = leaders.most_common(1)[0]
                victim = next(i for i, node in enumerate(cluster.members) if node.node_id == victim_id)

                async def submit(i: int) -> None:
                    prompt = PROMPT.format(i=i)
                    began = time.monotonic()
                    record = await rt.comparisons.create(
                        user, {"prompt": prompt, "panes": [{"model": m} for m in MODELS]}
                    )
                    submit_latency.append(time.monotonic() - began)
                    submitted.append((record, prompt))

                async def load(seconds: float, first: int) -> list[asyncio.Task[Any]]:
                    tasks, i, end = [], first, time.monotonic() + seconds
                    while time.monotonic() < end:
                        tasks.append(asyncio.create_task(submit(i)))
                        i += 1
                        await asyncio.sleep(SUBMIT_EVERY_S)
                    return tasks

                sampler = asyncio.create_task(_health_timeline(rt, health, stop_health))
                tasks = await load(LOAD_BEFORE_S, 0)
                # kill -9: no controlled shutdown, leadership moves only once the controller
                # notices.  Blocking calls go to a thread: this loop runs the app.
                await asyncio.to_thread(cluster.stop_node, victim, kill=True)
                killed_at = time.monotonic()
                tasks += await load(DOWN_S, len(tasks))
                restarting = asyncio.create_task(asyncio.to_thread(cluster.start_node, victim))
                tasks += await load(LOAD_AFTER_S, len(tasks))
                await restarting
                back_s = time.monotonic() - killed_at
                await asyncio.gather(*tasks)
                ids = [record.id for record, _ in submitted]
                saved = await wait_all_final(rt, ids, timeout=60)
                settled_s = time.monotonic() - killed_at
                await rt.pump.drain()
                await asyncio.sleep(1.0)
                stop_health.set()
                await sampler
                final_health = await rt.health()
                assert all(w.process.poll() is None for w in workers), "the workers carry on by themselves"
            finally:
                stop_health.set()
                for worker in workers:
                    worker.terminate()

        prompts = {record.id: prompt for record, prompt in submitted}
        outcome = judge(url, [(rec, prompts[rec.id]) for rec in saved], PANES)
    starts = trace_starts(traces[0]) + trace_starts(traces[1])
    run_ids = [r.id for rec in saved for r in rec.runs]
    down = [t for t, queue in health if queue != "kafka: ok"]
    record_result(
        "broker_restart_under_load",
        {
            **outcome.as_figures(),
            "cluster_nodes": REPLICAS,
            "cluster_start_s": round(cluster_start_s, 1),
            "killed_node_led_partitions": led,
            "comparisons": len(saved),
            "broker_down_s": DOWN_S,
            "kill_to_node_back_s": round(back_s, 1),
            "max_submit_s": round(max(submit_latency), 2),
            "provider_calls": sum(starts[r] for r in run_ids),
            "runs_started_twice": sum(1 for r in run_ids if starts[r] > 1),
            "kill_to_all_final_s": round(settled_s, 1),
            "health_samples": len(health),
            "health_samples_down": len(down),
            "health_after": final_health["queue"],
        },
    )
    assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
    assert all(starts[r] >= 1 for r in run_ids), "every run was streamed by a worker"
    twice = {r: starts[r] for r in run_ids if starts[r] > 1}
    assert not twice, f"no worker crashed, yet runs were started twice: {twice}"
    assert health and final_health["queue"] == "kafka: ok", health[-5:]
    assert not down, f"two nodes of three answered throughout, yet /health showed the queue down: {down}"
