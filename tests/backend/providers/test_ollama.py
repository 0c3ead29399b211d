"""Ollama provider: what goes over the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import cast

from backend.net.egress import shared_guarded_transport
from backend.providers.base import BadRequest, ChatRequest, StreamItem, TextChunk
from backend.providers.ollama import OllamaConnection, OllamaProvider
from backend.providers.registry import get_provider
from tests.backend.providers.helpers import collect, make_settings
from tests.support.fake_llm_server import FakeLLMServer


async def test_sends_messages_and_options(fake_server: FakeLLMServer) -> None:
    provider = OllamaProvider(OllamaConnection(base_url=fake_server.url))
    request = ChatRequest(
        model="llama3.2",
        prompt="Say hello",
        system_prompt="Be brief.",
        temperature=0.25,
        max_tokens=77,
        seed=42,
    )
    result = await collect(provider, request)
    assert result.error is None

    body = fake_server.last_body("/api/chat")
    assert body["model"] == "llama3.2"
    assert body["stream"] is True
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief."),
        ("user", "Say hello"),
    ]
    assert body["options"]["temperature"] == 0.25
    assert body["options"]["num_predict"] == 77
    assert body["options"]["seed"] == 42


async def test_through_the_registry_uses_settings(fake_server: FakeLLMServer) -> None:
    settings = make_settings(ollama_base_url=fake_server.url + "/")
    result = await collect(
        get_provider("ollama:qwen2.5:7b", settings), ChatRequest(model="qwen2.5:7b", prompt="Hi")
    )
    assert result.text == "Hello, world! Bye."
    assert fake_server.last_body("/api/chat")["model"] == "qwen2.5:7b"


async def test_missing_model_404_is_bad_request(fake_server: FakeLLMServer) -> None:
    fake_server.mode = "404"
    result = await collect(OllamaProvider(OllamaConnection(base_url=fake_server.url)), ChatRequest("x", "Hi"))
    assert isinstance(result.error, BadRequest)
    assert "not found" in result.error.message


async def test_stop_mid_stream_closes_the_kept_transports_connection(fake_server: FakeLLMServer) -> None:
    """Models and their transport are kept between runs (model_cache): a Stop must still hang up
    on Ollama, not leave the answer streaming into a pooled connection."""
    fake_server.mode, fake_server.delay = "stall", 3.0  # two chunks, then silence
    provider = OllamaProvider(OllamaConnection(base_url=fake_server.url))
    stream = cast(
        AsyncGenerator[StreamItem, None], provider.stream(ChatRequest(model="llama3.2", prompt="Hi"))
    )
    assert await anext(stream) == TextChunk("Hello")
    pool = shared_guarded_transport(True)._pool
    assert [c.is_closed() for c in pool.connections] == [False]
    await stream.aclose()  # what the worker does on Stop
    for _ in range(100):  # Ollama's own stream is closed by the loop's async-generator finaliser
        if not pool.connections:
            break
        await asyncio.sleep(0.01)
    assert pool.connections == []
