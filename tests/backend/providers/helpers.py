"""Shared helpers for provider tests: isolated Settings and stream collection."""

from __future__ import annotations

import socket
from typing import Any

from backend.providers.base import ChatProvider, ChatRequest, ProviderError, StreamEnd, TextChunk
from backend.settings import Settings


def unused_url() -> str:
    """An http://127.0.0.1 URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_settings(**overrides: Any) -> Settings:
    """Settings independent of the developer's environment and .env file."""
    values: dict[str, Any] = {
        "openai_api_key": "",
        "openai_base_url": "",
        "anthropic_api_key": "",
        "anthropic_base_url": "",
        "google_cloud_project": "",
        "ollama_base_url": unused_url(),
        "openai_compatible_endpoints": {},
        "simulated_enabled": True,
        "provider_timeout_seconds": 5.0,
        "provider_probe_timeout_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class Collected:
    """What one stream produced: the text chunks, then a StreamEnd or an error."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.end: StreamEnd | None = None
        self.error: ProviderError | None = None

    @property
    def text(self) -> str:
        return "".join(self.chunks)


async def collect(provider: ChatProvider, request: ChatRequest) -> Collected:
    result = Collected()
    try:
        async for item in provider.stream(request):
            assert result.end is None, "nothing may follow StreamEnd"
            if isinstance(item, TextChunk):
                result.chunks.append(item.text)
            else:
                result.end = item
    except ProviderError as exc:
        result.error = exc
    return result
