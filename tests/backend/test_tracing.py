"""Tracing in one process (the embedded queue and worker): off by default with nothing set up,
and when on, one trace from the API request through the queue, the provider call and the save,
exported over OTLP/HTTP to a receiver the test runs; log lines carry the trace's ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine.base import Engine
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio

from backend import tracing, tracing_setup
from backend.runtime import running
from backend.tracing_setup import _sampler, setup_tracing
from devstack.otlp_receiver import ReceivedSpan, otlp_receiver
from tests.backend.runtime_support import api_client, make_settings, wait_until_final
from tests.support.log_lines import LogLines

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP's span kinds


async def test_tracing_is_off_by_default_and_sets_nothing_up(tmp_path: Path, captured: LogLines) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'off.db'}", tmp_path)
    assert settings.otel_traces_exporter == "none"
    assert setup_tracing(settings, "web") is None
    async with running(settings) as rt:
        assert not tracing.enabled() and tracing.outgoing() is tracing.NO_TRACE
        assert not hasattr(sqlalchemy_asyncio.create_async_engine, "__wrapped__")  # not instrumented
        with tracing.span("anything") as span:
            assert not span.is_recording()
        async with api_client(rt) as ada:
            answer = await ada.post(
                "/api/v1/comparisons",
                json={"prompt": "[[simulate:tokens=3]] off", "panes": [{"model": "simulated:instant"}]},
            )
        await wait_until_final(rt.comparisons, answer.json()["id"])
    assert captured.lines and not any("trace_id" in json.loads(line) for line in captured.lines)


async def test_one_trace_from_the_api_request_to_the_saved_result_in_one_process(
    tmp_path: Path, captured: LogLines
) -> None:
    with otlp_receiver() as receiver:
        settings = make_settings(
            f"sqlite:///{tmp_path / 'on.db'}",
            tmp_path,
            otel_traces_exporter="otlp",
            otel_exporter_otlp_endpoint=receiver.endpoint,
            otel_traces_sample_ratio=1.0,
        )
        async with running(settings) as rt:
            assert tracing.enabled()
            assert hasattr(sqlalchemy_asyncio.create_async_engine, "__wrapped__")
            # Statements are traced; taking a connection from the pool starts no span at all.
            assert not hasattr(Engine.connect, "__wrapped__")
            async with api_client(rt) as ada:
                answer = await ada.post(
                    "/api/v1/comparisons",
                    json={"prompt": "[[simulate:tokens=5]] on", "panes": [{"model": "simulated:swift"}]},
                )
                comparison_id = answer.json()["id"]
                # Its event stream reads the run; it is not on its path: no span.
                async with ada.stream("GET", f"/api/v1/comparisons/{comparison_id}/events") as stream:
                    assert "event: done" in [line async for line in stream.aiter_lines()]
            (run,) = (await wait_until_final(rt.comparisons, comparison_id)).runs
            await rt.pump.drain()
        # Shut down with the runtime: spans exported, instrumentation undone.
        assert not tracing.enabled() and not hasattr(sqlalchemy_asyncio.create_async_engine, "__wrapped__")
        spans = receiver.wait_for(lambda got: any(s.name == "run.save" for s in got))

    (create,) = [
        s
        for s in spans
        if s.name == "comparison.create" and s.attributes["llmdash.comparison_id"] == comparison_id
    ]
    trace = [s for s in spans if s.trace_id == create.trace_id]
    by_id = {s.span_id: s for s in trace}
    assert {s.service for s in trace} == {"llmdash-web"}
    (root,) = [s for s in trace if not s.parent_id]
    assert (root.kind, root.name) == (SERVER, "POST /api/v1/comparisons")
    assert [s.name for s in spans if s.kind == SERVER] == [root.name]  # not the event stream
    assert root.attributes["http.route"] == "/api/v1/comparisons"
    assert all(s.parent_id in by_id for s in trace if s is not root)

    def named(name: str) -> ReceivedSpan:
        (found,) = [s for s in trace if s.name == name]
        return found

    enqueue, execute, provider, save = (
        named(n) for n in ("run.enqueue", "run.execute", "provider.stream", "run.save")
    )
    assert by_id[create.parent_id] is root and by_id[enqueue.parent_id] is create
    # Through the embedded queue: the request carried its context to the worker's task.
    assert (execute.kind, by_id[execute.parent_id]) == (CONSUMER, enqueue)
    assert (provider.kind, by_id[provider.parent_id]) == (CLIENT, execute)
    assert (save.kind, by_id[save.parent_id]) == (CONSUMER, execute)
    assert provider.attributes["gen_ai.request.model"] == "simulated:swift"
    assert provider.attributes["gen_ai.usage.output_tokens"] == run.output_tokens == 5
    assert provider.attributes["llmdash.ttft_ms"] == pytest.approx(run.ttft_ms, abs=0.01)
    assert any("db.system" in s.attributes or "db.system.name" in s.attributes for s in trace)
    # The statements are spans (the claim's under run.execute, the save's under run.save); the
    # pool's connects are not: a quarter of a run's spans, parents of nothing.
    assert any(s.parent_id == execute.span_id and s.name.startswith("UPDATE") for s in trace)
    assert any(s.parent_id == save.span_id and s.name.startswith("UPDATE") for s in trace)
    assert not [s for s in spans if s.name == "connect"]
    # The polls outside any trace (wait_until_final's reads here) start none: no lone SQL spans.
    assert not [s for s in spans if s.kind == CLIENT and not s.parent_id]

    # The worker's log line about the run names the run's span.
    entries = [json.loads(line) for line in captured.lines]
    (started,) = [
        e for e in entries if e.get("run_id") == run.id and e["message"].endswith("simulated:swift")
    ]
    assert (started["trace_id"], started["span_id"]) == (execute.trace_id, execute.span_id)


async def test_a_trace_not_kept_costs_no_span_at_all(tmp_path: Path) -> None:
    """With no trace kept (ratio 0), a comparison made over the API, its runs, its event stream
    and its saves never reach OpenTelemetry past the request's choice: no span of the app's own,
    none of the middleware's, none of the instrumentations' (the sampler is never asked)."""
    settings = make_settings(
        f"sqlite:///{tmp_path / 'none.db'}",
        tmp_path,
        otel_traces_exporter="console",
        otel_traces_sample_ratio=0.0,
    )
    asked: list[str] = []
    async with running(settings) as rt:
        sampler = tracing_setup._provider.sampler if tracing_setup._provider else None
        assert sampler is not None
        decide = sampler.should_sample

        def recording(parent_context: Any, trace_id: int, name: str, *args: Any, **kwargs: Any) -> Any:
            asked.append(name)
            return decide(parent_context, trace_id, name, *args, **kwargs)

        sampler.should_sample = recording  # type: ignore[method-assign]
        async with api_client(rt) as ada:
            asked.clear()  # the client's sign-up and token: outside any request
            answer = await ada.post(
                "/api/v1/comparisons",
                json={"prompt": "[[simulate:tokens=5]] none", "panes": [{"model": "simulated:swift"}] * 2},
            )
            assert answer.status_code == 201, answer.text
            async with ada.stream("GET", f"/api/v1/comparisons/{answer.json()['id']}/events") as stream:
                events = [line async for line in stream.aiter_lines() if line.startswith("event: ")]
            await rt.pump.drain()
            during = list(asked)
            saved = await rt.comparisons.get_unchecked(answer.json()["id"])  # a read of the test's own
    assert events[-1] == "event: done" and [r.status for r in saved.runs] == ["done", "done"]
    assert during == []
    assert asked and all(name.startswith("SELECT") for name in asked)  # the test's read: a lone one, asked


async def test_a_share_token_in_the_path_never_reaches_a_span(tmp_path: Path) -> None:
    token = "share-token-that-is-a-password-12345"
    with otlp_receiver() as receiver:
        settings = make_settings(
            f"sqlite:///{tmp_path / 'share.db'}",
            tmp_path,
            otel_traces_exporter="otlp",
            otel_exporter_otlp_endpoint=receiver.endpoint,
            otel_traces_sample_ratio=1.0,
        )
        async with running(settings) as rt, api_client(rt) as ada:
            assert (await ada.get(f"/api/v1/shares/{token}?also={token}")).status_code == 404
        spans = receiver.wait_for(lambda got: any(s.kind == SERVER for s in got))
    (request,) = [s for s in spans if s.kind == SERVER]
    assert request.name == "GET /api/v1/shares/{token}"
    assert request.attributes["http.target"] == "/api/v1/shares/{token}"
    assert not [s for s in spans if token in s.name or token in json.dumps(s.attributes)]


def test_the_console_exporter_writes_spans_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'c.db'}",
        tmp_path,
        otel_traces_exporter="console",
        otel_traces_sample_ratio=1.0,
    )
    traces = setup_tracing(settings, "worker")
    assert traces is not None
    try:
        with tracing.span("console.check", attributes={"llmdash.run_id": "r-1"}):
            carrier = tracing.outgoing()
    finally:
        traces.shutdown()
    assert set(carrier) == {"traceparent"}
    printed = capsys.readouterr().out
    assert '"name": "console.check"' in printed and '"service.name": "llmdash-worker"' in printed


def test_the_sampler_keeps_the_ratio_of_traces_and_no_pool_connects() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    def kept(ratio: float) -> dict[str, bool]:
        """Which spans of a Run, of a request and of a poll outside any trace are recorded."""
        tracer = TracerProvider(sampler=_sampler(ratio)).get_tracer("test")
        recorded: dict[str, bool] = {}

        with tracer.start_as_current_span("compare.run") as run:
            recorded["run"] = run.is_recording()
            with tracer.start_as_current_span("connect", kind=SpanKind.CLIENT) as connect:
                recorded["connect"] = connect.is_recording()
                # What the connect's hooks run (SQLite's pragmas) goes with it.
                with tracer.start_as_current_span("PRAGMA", kind=SpanKind.CLIENT) as pragma:
                    recorded["pragma"] = pragma.is_recording()
            with tracer.start_as_current_span("SELECT dashboard.db", kind=SpanKind.CLIENT) as statement:
                recorded["statement"] = statement.is_recording()
        # A request's server span is started only for a request TracedRequests chose at the ratio.
        with tracer.start_as_current_span("POST /api/v1/comparisons", kind=SpanKind.SERVER) as request:
            recorded["chosen request"] = request.is_recording()
        with tracer.start_as_current_span("SELECT dashboard.db", kind=SpanKind.CLIENT) as poll:
            recorded["lone poll"] = poll.is_recording()
        return recorded

    assert kept(1.0) == {
        "run": True,
        "connect": False,
        "pragma": False,
        "statement": True,
        "chosen request": True,
        "lone poll": False,
    }
    assert [name for name, recorded in kept(0.0).items() if recorded] == ["chosen request"]


def test_the_resource_is_hashed_once_and_equals_the_sdks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder hashes the resource once per span: ours computes it once, to the SDK's value."""
    from opentelemetry.sdk import resources
    from opentelemetry.sdk.resources import Resource

    resource = tracing_setup._resource("llmdash-web")
    plain = Resource.create({"service.name": "llmdash-web"})
    assert resource == plain and hash(resource) == hash(plain)
    encoded: list[object] = []
    real_dumps = resources.dumps  # what Resource.__hash__ encodes the attributes with

    def counted(*args: Any, **kwargs: Any) -> str:
        encoded.append(args)
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(resources, "dumps", counted)
    assert {hash(resource) for _ in range(3)} == {hash(plain)}
    assert len(encoded) == 1  # the plain one's, once; ours none


