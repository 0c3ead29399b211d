"""A run on Vertex AI end to end in the worker: the registry's Gemini provider against the local
Vertex AI server, as a pane sees it (final events: text, usage and cost, Stop, the error a user
reads)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from backend.providers.base import ChatProvider
from backend.providers.registry import get_provider
from backend.queue.base import AnyEvent
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import CancelRequest, ChunkEvent
from backend.runs_model import final_outcome
from backend.settings import Settings
from tests.backend.execution.test_worker import events_until_final, make_task, split, worker_running
from tests.support.vertex_server import VertexServer

MODEL = "vertexai:gemini-2.5-flash"


@pytest.fixture
def vertex() -> Iterator[VertexServer]:
    server = VertexServer().start()
    yield server
    server.stop()


def resolver(server: VertexServer) -> object:
    settings = Settings(
        _env_file=None,
        google_cloud_project="proj-1",
        vertex_api_endpoint=server.url,
        vertex_access_token=server.token,
        provider_timeout_seconds=5.0,
    )

    def resolve(model_id: str) -> ChatProvider:
        return get_provider(model_id, settings)

    return resolve


async def run(server: VertexServer, prompt: str = "Say hello", run_id: str = "run-1") -> list[AnyEvent]:
    broker = EmbeddedBroker()
    async with worker_running(broker, resolver(server)):  # type: ignore[arg-type]
        await broker.submit(make_task(prompt, model=MODEL, run_id=run_id))
        return await events_until_final(broker, run_id, timeout=15.0)


async def test_a_gemini_run_streams_and_is_priced(vertex: VertexServer) -> None:
    vertex.input_tokens, vertex.output_tokens = 100_000, 20_000
    _, chunks, final = split(await run(vertex))
    assert [c.text for c in chunks] == ["Hello", ", wor", "ld", "!", " Bye."]
    assert final.status == "done" and final.output_text == "Hello, world! Bye."
    assert (final.input_tokens, final.output_tokens) == (100_000, 20_000)
    assert final_outcome(final, MODEL).cost_usd == pytest.approx(0.1 * 0.30 + 0.02 * 2.50)


async def test_stop_ends_the_run_and_the_request(vertex: VertexServer) -> None:
    vertex.reply = [f"w{i} " for i in range(30)]
    vertex.chunk_delay = 0.1
    broker = EmbeddedBroker()
    task = make_task("long answer", model=MODEL, attempt=1)

    async def stop_after_second(event: AnyEvent) -> None:
        if isinstance(event, ChunkEvent) and event.seq == 1:
            await broker.request_cancel(CancelRequest(run_id=task.run_id, attempt=1))

    async with worker_running(broker, resolver(vertex)):  # type: ignore[arg-type]
        await broker.submit(task)
        events = await events_until_final(broker, task.run_id, timeout=15.0, on_event=stop_after_second)
    _, chunks, final = split(events)
    assert final.status == "cancelled"
    assert final.output_text.startswith("w0 w1 ") and len(chunks) < 30
    assert await asyncio.to_thread(vertex.hung_up.wait, 3.0), "the Vertex AI request was left streaming"


@pytest.mark.parametrize(
    ("mode", "kind", "shown"),
    [
        ("403", "auth", "Vertex AI: not authorised (403 PERMISSION_DENIED)"),
        ("safety", "blocked", "Gemini stopped: Vertex AI blocked the answer (finish reason SAFETY)"),
        ("prompt_blocked", "blocked", "Gemini stopped: Vertex AI blocked the prompt (block reason SAFETY)"),
    ],
)
async def test_the_error_a_user_reads(vertex: VertexServer, mode: str, kind: str, shown: str) -> None:
    vertex.mode = mode
    _, _, final = split(await run(vertex))
    assert final.status == "error"
    assert (final.error_kind, final.error[: len(shown)]) == (kind, shown)
    assert len(vertex.requests) == 1, "not retried: the same request would fail the same way"


async def test_a_too_long_prompt_is_a_bad_request(vertex: VertexServer) -> None:
    vertex.max_prompt_chars = 50
    _, _, final = split(await run(vertex, prompt="word " * 20))
    assert (final.status, final.error_kind) == ("error", "bad_request")
    assert "exceeds the maximum number of tokens" in final.error
