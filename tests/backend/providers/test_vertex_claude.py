"""Claude on Vertex AI (`vertexai:claude-…`) against the local Vertex AI server's
`:streamRawPredict` route: the same project, region and credentials as Gemini."""

from __future__ import annotations

import pytest

from backend.providers.base import AuthenticationFailed, ChatRequest, ProviderUnavailable, RateLimited
from backend.providers.registry import get_provider
from backend.runs_model import run_cost_usd
from tests.backend.providers.helpers import collect, make_settings
from tests.support.vertex_server import VertexServer

TOKEN = "test-access-token"
MODEL = "claude-sonnet-4-5@20250929"
REQUEST = ChatRequest(
    model=MODEL, prompt="Say hello", system_prompt="Be brief.", temperature=0.25, max_tokens=77
)


def settings_for(server: VertexServer, token: str = TOKEN) -> dict[str, str]:
    return {
        "google_cloud_project": "proj-9",
        "vertex_location": "us-east5",
        "vertex_api_endpoint": server.url,
        "vertex_access_token": token,
    }


async def test_streams_claude_through_vertex(vertex_server: VertexServer) -> None:
    vertex_server.input_tokens, vertex_server.output_tokens = 1_000, 200
    provider = get_provider(f"vertexai:{MODEL}", make_settings(**settings_for(vertex_server)))

    result = await collect(provider, REQUEST)

    assert result.error is None, result.error
    assert result.chunks == ["Hello", ", wor", "ld", "!", " Bye."]
    assert result.end is not None and result.end.finish_reason == "stop"
    usage = result.end.usage
    assert (usage.input_tokens, usage.output_tokens) == (1_000, 200)
    # Claude Sonnet 4.5 on Vertex AI: $3 per million input tokens, $15 per million output.
    cost = run_cost_usd(f"vertexai:{MODEL}", usage.input_tokens, usage.output_tokens, cache_hit=False)
    assert cost == pytest.approx(0.001 * 3 + 0.0002 * 15)

    sent = vertex_server.last("streamRawPredict")
    assert (sent.version, sent.project, sent.location, sent.publisher, sent.model) == (
        "v1",
        "proj-9",
        "us-east5",
        "anthropic",
        MODEL,
    )
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert "model" not in sent.body  # on Vertex AI the model is in the URL ...
    assert sent.body["anthropic_version"]  # ... and the API version in the body
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert (sent.body["max_tokens"], sent.body["temperature"], sent.body["stream"]) == (77, 0.25, True)


async def test_refused_token_is_not_authorised(vertex_server: VertexServer) -> None:
    provider = get_provider(f"vertexai:{MODEL}", make_settings(**settings_for(vertex_server, "wrong")))
    result = await collect(provider, REQUEST)
    assert isinstance(result.error, AuthenticationFailed), repr(result.error)
    assert result.error.message.startswith("Vertex AI: not authorised (401")
    assert len(vertex_server.requests) == 1, "SDK retries must be disabled"


async def test_429_is_rate_limited_with_retry_after(vertex_server: VertexServer) -> None:
    vertex_server.mode, vertex_server.retry_after = "429", "7"
    provider = get_provider(f"vertexai:{MODEL}", make_settings(**settings_for(vertex_server)))
    result = await collect(provider, REQUEST)
    assert isinstance(result.error, RateLimited), repr(result.error)
    assert result.error.retry_after == 7.0
    assert len(vertex_server.requests) == 1


@pytest.mark.parametrize("mode", ["error_event", "drop"])
async def test_broken_stream_is_unavailable(vertex_server: VertexServer, mode: str) -> None:
    vertex_server.mode = mode
    provider = get_provider(f"vertexai:{MODEL}", make_settings(**settings_for(vertex_server)))
    result = await collect(provider, REQUEST)
    assert isinstance(result.error, ProviderUnavailable), repr(result.error)
    assert result.text == "Hello, wor"