async def test_engines_made_inside_a_trace_not_kept_still_trace_the_kept_ones(tmp_path: Path) -> None:
    """The database's engines are made lazily, maybe by a request whose trace is not kept:
    OpenTelemetry instruments an engine only if instrumentation is on when it is made."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from sqlalchemy import text

    from backend.db.engine import Database

    settings = make_settings(f"sqlite:///{tmp_path / 'e.db'}", tmp_path, otel_traces_sample_ratio=1.0)
    exporter = InMemorySpanExporter()
    traces = setup_tracing(settings, "web", exporter=exporter)
    assert traces is not None
    db = Database(settings.database_url)
    try:
        with tracing.unsampled():  # the first use of both engines: a trace not kept
            await db.write(lambda connection: connection.execute(text("SELECT 1")).scalar())
            async with db.session() as session:
                await session.execute(text("SELECT 2"))
        with tracing.span("kept") as kept:
            await db.write(lambda connection: connection.execute(text("SELECT 3")).scalar())
            async with db.session() as session:
                await session.execute(text("SELECT 4"))
    finally:
        await db.engine.dispose()
        traces.shutdown()
    statements = [
        (s.attributes or {}).get("db.statement")
        for s in exporter.get_finished_spans()
        if s.parent is not None and s.parent.span_id == kept.get_span_context().span_id
    ]
    assert statements == ["SELECT 3", "SELECT 4"]
