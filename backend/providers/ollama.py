"""Local models served by Ollama (/api/chat, NDJSON streaming)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import ollama
from langchain_ollama import ChatOllama

from backend.net.egress import shared_guarded_transport
from backend.providers.base import ChatRequest, ProviderError, StreamItem
from backend.providers.langchain_adapter import ErrorRule, status_error, stream_chat_model
from backend.providers.model_cache import ChatModelCache, options_key
from backend.providers.wire_options import ollama_kwargs
from backend.settings import Settings


def _response_error(exc: Any) -> ProviderError:
    # status_code is -1 for an {"error": ...} line inside a 200 stream -> unavailable.
    return status_error(exc.status_code, f"Ollama: {exc.error}")


# Connection failures surface as builtin ConnectionError (ollama wraps
# httpx.ConnectError); the adapter's transport fallback maps those.
ERROR_RULES: list[ErrorRule] = [(ollama.ResponseError, _response_error)]
_MODELS: ChatModelCache[ChatOllama] = ChatModelCache()


@dataclass(frozen=True, slots=True)
class OllamaConnection:
    base_url: str = "http://127.0.0.1:11434"
    timeout: float = 120.0
    allow_private: bool = True  # OPERATOR_EGRESS_PRIVATE: Ollama usually runs on this machine

    @classmethod
    def from_settings(cls, settings: Settings) -> OllamaConnection:
        return cls(
            base_url=settings.ollama_base_url.rstrip("/"),
            timeout=settings.provider_timeout_seconds,
            allow_private=settings.operator_egress_private,
        )


class OllamaProvider:
    def __init__(self, connection: OllamaConnection) -> None:
        self.connection = connection

    def chat_model(self, request: ChatRequest) -> ChatOllama:
        """The model for this request's connection and parameters, kept for the next one with
        the same (backend/providers/model_cache.py). Building one cost 52 ms of the event loop's
        CPU (Ollama's sync and async clients each load the CA bundle into a new TLS context),
        and its new transport opened a new connection for every run. The key names this event
        loop's shared guarded transport."""
        conn = self.connection
        options = ollama_kwargs(request.options)
        transport = shared_guarded_transport(conn.allow_private)
        key = (
            request.model,
            conn.base_url,
            conn.timeout,
            request.temperature,
            request.max_tokens,
            request.seed,
        )
        return _MODELS.get(
            (*key, options_key(options), transport),
            lambda: ChatOllama(
                model=request.model,
                base_url=conn.base_url,
                # Ollama's client takes httpx's arguments: its connections go through the egress guard.
                async_client_kwargs={"transport": transport},
                client_kwargs={"timeout": conn.timeout},
                temperature=request.temperature,
                num_predict=request.max_tokens,
                seed=request.seed,
                **options,
            ),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        async for item in stream_chat_model(self.chat_model(request), request, ERROR_RULES):
            yield item


def from_settings(settings: Settings) -> OllamaProvider:
    return OllamaProvider(OllamaConnection.from_settings(settings))
