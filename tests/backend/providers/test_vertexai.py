"""Gemini on Vertex AI against a local server speaking Vertex AI's REST protocol.

The real client stack runs (langchain-google-genai -> google-genai -> HTTP); only the
address (VERTEX_API_ENDPOINT) and the credentials (an access token) point at the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import cast

import pytest

from backend.providers.base import (
    AuthenticationFailed,
    BadRequest,
    ChatRequest,
    ContentBlocked,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamItem,
    TextChunk,
)
from backend.providers.registry import get_provider
from backend.providers.vertexai import VertexAIProvider, VertexConnection
from backend.runs_model import run_cost_usd
from tests.backend.providers.helpers import collect, make_settings, unused_url
from tests.support.vertex_server import VertexServer

TOKEN = "test-access-token"
REQUEST = ChatRequest(
    model="gemini-2.5-flash",
    prompt="Say hello",
    system_prompt="Be brief.",
    temperature=0.25,
    max_tokens=77,
    seed=42,
)


def provider(
    url: str, timeout: float = 5.0, token: str = TOKEN, project: str = "my-project"
) -> VertexAIProvider:
    return VertexAIProvider(
        VertexConnection(
            project=project, location="us-central1", api_endpoint=url, access_token=token, timeout=timeout
        )
    )


async def test_streams_text_usage_and_sends_a_vertex_request(vertex_server: VertexServer) -> None:
    vertex_server.reply = ["Hel", "lo", ", world", "! ", "Bye."]
    vertex_server.input_tokens, vertex_server.output_tokens = 13, 6

    result = await collect(provider(vertex_server.url), REQUEST)

    assert result.error is None, result.error
    assert result.chunks == ["Hel", "lo", ", world", "! ", "Bye."]  # streamed, not one blob
    assert result.end is not None
    # Vertex AI repeats the running usage on every chunk: counted once, not summed.
    assert (result.end.usage.input_tokens, result.end.usage.output_tokens) == (13, 6)
    assert result.end.finish_reason == "stop"

    sent = vertex_server.last("streamGenerateContent")
    assert (sent.version, sent.project, sent.location, sent.publisher, sent.model) == (
        "v1",
        "my-project",
        "us-central1",
        "google",
        "gemini-2.5-flash",
    )
    assert sent.query.get("alt") == ["sse"]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    config = sent.body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"], config["seed"]) == (0.25, 77, 42)


async def test_usage_prices_the_run_at_the_catalog_price(vertex_server: VertexServer) -> None:
    vertex_server.input_tokens, vertex_server.output_tokens = 200_000, 40_000
    result = await collect(provider(vertex_server.url), REQUEST)
    assert result.end is not None
    usage = result.end.usage
    cost = run_cost_usd("vertexai:gemini-2.5-flash", usage.input_tokens, usage.output_tokens, cache_hit=False)
    # Gemini 2.5 Flash on Vertex AI: $0.30 per million input tokens, $2.50 per million output.
    assert cost == pytest.approx(0.2 * 0.30 + 0.04 * 2.50)


async def test_through_the_registry_uses_the_settings(vertex_server: VertexServer) -> None:
    settings = make_settings(
        google_cloud_project="proj-7",
        vertex_location="europe-west4",
        vertex_api_endpoint=vertex_server.url,
        vertex_access_token=TOKEN,
    )
    request = ChatRequest(model="gemini-2.5-pro", prompt="Hi")
    result = await collect(get_provider("vertexai:gemini-2.5-pro", settings), request)
    assert result.text == "Hello, world! Bye."
    sent = vertex_server.last("streamGenerateContent")
    assert (sent.project, sent.location, sent.model) == ("proj-7", "europe-west4", "gemini-2.5-pro")


async def test_missing_project_fails_before_any_request(vertex_server: VertexServer) -> None:
    result = await collect(provider(vertex_server.url, project=""), REQUEST)
    assert isinstance(result.error, AuthenticationFailed)
    assert "GOOGLE_CLOUD_PROJECT" in result.error.message
    assert vertex_server.requests == []


async def test_missing_application_default_credentials_are_reported(
    vertex_server: VertexServer, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", f"{tmp_path}/missing.json")
    result = await collect(provider(vertex_server.url, token=""), REQUEST)
    assert isinstance(result.error, AuthenticationFailed), repr(result.error)
    assert "no Google credentials" in result.error.message
    assert "gcloud auth application-default login" in result.error.message
    assert vertex_server.requests == []


@pytest.mark.parametrize(("token", "mode", "status"), [("wrong-token", "ok", "401"), (TOKEN, "403", "403")])
async def test_refused_credentials_are_not_authorised(
    vertex_server: VertexServer, token: str, mode: str, status: str
) -> None:
    vertex_server.mode = mode
    result = await collect(provider(vertex_server.url, token=token), REQUEST)
    assert isinstance(result.error, AuthenticationFailed), repr(result.error)
    assert result.error.message.startswith(f"Vertex AI: not authorised ({status}")
    assert "application-default login" in result.error.message
    assert result.chunks == []
    assert len(vertex_server.requests) == 1, "SDK retries must be disabled"


async def test_429_is_rate_limited_with_retry_after(vertex_server: VertexServer) -> None:
    vertex_server.mode, vertex_server.retry_after = "429", "7"
    result = await collect(provider(vertex_server.url), REQUEST)
    assert isinstance(result.error, RateLimited), repr(result.error)
    assert result.error.retryable and result.error.retry_after == 7.0
    assert "RESOURCE_EXHAUSTED" in result.error.message
    assert len(vertex_server.requests) == 1, "SDK retries must be disabled"


async def test_too_long_prompt_is_a_bad_request(vertex_server: VertexServer) -> None:
    vertex_server.max_prompt_chars = 100
    too_long = ChatRequest(model="gemini-2.5-flash", prompt="x" * 101)
    result = await collect(provider(vertex_server.url), too_long)
    assert isinstance(result.error, BadRequest), repr(result.error)
    assert not result.error.retryable
    assert "exceeds the maximum number of tokens" in result.error.message


async def test_safety_block_is_shown_as_such(vertex_server: VertexServer) -> None:
    vertex_server.mode = "safety"
    result = await collect(provider(vertex_server.url), REQUEST)
    assert isinstance(result.error, ContentBlocked), repr(result.error)
    assert result.error.kind == "blocked" and not result.error.retryable
    assert "blocked the answer" in result.error.message and "SAFETY" in result.error.message
    assert result.end is None


async def test_blocked_prompt_is_shown_as_such(vertex_server: VertexServer) -> None:
    vertex_server.mode = "prompt_blocked"
    result = await collect(provider(vertex_server.url), REQUEST)
    assert isinstance(result.error, ContentBlocked), repr(result.error)
    assert "blocked the prompt (block reason SAFETY)" in result.error.message
    assert result.chunks == []


@pytest.mark.parametrize("mode", ["error_event", "drop"])
async def test_broken_stream_is_unavailable_after_the_text_so_far(
    vertex_server: VertexServer, mode: str
) -> None:
    vertex_server.mode = mode
    vertex_server.reply = ["one ", "two ", "three ", "four"]
    result = await collect(provider(vertex_server.url), REQUEST)
    assert isinstance(result.error, ProviderUnavailable), repr(result.error)
    assert result.error.retryable
    assert result.text == "one two "
    assert result.end is None


async def test_no_answer_in_time_is_provider_timeout(vertex_server: VertexServer) -> None:
    vertex_server.mode, vertex_server.delay = "slow", 3.0
    result = await collect(provider(vertex_server.url, timeout=0.4), REQUEST)
    assert isinstance(result.error, ProviderTimeout), repr(result.error)


async def test_stall_mid_stream_is_provider_timeout(vertex_server: VertexServer) -> None:
    vertex_server.mode, vertex_server.delay = "stall", 3.0
    vertex_server.reply = ["one ", "two ", "three "]
    result = await collect(provider(vertex_server.url, timeout=0.4), REQUEST)
    assert isinstance(result.error, ProviderTimeout), repr(result.error)
    assert result.text == "one two "


async def test_a_stream_longer_than_the_timeout_is_not_cut(vertex_server: VertexServer) -> None:
    # PROVIDER_TIMEOUT_SECONDS bounds the silence between chunks, not the whole answer.
    vertex_server.chunk_delay = 0.3
    result = await collect(provider(vertex_server.url, timeout=0.8), REQUEST)  # ~1.2 s in all
    assert result.error is None, repr(result.error)
    assert result.text == "Hello, world! Bye."


async def test_unreachable_endpoint_is_unavailable() -> None:
    result = await collect(provider(unused_url(), timeout=2.0), REQUEST)
    assert isinstance(result.error, ProviderUnavailable), repr(result.error)


async def _hung_up(server: VertexServer) -> bool:
    return await asyncio.to_thread(server.hung_up.wait, 3.0)


async def test_stop_mid_stream_closes_the_connection(vertex_server: VertexServer) -> None:
    vertex_server.reply = [f"w{i} " for i in range(20)]
    vertex_server.chunk_delay = 0.1
    # An async generator (the provider's `stream` is one): the worker's Stop closes it.
    stream = cast(AsyncGenerator[StreamItem, None], provider(vertex_server.url).stream(REQUEST))
    first = await anext(stream)
    assert first == TextChunk("w0 ")
    await stream.aclose()  # what the worker does on Stop

    assert await _hung_up(vertex_server), "the server kept streaming to nobody"
    assert vertex_server.chunks_sent < 20


async def test_cancelled_task_closes_the_connection(vertex_server: VertexServer) -> None:
    vertex_server.reply = [f"w{i} " for i in range(20)]
    vertex_server.chunk_delay = 0.1
    received: list[str] = []
    streaming = asyncio.Event()

    async def consume() -> None:
        async for item in provider(vertex_server.url).stream(REQUEST):
            if isinstance(item, TextChunk):
                received.append(item.text)
                streaming.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(streaming.wait(), 5.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _hung_up(vertex_server)
    assert len(received) < 20


async def test_a_non_streaming_call_uses_generate_content(vertex_server: VertexServer) -> None:
    # Not what a pane does, but what a one-shot caller (ainvoke) sends: the server answers it too.
    message = await provider(vertex_server.url).chat_model(REQUEST).ainvoke("Say hello")
    assert message.content == "Hello, world! Bye."
    assert message.usage_metadata["output_tokens"] == vertex_server.output_tokens
    assert vertex_server.last("generateContent").query.get("alt") is None
