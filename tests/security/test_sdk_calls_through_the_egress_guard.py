"""The vendor SDKs' calls go through the one egress guard too (issue 15).

OpenAI's and Anthropic's adapters, Gemini and Claude on Vertex AI, their key checks and the
Pinecone index kept their SDKs' own HTTP clients, which resolve names again at connect time
and go anywhere. Their addresses are the operator's settings (OPENAI_BASE_URL,
ANTHROPIC_BASE_URL, VERTEX_API_ENDPOINT, PINECONE_INDEX_HOST) or the vendors' own, but one
guard for every outbound call means one place that decides where the server may connect. Now
each SDK is handed a client or transport built by backend/net/egress.py. Tried for each path,
against local servers, by IP and by a name that resolves to loopback: with
OPERATOR_EGRESS_PRIVATE=false the call fails and no request reaches the server (the key never
leaves); with it true (the default: local model servers) the call reaches it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from backend.providers.base import ChatRequest, ProviderError
from backend.providers.credentials import ProviderCredentials
from backend.providers.key_check import check_key
from backend.providers.registry import get_provider
from backend.search.vector_pinecone import from_settings as pinecone_index
from backend.search.vectors import VectorIndexError
from backend.settings import Settings
from tests.backend.providers.helpers import collect, make_settings
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.fake_pinecone_server import FakePinecone
from tests.support.vertex_server import VertexServer

KEY = "sk-operator-key-0123456789"


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def vertex() -> Iterator[VertexServer]:
    server = VertexServer().start()
    yield server
    server.stop()


@pytest.fixture
def pinecone() -> Iterator[FakePinecone]:
    server = FakePinecone(api_key=KEY).start()
    yield server
    server.stop()


def _spellings(url: str) -> list[str]:
    """The server's address as an IP and as a name that resolves to loopback."""
    return [url, url.replace("127.0.0.1", "localhost")]


def _settings(private: bool, **values: Any) -> Settings:
    return make_settings(operator_egress_private=private, **values)


# model id, the server it talks to, and the settings that point it there
FAMILIES: dict[str, tuple[str, Any]] = {
    "openai:gpt-4o-mini": (
        "llm",
        lambda base: {"openai_base_url": base + "/v1", "openai_api_key": KEY},
    ),
    "anthropic:claude-haiku-4-5": (
        "llm",
        lambda base: {"anthropic_base_url": base, "anthropic_api_key": KEY},
    ),
    "vertexai:gemini-2.5-flash": (
        "vertex",
        lambda base: {
            "google_cloud_project": "proj",
            "vertex_api_endpoint": base,
            "vertex_access_token": "test-access-token",
        },
    ),
    "vertexai:claude-sonnet-4-5@20250929": (
        "vertex",
        lambda base: {
            "google_cloud_project": "proj",
            "vertex_location": "us-east5",
            "vertex_api_endpoint": base,
            "vertex_access_token": "test-access-token",
        },
    ),
}


@pytest.mark.parametrize("model_id", list(FAMILIES))
async def test_each_sdk_provider_connects_through_the_guard(
    model_id: str, llm: FakeLLMServer, vertex: VertexServer, record_property: Any
) -> None:
    which, pointed = FAMILIES[model_id]
    server: Any = llm if which == "llm" else vertex
    request = ChatRequest(model=model_id.split(":", 1)[1], prompt="hi", max_tokens=8)
    for base in _spellings(server.url):
        refused = await collect(get_provider(model_id, _settings(False, **pointed(base))), request)
        assert refused.error is not None and not refused.chunks, base
    assert server.requests == []  # nothing reached the server: the key never left
    allowed = await collect(get_provider(model_id, _settings(True, **pointed(server.url))), request)
    assert allowed.error is None, allowed.error
    assert allowed.chunks and server.requests
    record_property("cases_tried", 3)


@pytest.mark.parametrize("family", ["openai", "anthropic"])
async def test_the_key_checks_connect_through_the_guard(
    family: str, llm: FakeLLMServer, record_property: Any
) -> None:
    _, pointed = FAMILIES["openai:gpt-4o-mini" if family == "openai" else "anthropic:claude-haiku-4-5"]
    credentials = ProviderCredentials(api_key=KEY)
    for base in _spellings(llm.url):
        with pytest.raises(ProviderError):
            await check_key(family, credentials, _settings(False, **pointed(base)), 2.0)
    assert llm.requests == []
    # The local server may not list models the SDK's way: reaching it is the point.
    with contextlib.suppress(ProviderError):
        await check_key(family, credentials, _settings(True, **pointed(llm.url)), 2.0)
    assert llm.requests
    record_property("cases_tried", 3)


async def test_pinecone_connects_through_the_guard(pinecone: FakePinecone, record_property: Any) -> None:
    for host in _spellings(pinecone.host):
        index = pinecone_index(_settings(False, pinecone_api_key=KEY, pinecone_index_host=host))
        with pytest.raises(VectorIndexError):
            await index.open("e5", 4)
    assert pinecone.requests == []
    index = pinecone_index(_settings(True, pinecone_api_key=KEY, pinecone_index_host=pinecone.host))
    await index.open("e5", 4)
    assert pinecone.requests
    record_property("cases_tried", 3)
