"""OpenAI and OpenAI-compatible providers: what goes over the wire."""

from __future__ import annotations

import pytest

from backend.providers.base import AuthenticationFailed, BadRequest, ChatRequest
from backend.providers.openai import OpenAIConnection, OpenAIProvider
from backend.providers.openai_compatible import EndpointConnection, OpenAICompatibleProvider
from backend.providers.registry import get_provider
from tests.backend.providers.helpers import collect, make_settings
from tests.support.fake_llm_server import FakeLLMServer

PATH = "/v1/chat/completions"
REQUEST = ChatRequest(
    model="gpt-4o-mini",
    prompt="Say hello",
    system_prompt="Be brief.",
    temperature=0.25,
    max_tokens=77,
    seed=42,
)


async def test_openai_sends_model_parameters_and_key(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    result = await collect(provider, REQUEST)
    assert result.error is None

    body = fake_server.last_body(PATH)
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert body["temperature"] == 0.25
    assert body["max_completion_tokens"] == 77
    assert body["seed"] == 42
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert fake_server.requests[-1].headers["authorization"] == "Bearer sk-test"


async def test_openai_without_system_prompt_sends_only_the_user_message(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    await collect(provider, ChatRequest(model="gpt-4o", prompt="Hi"))
    assert fake_server.last_body(PATH)["messages"] == [{"role": "user", "content": "Hi"}]


async def test_openai_missing_key_fails_before_any_request(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="", base_url=f"{fake_server.url}/v1"))
    result = await collect(provider, REQUEST)
    assert isinstance(result.error, AuthenticationFailed)
    assert "OPENAI_API_KEY" in result.error.message
    assert fake_server.requests == []


async def test_openai_through_the_registry_uses_settings(fake_server: FakeLLMServer) -> None:
    settings = make_settings(openai_api_key="sk-env", openai_base_url=f"{fake_server.url}/v1")
    result = await collect(get_provider("openai:gpt-4o", settings), ChatRequest(model="gpt-4o", prompt="Hi"))
    assert result.text == "Hello, world! Bye."
    assert fake_server.requests[-1].headers["authorization"] == "Bearer sk-env"


@pytest.mark.parametrize(("api_key", "sent"), [("", "Bearer not-needed"), ("secret", "Bearer secret")])
async def test_compatible_endpoint_key_is_optional(
    fake_server: FakeLLMServer, api_key: str, sent: str
) -> None:
    endpoint = EndpointConnection(name="lab", base_url=f"{fake_server.url}/v1", api_key=api_key)
    provider = OpenAICompatibleProvider({"lab": endpoint})
    result = await collect(
        provider, ChatRequest(model="lab/qwen", prompt="Hi", max_tokens=5, temperature=0.0)
    )
    assert result.error is None
    body = fake_server.last_body(PATH)
    assert (body["model"], body["max_completion_tokens"], body["temperature"]) == ("qwen", 5, 0.0)
    assert fake_server.requests[-1].headers["authorization"] == sent


async def test_compatible_unknown_endpoint_or_malformed_name_is_bad_request() -> None:
    provider = OpenAICompatibleProvider({})
    unknown = await collect(provider, ChatRequest(model="nope/model", prompt="Hi"))
    malformed = await collect(provider, ChatRequest(model="no-slash", prompt="Hi"))
    assert isinstance(unknown.error, BadRequest) and "nope" in unknown.error.message
    assert isinstance(malformed.error, BadRequest)


async def test_compatible_through_the_registry(fake_server: FakeLLMServer) -> None:
    endpoints = {"lab": {"base_url": f"{fake_server.url}/v1/", "api_key": "k"}}
    settings = make_settings(openai_compatible_endpoints=endpoints)
    provider = get_provider("openai-compatible:lab/local-a", settings)
    result = await collect(provider, ChatRequest(model="lab/local-a", prompt="Hi"))
    assert result.text == "Hello, world! Bye."
    assert fake_server.last_body(PATH)["model"] == "local-a"


async def test_openai_sends_the_conversation_history_as_alternating_messages(
    fake_server: FakeLLMServer,
) -> None:
    """A follow-up turn (issue 19): earlier messages and this model's own answers, then the new one."""
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    request = ChatRequest(
        model="gpt-4o-mini",
        prompt="And in French?",
        system_prompt="Be brief.",
        history=(("Say hello", "Hello!"), ("Louder", "HELLO!")),
    )
    assert (await collect(provider, request)).error is None
    assert fake_server.last_body(PATH)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Louder"},
        {"role": "assistant", "content": "HELLO!"},
        {"role": "user", "content": "And in French?"},
    ]
