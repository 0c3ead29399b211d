"""The Kafka queue end to end: a runtime on Apache Kafka and real `python -m workers` processes.

No mocks: the session's single-node Apache Kafka (KRaft) on a free port, PostgreSQL
shared by the web runtime and the worker processes.  Each test has its own
topic prefix and worker group, so they share one broker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from backend.queue.kafka import KafkaBroker
from backend.queue.kafka_chunks import RECORD_BYTES
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask, StartedEvent, decode_event, decode_record
from backend.runtime import Runtime, running
from backend.settings import Settings
from devstack.kafka_server import KafkaCluster, kafka_cluster
from devstack.kafka_workers import SESSION_TIMEOUT_MS, WorkerProcess, worker_env, worker_processes
from devstack.postgres import make_database_url
from tests.backend.runtime_support import (
    expected_output,
    make_settings,
    owner,
    wait_for_live_text,
    wait_for_workers,
    wait_until_final,
)
from tests.faults.support import trace_starts

pytestmark = pytest.mark.postgres


@dataclass
class KafkaSetup:
    bootstrap: str
    database_url: str
    prefix: str
    group: str
    tmp_path: Path

    def settings(self) -> Settings:
        return make_settings(
            self.database_url,
            self.tmp_path,
            kafka_bootstrap_servers=self.bootstrap,
            kafka_topic_prefix=self.prefix,
            kafka_worker_group=self.group,
            kafka_session_timeout_ms=SESSION_TIMEOUT_MS,
            kafka_heartbeat_interval_ms=500,
        )

    def env(self, **extra: str) -> dict[str, str]:
        return worker_env(self.bootstrap, self.database_url, self.prefix, self.group, **extra)

    def worker(self, name: str, **extra: str) -> WorkerProcess:
        return WorkerProcess(self.env(**extra), self.tmp_path / f"{name}.log")


@pytest.fixture
def setup(kafka: KafkaCluster, tmp_path: Path) -> Iterator[KafkaSetup]:
    tag = uuid.uuid4().hex[:8]
    with make_database_url("postgresql", tmp_path) as url:
        yield KafkaSetup(kafka.bootstrap, url, f"t{tag}.", f"workers-{tag}", tmp_path)


@pytest.fixture
async def rt(setup: KafkaSetup) -> AsyncIterator[Runtime]:
    async with running(setup.settings()) as runtime:
        yield runtime


async def run_comparison(rt: Runtime, prompt: str, models: list[str], timeout: float = 30.0) -> None:
    record = await rt.comparisons.create(
        await owner(rt), {"prompt": prompt, "panes": [{"model": m} for m in models]}
    )
    saved = await wait_until_final(rt.comparisons, record.id, timeout=timeout)
    for run in saved.runs:
        assert run.status == "done", (run.model, run.status, run.error)
        assert run.attempt == 0
        assert run.output_text == expected_output(run, prompt)


async def test_full_comparison_through_kafka_with_two_worker_processes(
    setup: KafkaSetup, rt: Runtime
) -> None:
    assert isinstance(rt.broker, KafkaBroker)
    assert not any(t.get_name() == "embedded-worker" for t in rt._tasks)  # workers are processes
    with worker_processes(setup.env(), 2, setup.tmp_path):
        health = await wait_for_workers(rt, 2)
        assert health["database"] == "ok" and health["queue"] == "kafka: ok" and health["ok"] is True
        prompt = "[[simulate:tokens=40]] Compare queues and logs"
        models = ["simulated:instant", "simulated:swift", "simulated:steady", "simulated:instant"]
        await run_comparison(rt, prompt, models)
        # The live view saw every chunk, in order (final text equals the streamed text).
        record = await rt.comparisons.get_unchecked(
            (await rt.comparisons.history(await owner(rt))).items[0].id
        )
        for run in record.runs:
            live = rt.hub.get(run.id)
            assert live is not None and live.text == run.output_text and live.resets == 0
    health = await rt.health()
    assert health["workers"]  # heartbeats stay fresh for ~15 s after the workers stop


async def test_worker_started_after_requests_were_queued_serves_them_all(
    setup: KafkaSetup, rt: Runtime
) -> None:
    prompt = "[[simulate:tokens=12]] queued before any worker"
    records = [
        await rt.comparisons.create(
            await owner(rt), {"prompt": prompt, "panes": [{"model": "simulated:instant"}] * 3}
        )
        for _ in range(2)
    ]
    await asyncio.sleep(1.0)
    for record in records:
        assert [r.status for r in (await rt.comparisons.get_unchecked(record.id)).runs] == ["queued"] * 3
    health = await rt.health()
    assert health["workers"] == [] and health["ok"] is False  # nobody serves the queue
    worker = setup.worker("late")
    try:
        for record in records:
            saved = await wait_until_final(rt.comparisons, record.id, timeout=30)
            assert [r.status for r in saved.runs] == ["done"] * 3
            assert all(r.output_text == expected_output(r, prompt) for r in saved.runs)
    finally:
        assert worker.terminate() == 0  # SIGTERM: graceful exit


async def _dead_letters(bootstrap: str, topic: str, n: int, timeout: float = 20.0) -> list[tuple[bytes, str]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[tuple[bytes, str]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < n and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    found.append((r.value, dict(r.headers)["reason"].decode()))
    finally:
        await consumer.stop()
    return found


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_worker_keeps_serving(
    setup: KafkaSetup, rt: Runtime
) -> None:
    assert isinstance(rt.broker, KafkaBroker)
    topics = rt.broker.topics
    worker = setup.worker("poison")
    try:
        producer = AIOKafkaProducer(bootstrap_servers=setup.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topics.requests, b"\x00not json{", key=b"garbage")
        finally:
            await producer.stop()
        task = RunTask(run_id="poison-run", comparison_id="c", model="nosuch:model", prompt="hi")
        rt.hub.track(task.run_id, 0)  # as if a browser showed this pane
        await rt.broker.submit(task)

        letters = await _dead_letters(setup.bootstrap, topics.dead_letter, 2)
        by_value = dict(letters)
        assert set(by_value) == {task.to_bytes(), b"\x00not json{"}
        assert by_value[task.to_bytes()].startswith("unknown_model: ")
        assert by_value[b"\x00not json{"].startswith("unparseable request")
        live = rt.hub.get("poison-run")
        for _ in range(100):  # the final event was published before the dead letter; it arrives
            if live is not None and live.is_final:
                break
            await asyncio.sleep(0.05)
        assert live is not None and live.status == "error"  # the pane shows the error
        assert live.final is not None and live.final.error_kind == "unknown_model"
        assert "nosuch" in live.final.error

        await run_comparison(rt, "[[simulate:tokens=8]] still alive", ["simulated:instant"])
        assert worker.process.poll() is None
    finally:
        assert worker.terminate() == 0
    assert "dead-lettering unparseable request" in worker.log()


async def test_kill_9_of_a_worker_mid_stream_the_other_worker_completes_the_run(
    setup: KafkaSetup, rt: Runtime
) -> None:
    traces = [setup.tmp_path / f"trace-{i}.jsonl" for i in range(2)]
    workers = [setup.worker(f"w{i}", LLMDASH_TRACE_TOKENS=str(traces[i])) for i in range(2)]
    try:
        await wait_for_workers(rt, 2)
        prompt = "[[simulate:tokens=120]] a long answer"
        record = await rt.comparisons.create(
            await owner(rt), {"prompt": prompt, "panes": [{"model": "simulated:steady"}] * 4}
        )
        await wait_for_live_text(rt.comparisons, record.id, record.runs[0].id, timeout=20)
        await asyncio.sleep(0.3)
        streaming = [i for i, t in enumerate(traces) if t.exists() and t.read_text()]
        victim = workers[streaming[0]]
        killed_runs = {
            line.split('"run_id": "')[1].split('"')[0]
            for line in traces[streaming[0]].read_text().splitlines()
        }
        victim.kill()
        killed_at = time.monotonic()
        saved = await wait_until_final(rt.comparisons, record.id, timeout=60)
        recovery_s = time.monotonic() - killed_at
        print(f"kill -9 -> all runs final: {recovery_s:.1f} s")
        for run in saved.runs:
            assert run.status == "done" and run.attempt == 0
            assert run.output_text == expected_output(run, prompt)
        restarted = [r.id for r in saved.runs if (live := rt.hub.get(r.id)) is not None and live.resets > 0]
        unfinished_at_kill = killed_runs & set(restarted)
        assert unfinished_at_kill, "the killed worker was streaming a run that another worker restarted"
        for run_id in restarted:
            live = rt.hub.get(run_id)
            assert live is not None and live.text == next(r.output_text for r in saved.runs if r.id == run_id)
        survivor = workers[1 - streaming[0]]
        assert survivor.process.poll() is None
    finally:
        for worker in workers:
            worker.kill()


async def test_single_broker_killed_and_restarted_app_and_worker_carry_on(tmp_path: Path) -> None:
    """One node of this test's own (what scripts/stack runs) killed -9 while idle: a comparison
    submitted while it is down waits in the producer's retries, and once the node is back with
    its log (topics, committed offsets and the group's state are on disk) the app and the worker
    reconnect by themselves and run it, each run once."""
    tag = uuid.uuid4().hex[:8]
    trace = tmp_path / "trace.jsonl"
    with kafka_cluster(tmp_path / "kafka", nodes=1) as own, make_database_url("postgresql", tmp_path) as url:
        setup = KafkaSetup(own.bootstrap, url, f"r{tag}.", f"workers-{tag}", tmp_path)
        async with running(setup.settings()) as rt:
            worker = setup.worker("restart", LLMDASH_TRACE_TOKENS=str(trace))
            try:
                await wait_for_workers(rt, 1)
                prompt = "[[simulate:tokens=10]] before and after"
                await run_comparison(rt, prompt, ["simulated:instant", "simulated:swift"])
                own.stop_node(0, kill=True)
                killed_at = time.monotonic()
                assert (await rt.health())["queue"] != "kafka: ok"
                during = asyncio.create_task(
                    run_comparison(rt, prompt, ["simulated:instant", "simulated:swift"], timeout=90)
                )
                await asyncio.sleep(1.0)
                assert not during.done(), "nothing can be queued while the only broker is down"
                own.start_node(0)
                print(f"broker down for {time.monotonic() - killed_at:.1f} s (restart included)")
                await during
                done_s = time.monotonic() - killed_at
                print(f"broker kill -> the comparison queued meanwhile done: {done_s:.1f} s")
                await run_comparison(rt, prompt, ["simulated:instant", "simulated:swift"], timeout=30)
                health = await rt.health()
                assert health["queue"] == "kafka: ok" and health["database"] == "ok"
                assert worker.process.poll() is None
            finally:
                assert worker.terminate() == 0
        starts = trace_starts(trace)
        assert len(starts) == 6, starts  # 3 comparisons x 2 panes, each streamed...
        assert set(starts.values()) == {1}, starts  # ...once: no request was read twice


async def test_chunks_sent_without_waiting_arrive_in_order_before_the_final_event(setup: KafkaSetup) -> None:
    """Chunk events do not wait for the broker's acknowledgement (a worker streams on while the
    producer batches them); a run's events still reach the web side complete and in order, the
    acknowledged final event last."""
    settings = setup.settings()
    web, worker = KafkaBroker(settings, "web"), KafkaBroker(settings, "worker")
    await web.start()
    await worker.start()
    try:
        run_id, n = uuid.uuid4().hex, 300
        await worker.publish(StartedEvent(run_id=run_id, attempt=0))
        for seq in range(n):
            await worker.publish(
                ChunkEvent(
                    run_id=run_id, attempt=0, seq=seq, text=f" w{seq}", elapsed_ms=seq, output_tokens=seq + 1
                )
            )
        text = "".join(f" w{seq}" for seq in range(n))
        final = FinalEvent(run_id=run_id, attempt=0, status="done", output_text=text, chunks=n)
        await worker.publish(final)
        received: list[object] = []

        async def read() -> None:
            async for event in web.events():
                if event.run_id == run_id:
                    received.append(event)
                    if isinstance(event, FinalEvent):
                        return

        await asyncio.wait_for(read(), 20)
        assert isinstance(received[0], StartedEvent)
        assert [e.seq for e in received[1:-1] if isinstance(e, ChunkEvent)] == list(range(n))
        assert received[-1] == final
    finally:
        await worker.stop()
        await web.stop()


async def _raw_events(settings: Settings, until_finals: int) -> list[bytes]:
    """Every record value of the events topic from its start until `until_finals` final events."""
    topic = f"{settings.kafka_topic_prefix}events"
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        finals = 0
        while finals < until_finals:
            batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
            for records in batches.values():
                for record in records:
                    values.append(record.value)
                    finals += b'"kind":"final"' in record.value
    finally:
        await consumer.stop()
    return values


async def test_chunks_of_many_runs_travel_gathered_and_each_run_stays_in_order(setup: KafkaSetup) -> None:
    """A worker's chunks that fall due in one window go as one record per partition (fewer records
    than chunks); every run's events still come complete, in order, on every partition, and the
    web side reads them as single events.  A lone chunk goes as the plain chunk record it always
    was (a web process of the version before reads it)."""
    settings = setup.settings().model_copy(update={"kafka_event_partitions": 3})
    web, worker = KafkaBroker(settings, "web"), KafkaBroker(settings, "worker")
    await web.start()
    await worker.start()
    try:
        runs, n = [uuid.uuid4().hex for _ in range(12)], 40

        async def stream(run_id: str) -> None:
            await worker.publish(StartedEvent(run_id=run_id, attempt=0))
            for seq in range(n):
                chunk = ChunkEvent(
                    run_id=run_id, attempt=0, seq=seq, text=f" {seq}", elapsed_ms=seq, output_tokens=seq
                )
                await worker.publish(chunk)
                await asyncio.sleep(0.002)
            text = "".join(f" {seq}" for seq in range(n))
            await worker.publish(
                FinalEvent(run_id=run_id, attempt=0, status="done", output_text=text, chunks=n)
            )

        received: dict[str, list[object]] = {run_id: [] for run_id in runs}

        async def read() -> None:
            finals = 0
            async for event in web.events():
                if event.run_id in received:
                    received[event.run_id].append(event)
                    finals += isinstance(event, FinalEvent)
                    if finals == len(runs):
                        return

        reading = asyncio.create_task(read())
        await asyncio.gather(*(stream(run_id) for run_id in runs))
        lone = uuid.uuid4().hex
        await worker.publish(
            ChunkEvent(run_id=lone, attempt=0, seq=0, text="alone", elapsed_ms=0, output_tokens=1)
        )
        await worker.publish(FinalEvent(run_id=lone, attempt=0, status="done", output_text="alone", chunks=1))
        await asyncio.wait_for(reading, 30)
        for events in received.values():
            assert isinstance(events[0], StartedEvent)
            assert [e.seq for e in events[1:-1] if isinstance(e, ChunkEvent)] == list(range(n))
            assert isinstance(events[-1], FinalEvent) and len(events) == n + 2
        values = await _raw_events(settings, len(runs) + 1)
        chunk_records = [v for v in values if b'"kind":"chunk' in v]
        assert len(chunk_records) < len(runs) * n / 2, "chunks were not gathered"
        (lone_record,) = [v for v in chunk_records if lone.encode() in v]
        assert decode_event(lone_record) == ChunkEvent(
            run_id=lone, attempt=0, seq=0, text="alone", elapsed_ms=0, output_tokens=1
        )
    finally:
        await worker.stop()
        await web.stop()


async def test_a_burst_of_chunks_is_cut_into_records_under_the_size_bound(setup: KafkaSetup) -> None:
    """A cache replay publishes a whole answer at once: what gathers is cut into records of at most
    RECORD_BYTES (and one chunk), under the producer's batch and the broker's message size."""
    settings = setup.settings()
    worker = KafkaBroker(settings, "worker")
    await worker.start()
    try:
        run_id, n, text = uuid.uuid4().hex, 400, "x" * 2000
        for seq in range(n):
            await worker.publish(
                ChunkEvent(run_id=run_id, attempt=0, seq=seq, text=text, elapsed_ms=0, output_tokens=seq)
            )
        await worker.publish(FinalEvent(run_id=run_id, attempt=0, status="done", output_text="", chunks=n))
        values = await _raw_events(settings, 1)
        chunks = [
            event for value in values for event in decode_record(value) if isinstance(event, ChunkEvent)
        ]
        assert [c.seq for c in chunks] == list(range(n))
        assert len(values) > 2
        assert max(len(v) for v in values) <= RECORD_BYTES + 2100
    finally:
        await worker.stop()


async def test_requests_go_round_the_partitions_so_workers_get_equal_shares(
    setup: KafkaSetup, rt: Runtime
) -> None:
    """Picked by the key's hash, 400 runs split 178 / 222 between two workers in a bench round."""
    assert isinstance(rt.broker, KafkaBroker)
    topic, n = rt.broker.topics.requests, rt.settings.kafka_request_partitions
    for i in range(10 * n):
        await rt.broker.submit(
            RunTask(run_id=f"share-{i}", comparison_id="c", model="simulated:instant", prompt="hi")
        )
    consumer = AIOKafkaConsumer(bootstrap_servers=setup.bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(n)])
    finally:
        await consumer.stop()
    counts = sorted(ends.values())
    assert sum(counts) == 10 * n
    assert counts == [10] * n  # by the key's hash: [8, 9, 10, 11, 11, 11] in one run
