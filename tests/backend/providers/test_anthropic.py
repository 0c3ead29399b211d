"""Anthropic provider: what goes over the wire."""

from __future__ import annotations

from backend.providers.anthropic import AnthropicConnection, AnthropicProvider
from backend.providers.base import AuthenticationFailed, ChatRequest
from backend.providers.registry import get_provider
from tests.backend.providers.helpers import collect, make_settings
from tests.support.fake_llm_server import FakeLLMServer


def sent_key(server: FakeLLMServer) -> str | None:
    # Older SDKs send x-api-key, newer ones a bearer token; either carries the key.
    headers = server.requests[-1].headers
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ") or None


REQUEST = ChatRequest(
    model="claude-haiku-4-5",
    prompt="Say hello",
    system_prompt="Be brief.",
    temperature=0.25,
    max_tokens=77,
    seed=42,
)


async def test_sends_system_prompt_parameters_and_key(fake_server: FakeLLMServer) -> None:
    provider = AnthropicProvider(AnthropicConnection(api_key="sk-ant-test", base_url=fake_server.url))
    result = await collect(provider, REQUEST)
    assert result.error is None

    body = fake_server.last_body("/v1/messages")
    assert body["model"] == "claude-haiku-4-5"
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert (body["max_tokens"], body["temperature"], body["stream"]) == (77, 0.25, True)
    assert "seed" not in body  # the Messages API has no seed
    assert sent_key(fake_server) == "sk-ant-test"


async def test_missing_key_fails_before_any_request(fake_server: FakeLLMServer) -> None:
    provider = AnthropicProvider(AnthropicConnection(api_key="", base_url=fake_server.url))
    result = await collect(provider, REQUEST)
    assert isinstance(result.error, AuthenticationFailed)
    assert "ANTHROPIC_API_KEY" in result.error.message
    assert fake_server.requests == []


async def test_through_the_registry_uses_settings(fake_server: FakeLLMServer) -> None:
    settings = make_settings(anthropic_api_key="sk-env", anthropic_base_url=fake_server.url)
    result = await collect(get_provider("anthropic:claude-sonnet-4-5", settings), REQUEST)
    assert result.text == "Hello, world! Bye."
    assert sent_key(fake_server) == "sk-env"


async def test_sends_the_conversation_history_as_alternating_messages(fake_server: FakeLLMServer) -> None:
    """A follow-up turn (issue 19): the system prompt apart, then user/assistant pairs, then the new one."""
    provider = AnthropicProvider(AnthropicConnection(api_key="sk-ant-test", base_url=fake_server.url))
    request = ChatRequest(
        model="claude-haiku-4-5", prompt="Again?", system_prompt="Be brief.", history=(("Hi", "Hello!"),)
    )
    assert (await collect(provider, request)).error is None
    body = fake_server.last_body("/v1/messages")
    assert body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Again?"),
    ]
