"""Fault 13: runs that stream for longer than the worker consumer's max poll interval.

Kafka (the session's broker) and two `python -m workers` processes with
KAFKA_MAX_POLL_INTERVAL_MS=2000 and WORKER_CONCURRENCY=1, so each worker is busy
with one run while the next waits for its slot: each run streams ~3.6 s, well
past the 2 s a Kafka consumer may go without polling before the group expels it
and hands its partitions (and the uncommitted run) to the other worker.

Must end with: no rebalance after the group settled (the workers log every
assignment and revocation), no failed commit (nothing in the logs, and the group's
committed offsets reach the end of every requests partition), exactly one provider
call per run (counted from the workers' token traces: one first chunk per stream),
and every run done with its deterministic output, saved once.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from backend.queue.kafka import KafkaBroker
from backend.runtime import running
from tests.backend.runtime_support import owner, wait_for_workers
from tests.faults.support import (
    KafkaFaultSetup,
    install_final_audit,
    judge,
    record_result,
    trace_runs,
    trace_starts,
    wait_all_final,
    warm_until_every_worker_streams,
)

pytestmark = pytest.mark.postgres

MAX_POLL_MS = 2000
PANES = 4
PROMPT = "[[simulate:tokens=350]] fault 13: longer than the max poll interval"
MODEL = "simulated:steady"  # 100 tokens/s, no jitter: 3.6 s per run


async def _committed_vs_end(
    bootstrap: str, group: str, topic: str, partitions: int
) -> dict[int, tuple[int, int]]:
    """Partition -> (the group's committed offset, the partition's end), asked without joining."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: ((await consumer.committed(tp)) or 0, ends[tp]) for tp in tps}
    finally:
        await consumer.stop()


async def test_runs_longer_than_the_max_poll_interval_cause_no_rebalance_or_second_call(
    kafka_setup: KafkaFaultSetup,
) -> None:
    setup = kafka_setup
    traces = [setup.tmp_path / f"trace-{i}.jsonl" for i in range(2)]
    env = {"WORKER_CONCURRENCY": "1", "KAFKA_MAX_POLL_INTERVAL_MS": str(MAX_POLL_MS)}
    workers = [setup.worker(f"w{i}", LLMDASH_TRACE_TOKENS=str(traces[i]), **env) for i in range(2)]
    async with running(setup.settings()) as rt:
        assert isinstance(rt.broker, KafkaBroker)
        install_final_audit(setup.database_url)
        try:
            await wait_for_workers(rt, 2)
            user = await owner(rt)
            await warm_until_every_worker_streams(rt, user, traces)  # the group has settled
            await asyncio.sleep(1.0)
            settled = [len(w.log()) for w in workers]

            started = time.monotonic()
            record = await rt.comparisons.create(
                user, {"prompt": PROMPT, "panes": [{"model": MODEL}] * PANES}
            )
            [saved] = await wait_all_final(rt, [record.id], timeout=90)
            elapsed = time.monotonic() - started
            await rt.pump.drain()
            topics = rt.broker.topics
            partitions = rt.settings.kafka_request_partitions
            for _ in range(50):  # the commit follows the final event by a moment
                offsets = await _committed_vs_end(setup.bootstrap, setup.group, topics.requests, partitions)
                if all(committed == end for committed, end in offsets.values()):
                    break
                await asyncio.sleep(0.1)
            logs_after = [w.log()[n:] for w, n in zip(workers, settled, strict=True)]
        finally:
            for worker in workers:
                worker.terminate()

    run_ids = [r.id for r in saved.runs]
    starts = trace_starts(traces[0]) + trace_starts(traces[1])
    per_worker = [len(set(run_ids) & trace_runs(t)) for t in traces]
    rebalances = sum(
        log.count("request partitions revoked") + log.count("partitions assigned") for log in logs_after
    )
    failed_commits = sum(log.count("could not commit") for log in logs_after)
    uncommitted = {p: v for p, v in offsets.items() if v[0] != v[1]}
    outcome = judge(setup.database_url, [(saved, PROMPT)], PANES)
    record_result(
        "max_poll_interval_long_runs",
        {
            **outcome.as_figures(),
            "max_poll_interval_ms": MAX_POLL_MS,
            "run_s": round(max(r.total_ms or 0 for r in saved.runs) / 1000, 1),
            "runs_per_worker": per_worker,
            "provider_calls": sum(starts[r] for r in run_ids),
            "rebalances": rebalances,
            "failed_commits": failed_commits,
            "uncommitted_partitions": len(uncommitted),
            "all_final_s": round(elapsed, 1),
        },
    )
    assert not outcome.lost and outcome.duplicates == 0, outcome.details
    assert all((r.total_ms or 0) > MAX_POLL_MS * 1.5 for r in saved.runs), "each run outlasts the interval"
    assert max(per_worker) >= 2, "a worker had a run waiting for its slot while another streamed"
    assert {r: starts[r] for r in run_ids} == {r: 1 for r in run_ids}, "one provider call per run"
    assert rebalances == 0, f"no rebalance after the group settled: {logs_after}"
    assert failed_commits == 0 and not uncommitted, f"commits failed or are missing: {uncommitted}"
