"""Each LangChain-backed provider against the local fake server, over real HTTP.

The same scenarios run for every provider; the wire-format details each
provider must send are checked in the provider-specific tests below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from backend.providers.anthropic import AnthropicConnection, AnthropicProvider
from backend.providers.base import (
    AuthenticationFailed,
    ChatProvider,
    ChatRequest,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from backend.providers.ollama import OllamaConnection, OllamaProvider
from backend.providers.openai import OpenAIConnection, OpenAIProvider
from backend.providers.openai_compatible import EndpointConnection, OpenAICompatibleProvider
from tests.backend.providers.helpers import collect
from tests.support.fake_llm_server import FakeLLMServer


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[str, float], ChatProvider]  # (server url, timeout) -> provider
    model: str  # ChatRequest.model
    wire_model: str  # what the server must receive
    path: str
    retry_after_supported: bool = True


CASES = [
    Case(
        "openai",
        lambda url, t: OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{url}/v1", timeout=t)),
        "gpt-4o-mini",
        "gpt-4o-mini",
        "/v1/chat/completions",
    ),
    Case(
        "openai-compatible",
        lambda url, t: OpenAICompatibleProvider(
            {"local": EndpointConnection(name="local", base_url=f"{url}/v1", timeout=t)}
        ),
        "local/org/my-model",
        "org/my-model",
        "/v1/chat/completions",
    ),
    Case(
        "anthropic",
        lambda url, t: AnthropicProvider(AnthropicConnection(api_key="sk-ant-test", base_url=url, timeout=t)),
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "/v1/messages",
    ),
    Case(
        "ollama",
        lambda url, t: OllamaProvider(OllamaConnection(base_url=url, timeout=t)),
        "llama3.2",
        "llama3.2",
        "/api/chat",
        retry_after_supported=False,  # the ollama client drops response headers
    ),
]

pytestmark = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


def request_for(case: Case) -> ChatRequest:
    return ChatRequest(
        model=case.model,
        prompt="Say hello",
        system_prompt="Be brief.",
        temperature=0.25,
        max_tokens=77,
        seed=42,
    )


async def test_streams_text_usage_and_finish_reason(case: Case, fake_server: FakeLLMServer) -> None:
    fake_server.reply = ["Hel", "lo", ", world", "! ", "Bye."]
    fake_server.input_tokens, fake_server.output_tokens = 13, 6

    result = await collect(case.build(fake_server.url, 5.0), request_for(case))

    assert result.error is None
    assert result.text == "Hello, world! Bye."
    assert result.end is not None
    assert (result.end.usage.input_tokens, result.end.usage.output_tokens) == (13, 6)
    assert result.end.finish_reason == "stop"
    assert fake_server.last_body(case.path)["model"] == case.wire_model


async def test_length_finish_reason_is_normalised(case: Case, fake_server: FakeLLMServer) -> None:
    fake_server.finish_reason = "length"
    result = await collect(case.build(fake_server.url, 5.0), request_for(case))
    assert result.end is not None and result.end.finish_reason == "length"


async def test_401_is_authentication_failed(case: Case, fake_server: FakeLLMServer) -> None:
    fake_server.mode = "401"
    result = await collect(case.build(fake_server.url, 5.0), request_for(case))
    assert isinstance(result.error, AuthenticationFailed), result.error
    assert result.chunks == []
    assert len(fake_server.requests) == 1, "SDK retries must be disabled"


async def test_429_is_rate_limited_with_retry_after(case: Case, fake_server: FakeLLMServer) -> None:
    fake_server.mode, fake_server.retry_after = "429", "7"
    result = await collect(case.build(fake_server.url, 5.0), request_for(case))
    assert isinstance(result.error, RateLimited), result.error
    assert result.error.retryable
    assert result.error.retry_after == (7.0 if case.retry_after_supported else None)
    assert len(fake_server.requests) == 1, "SDK retries must be disabled"


@pytest.mark.parametrize("mode", ["error_event", "drop"])
async def test_mid_stream_failure_after_some_chunks(
    case: Case, fake_server: FakeLLMServer, mode: str
) -> None:
    fake_server.mode = mode
    fake_server.reply = ["one ", "two ", "three ", "four"]
    result = await collect(case.build(fake_server.url, 5.0), request_for(case))
    assert isinstance(result.error, ProviderUnavailable), repr(result.error)
    assert result.text == "one two "
    assert result.end is None


async def test_no_answer_in_time_is_provider_timeout(case: Case, fake_server: FakeLLMServer) -> None:
    fake_server.mode, fake_server.delay = "slow", 3.0
    result = await collect(case.build(fake_server.url, 0.4), request_for(case))
    assert isinstance(result.error, ProviderTimeout), repr(result.error)
    assert result.chunks == []


async def test_stall_mid_stream_is_provider_timeout(case: Case, fake_server: FakeLLMServer) -> None:
    fake_server.mode, fake_server.delay = "stall", 3.0
    fake_server.reply = ["one ", "two ", "three "]
    result = await collect(case.build(fake_server.url, 0.4), request_for(case))
    assert isinstance(result.error, ProviderTimeout), repr(result.error)
    assert result.text == "one two "


async def test_unreachable_server_is_unavailable(case: Case, fake_server: FakeLLMServer) -> None:
    url = fake_server.url
    fake_server.stop()  # nothing listens on that port any more
    result = await collect(case.build(url, 2.0), request_for(case))
    assert isinstance(result.error, ProviderUnavailable), repr(result.error)
