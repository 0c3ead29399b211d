"""Anthropic Claude models through the Messages API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import anthropic
from langchain_anthropic import ChatAnthropic
from pydantic import Field

from backend.net.egress import shared_guarded_client
from backend.providers.base import AuthenticationFailed, ChatRequest, StreamItem
from backend.providers.langchain_adapter import ErrorRule, sdk_error_rules, stream_chat_model
from backend.providers.model_cache import ChatModelCache, options_key
from backend.providers.wire_options import claude_model_kwargs
from backend.settings import Settings

ERROR_RULES: list[ErrorRule] = sdk_error_rules(anthropic)


@dataclass(frozen=True, slots=True)
class AnthropicConnection:
    api_key: str = field(repr=False)
    base_url: str | None = None  # None: the SDK default; tests point it at a local server
    timeout: float = 120.0
    allow_private: bool = True  # OPERATOR_EGRESS_PRIVATE: the operator's ANTHROPIC_BASE_URL may be local

    @classmethod
    def from_settings(cls, settings: Settings) -> AnthropicConnection:
        return cls(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url or None,
            timeout=settings.provider_timeout_seconds,
            allow_private=settings.operator_egress_private,
        )


class GuardedChatAnthropic(ChatAnthropic):
    """ChatAnthropic whose SDK client connects through the egress guard (LangChain's own
    builds a plain HTTP client and takes none from outside)."""

    egress_private: bool = Field(default=True, exclude=True)

    @cached_property
    def _async_client(self) -> Any:
        timeout = self.default_request_timeout or 600.0
        http_client = shared_guarded_client(self.egress_private, float(timeout))
        return anthropic.AsyncClient(**self._client_params, http_client=http_client)


_MODELS: ChatModelCache[GuardedChatAnthropic] = ChatModelCache()


class AnthropicProvider:
    def __init__(self, connection: AnthropicConnection) -> None:
        self.connection = connection

    def chat_model(self, request: ChatRequest) -> GuardedChatAnthropic:
        """The model for this request's connection and parameters, kept for the next one with
        the same (backend/providers/model_cache.py); its SDK client is built on first use, on
        this event loop's shared guarded HTTP client, which is part of the key."""
        conn = self.connection
        kwargs: dict[str, Any] = claude_model_kwargs(request, conn.timeout)
        if conn.base_url:
            kwargs["base_url"] = conn.base_url
        http_client = shared_guarded_client(conn.allow_private, float(conn.timeout))
        key = (conn.api_key, conn.allow_private)
        # The Messages API has no seed, penalties or JSON mode: the catalog offers none of them.
        return _MODELS.get(
            (*key, options_key(kwargs), http_client),
            lambda: GuardedChatAnthropic(egress_private=conn.allow_private, api_key=conn.api_key, **kwargs),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        if not self.connection.api_key:
            raise AuthenticationFailed("ANTHROPIC_API_KEY is not set")
        async for item in stream_chat_model(self.chat_model(request), request, ERROR_RULES):
            yield item


def from_settings(settings: Settings) -> AnthropicProvider:
    return AnthropicProvider(AnthropicConnection.from_settings(settings))
