"""One trace across processes: an API request in the web process, its runs on Apache Kafka, a
real `python -m workers` process, the saves back in the web process, all exported over OTLP/HTTP
to a receiver the test runs (devstack/otlp_receiver.py).  The same worker's /metrics report its
consumer lag per request partition."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from backend.runtime import running
from devstack.app_process import free_port
from devstack.kafka_workers import WorkerProcess
from devstack.otlp_receiver import ReceivedSpan, otlp_receiver
from tests.backend.queue.test_kafka import KafkaSetup, setup
from tests.backend.runtime_support import api_client, wait_for_workers, wait_until_final

pytestmark = pytest.mark.postgres
__all__ = ["setup"]  # the Kafka fixture, shared with the queue's tests

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP's span kinds
MODELS = ["simulated:instant", "simulated:swift"]


async def test_one_trace_follows_an_api_comparison_through_kafka_and_a_worker_process(
    setup: KafkaSetup,
) -> None:
    metrics_port = free_port()
    with otlp_receiver() as receiver:
        # Every trace kept where it starts (the web process); the worker keeps its default ratio
        # and follows the web's choice, which the record's headers carry.
        otel = {
            "otel_traces_exporter": "otlp",
            "otel_exporter_otlp_endpoint": receiver.endpoint,
            "otel_traces_sample_ratio": 1.0,
        }
        settings = setup.settings().model_copy(update=otel)
        worker = WorkerProcess(
            setup.env(
                OTEL_TRACES_EXPORTER="otlp",
                OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                OTEL_BSP_SCHEDULE_DELAY="200",  # the SDK's batch delay (ms): export soon
                METRICS_PORT=str(metrics_port),
            ),
            setup.tmp_path / "worker.log",
        )
        try:
            async with running(settings) as rt:
                await wait_for_workers(rt, 1)
                async with api_client(rt) as client:
                    prompt = "[[simulate:tokens=8]] trace me"
                    answer = await client.post(
                        "/api/v1/comparisons",
                        json={"prompt": prompt, "panes": [{"model": m} for m in MODELS]},
                    )
                    assert answer.status_code == 201, answer.text
                    comparison_id = answer.json()["id"]
                saved = await wait_until_final(rt.comparisons, comparison_id, timeout=30.0)
                assert [r.status for r in saved.runs] == ["done", "done"]
                await rt.pump.drain()  # the saves (and their spans) are over
                lags = await _consumer_lags(metrics_port)
                assert len(lags) == settings.kafka_request_partitions  # every partition is this worker's
        finally:
            assert worker.terminate() == 0, worker.log()  # a clean stop exports what is buffered
        # Leaving `running` shut the web process's tracing down, which exported its spans.
        spans = receiver.wait_for(lambda got: _trace_of(got, comparison_id) is not None)
    trace = _trace_of(spans, comparison_id)
    assert trace is not None
    by_id = {s.span_id: s for s in trace}

    assert {s.service for s in trace} == {"llmdash-web", "llmdash-worker"}
    (root,) = [s for s in trace if not s.parent_id]
    assert (root.service, root.kind, root.name) == ("llmdash-web", SERVER, "POST /api/v1/comparisons")
    assert all(s.parent_id in by_id for s in trace if s is not root), "every span's parent is in the trace"

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        return by_id[span.parent_id]

    runs = {r.id: r for r in saved.runs}
    executes = [s for s in trace if s.name == "run.execute"]
    assert sorted(s.attributes["llmdash.run_id"] for s in executes) == sorted(runs)
    for execute in executes:
        run = runs[execute.attributes["llmdash.run_id"]]
        assert (execute.service, execute.kind) == ("llmdash-worker", CONSUMER)
        enqueue = parent(execute)  # across Kafka: the record's headers carried it
        assert (enqueue.service, enqueue.kind, enqueue.name) == ("llmdash-web", PRODUCER, "run.enqueue")
        assert enqueue.attributes["llmdash.run_id"] == run.id
        assert parent(enqueue).name == "comparison.create" and parent(parent(enqueue)) is root

        (provider,) = [s for s in trace if s.name == "provider.stream" and s.parent_id == execute.span_id]
        assert provider.kind == CLIENT
        assert provider.attributes["gen_ai.request.model"] == run.model
        assert provider.attributes["gen_ai.usage.output_tokens"] == run.output_tokens == 8
        assert provider.attributes["llmdash.ttft_ms"] > 0
        assert provider.attributes["llmdash.status"] == "done"

        # Back in the web process: the save is a child of the worker's span (the final event's headers).
        (save,) = [s for s in trace if s.name == "run.save" and s.attributes["llmdash.run_id"] == run.id]
        assert (save.service, save.kind, parent(save)) == ("llmdash-web", CONSUMER, execute)

    # The maintained instrumentations joined in: SQL statements of both processes in this trace.
    sql = {s.service for s in trace if "db.system" in s.attributes or "db.system.name" in s.attributes}
    assert sql == {"llmdash-web", "llmdash-worker"}


def _trace_of(spans: list[ReceivedSpan], comparison_id: str) -> list[ReceivedSpan] | None:
    """The spans of the trace whose `comparison.create` made this comparison, once both runs'
    saves (the web's last spans) and provider calls (the worker's) are in."""
    creates = [
        s
        for s in spans
        if s.name == "comparison.create" and s.attributes["llmdash.comparison_id"] == comparison_id
    ]
    if not creates:
        return None
    trace = [s for s in spans if s.trace_id == creates[0].trace_id]
    names = [s.name for s in trace]
    if names.count("run.save") < len(MODELS) or names.count("provider.stream") < len(MODELS):
        return None
    if not any(s.kind == SERVER for s in trace):
        return None
    return trace


async def _consumer_lags(port: int, timeout: float = 10.0) -> dict[str, float]:
    """The worker's llmdash_queue_lag by partition, once every run is done there (all 0)."""
    pattern = re.compile(r'^llmdash_queue_lag\{partition="(\d+)"\} (\S+)$', re.MULTILINE)
    lags: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5.0) as http:
        for _ in range(int(timeout / 0.2)):
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            lags = {partition: float(value) for partition, value in pattern.findall(text)}
            if lags and not any(lags.values()):
                return lags
            await asyncio.sleep(0.2)
    raise AssertionError(f"the worker's consumer lag did not come down to 0: {lags}")
