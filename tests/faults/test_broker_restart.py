"""Fault 14a: the Kafka broker goes down for a few seconds under load and comes back empty.

A Tansu broker of this test's own (memory storage: a restart loses every topic,
message, committed offset and group), the web runtime in this process and two
`python -m workers` processes on a fresh PostgreSQL database.  Comparisons are
submitted continuously (one every 150 ms); 2.5 s into the load the broker is killed
(-9), stays down 3 s, and starts again empty.  Submissions go on throughout: while the
broker is down they wait (the producer retries) and land on the new broker.

At the restart, runs are in every state: queued in the requests topic (lost with it),
fetched by a worker and waiting for a slot, streaming, or ended with their final event
still in the events topic (lost with it, before the app saved it).

What the system guarantees, and this test asserts exactly:
- every run submitted before, during or after the outage ends "done" with its complete
  deterministic output (none stays queued or running, none fails);
- each run is saved once (one committed final save per run, one row per pane);
- the app and the workers reconnect by themselves; /health reports the queue down
  during the outage and ok after it;
- the provider may be called a second time for a run whose request or final event was
  lost with the broker's memory (for two minutes after it sees the broker came back
  empty, the app queues again every unfinished run not heard of for 5 s; a worker that
  finished it publishes its final again, one that still runs it ignores the copy, any
  other runs it again); the test reports how often.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from backend.db.records import ComparisonRecord
from backend.queue.kafka import KafkaBroker
from backend.runtime import Runtime, running
from tests.backend.runtime_support import owner
from tests.db_support import make_database_url
from tests.faults.support import (
    KafkaFaultSetup,
    install_final_audit,
    judge,
    record_result,
    trace_starts,
    wait_all_final,
    wait_for_workers,
)
from tests.support.tansu import tansu_broker

pytestmark = pytest.mark.postgres

PANES = 2
MODELS = ["simulated:swift", "simulated:ponder"]  # ~0.5 s and ~2 s per run: runs in every state
PROMPT = "[[simulate:tokens=40]] fault 14, broker restart, comparison {i}"
SUBMIT_EVERY_S = 0.15
LOAD_BEFORE_S = 2.5
DOWN_S = 3.0
LOAD_AFTER_S = 2.5


async def _health_timeline(rt: Runtime, samples: list[tuple[float, str]], stop: asyncio.Event) -> None:
    t0 = time.monotonic()
    while not stop.is_set():
        health = await rt.health()
        samples.append((round(time.monotonic() - t0, 2), str(health["queue"])))
        await asyncio.sleep(0.25)


async def test_broker_restart_under_load_no_run_lost_or_duplicated(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    with tansu_broker(tmp_path / "tansu.log") as own, make_database_url("postgresql", tmp_path) as url:
        setup = KafkaFaultSetup(own, url, f"r{tag}.", f"workers-{tag}", tmp_path)
        traces = [tmp_path / f"trace-{i}.jsonl" for i in range(2)]
        workers = [setup.worker(f"w{i}", LLMDASH_TRACE_TOKENS=str(traces[i])) for i in range(2)]
        async with running(setup.settings()) as rt:
            assert isinstance(rt.broker, KafkaBroker)
            install_final_audit(url)
            submitted: list[tuple[ComparisonRecord, str]] = []
            submit_latency: list[float] = []
            health: list[tuple[float, str]] = []
            stop_health = asyncio.Event()
            try:
                await wait_for_workers(rt, 2)
                user = await owner(rt)

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
                epoch = rt.broker.epoch
                tasks = await load(LOAD_BEFORE_S, 0)
                own.stop()  # kill -9: everything the broker held in memory is gone
                tasks += await load(DOWN_S, len(tasks))
                own.start()
                up_at = time.monotonic()
                tasks += await load(LOAD_AFTER_S, len(tasks))
                await asyncio.gather(*tasks)
                assert rt.broker.epoch != epoch, "the app noticed the broker came back empty"
                ids = [record.id for record, _ in submitted]
                saved = await wait_all_final(rt, ids, timeout=60)
                settled_s = time.monotonic() - up_at
                await rt.pump.drain()
                await asyncio.sleep(1.0)
                stop_health.set()
                await sampler
                final_health = await rt.health()
                assert all(w.process.poll() is None for w in workers), "the workers reconnect by themselves"
            finally:
                stop_health.set()
                for worker in workers:
                    worker.terminate()

        prompts = {record.id: prompt for record, prompt in submitted}
        outcome = judge(url, [(rec, prompts[rec.id]) for rec in saved], PANES)
    starts = trace_starts(traces[0]) + trace_starts(traces[1])
    run_ids = [r.id for rec in saved for r in rec.runs]
    outage = [t for t, queue in health if queue != "kafka: ok"]
    record_result(
        "broker_restart_under_load",
        {
            **outcome.as_figures(),
            "comparisons": len(saved),
            "broker_down_s": DOWN_S,
            "max_submit_s": round(max(submit_latency), 2),
            "provider_calls": sum(starts[r] for r in run_ids),
            "runs_called_twice": sum(1 for r in run_ids if starts[r] > 1),
            "restart_to_all_final_s": round(settled_s, 1),
            "health_samples_down": len(outage),
            "health_down_from_to_s": [outage[0], outage[-1]] if outage else None,
            "health_after": final_health["queue"],
        },
    )
    assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
    assert health[0][1] == "kafka: ok", "healthy before the outage"
    assert outage, f"/health showed the outage: {health}"
    assert health[-1][1] == "kafka: ok" and final_health["queue"] == "kafka: ok", health[-5:]
    assert all(starts[r] >= 1 for r in run_ids), "every run was streamed by a worker"
