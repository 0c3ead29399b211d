"""OpenAI chat models (api.openai.com, or a proxy via OPENAI_BASE_URL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
import openai
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from backend.net.egress import shared_guarded_client
from backend.providers.base import AuthenticationFailed, ChatRequest, StreamItem
from backend.providers.langchain_adapter import ErrorRule, sdk_error_rules, stream_chat_model
from backend.providers.model_cache import ChatModelCache, options_key
from backend.providers.wire_options import openai_kwargs
from backend.settings import Settings

ERROR_RULES: list[ErrorRule] = sdk_error_rules(openai)
_MODELS: ChatModelCache[ChatOpenAI] = ChatModelCache()  # OpenAI's and OpenAI-compatible servers'


@dataclass(frozen=True, slots=True)
class OpenAIConnection:
    """Where and as whom to call; kept apart from the wire format (as pydantic-ai does)."""

    api_key: str = field(repr=False)
    base_url: str | None = None  # None: the SDK default
    timeout: float = 120.0
    allow_private: bool = True  # OPERATOR_EGRESS_PRIVATE: the operator's OPENAI_BASE_URL may be local

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIConnection:
        return cls(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url or None,
            timeout=settings.provider_timeout_seconds,
            allow_private=settings.operator_egress_private,
        )


def chat_openai(
    model: str,
    api_key: str,
    base_url: str | None,
    timeout: float,
    request: ChatRequest,
    http_client: httpx2.AsyncClient,
) -> ChatOpenAI:
    """The ChatOpenAI for this request's connection and parameters; shared with the
    OpenAI-compatible family.

    The HTTP client is the egress guard's shared one (backend/net/egress.py), kept per
    setting like LangChain's own cache. The model is kept for the next request with the same
    connection and parameters (backend/providers/model_cache.py): the parameters go through
    ChatOpenAI's own validation (which drops what a model does not take) as they always did.
    Its streams' chunks stay the server's dicts (`RawChunkCompletions`).
    """
    options = openai_kwargs(request.options)
    key = (model, api_key, base_url, timeout, request.temperature, request.max_tokens, request.seed)
    return _MODELS.get(
        (*key, options_key(options), http_client),
        lambda: _with_raw_chunks(
            ChatOpenAI(
                model=model,
                api_key=SecretStr(api_key),
                base_url=base_url,
                timeout=timeout,
                max_retries=0,  # retry policy belongs to the worker
                # The worker's watchdog bounds a silent stream (execution/provider_call.py); LangChain's
                # own per-chunk timeout wraps every chunk in asyncio.wait_for: a task and a loop turn each.
                stream_chunk_timeout=None,
                stream_usage=True,  # ask for the final usage chunk (stream_options.include_usage)
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                seed=request.seed,
                http_async_client=http_client,
                **options,
            )
        ),
    )


# create()'s arguments that are request options, not body fields (the SDK's make_request_options).
_REQUEST_OPTIONS = {"extra_headers": "headers", "extra_query": "params", "extra_body": "extra_json"}


class RawChunkCompletions:
    """The SDK's chat completions for ChatOpenAI, a stream's chunks left as the server's dicts.

    ChatOpenAI streams through `async_client.create(**payload)` and turns every chunk into a
    dict (`chunk.model_dump()` unless it is one already) before reading it. The SDK's `create`
    first walks the request through its typed-dict transform (0.36 ms of CPU before the request
    leaves; for chat completions' parameters it changes nothing: they have no aliases or
    formats), and builds a typed `ChatCompletionChunk` out of every chunk it reads (0.11-0.15 ms
    each), which LangChain dumps straight back. Through ChatOpenAI, in one process against a
    local server (bench/provider_layers.py): 2.7 ms of the event loop's CPU to the first text and
    21.5 ms for a 100-chunk answer with the typed chunks, 2.0 and 8.2 ms without.

    A streamed request is posted as `create` posts it (the same path, headers, auth, `extra_*`
    options and timeout, on the same client: the egress guard's) into the same `AsyncStream`
    (an error event mid-stream, a status error and a cancellation behave the same), with
    `cast_to=object`, which the SDK hands back unparsed. Anything else (a request that does not
    stream, `with_raw_response`) goes to the SDK's own resource unchanged.
    """

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client
        self._typed = client.chat.completions

    async def create(self, **payload: Any) -> Any:
        if not payload.get("stream"):
            return await self._typed.create(**payload)
        options: dict[str, Any] = {"security": {"bearer_auth": True}}  # as create() sends it
        for argument, option in _REQUEST_OPTIONS.items():
            if (value := payload.pop(argument, None)) is not None:
                options[option] = value
        if "timeout" in payload:
            options["timeout"] = payload.pop("timeout")
        return await self._client.post(
            "/chat/completions",
            body=payload,
            cast_to=object,
            options=cast(openai.RequestOptions, options),
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._typed, name)


def _with_raw_chunks(model: ChatOpenAI) -> ChatOpenAI:
    """`model`, its streams' chunks read as dicts (its clients as LangChain built them)."""
    model.async_client = RawChunkCompletions(model.root_async_client)
    return model


class OpenAIProvider:
    def __init__(self, connection: OpenAIConnection) -> None:
        self.connection = connection

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        conn = self.connection
        if not conn.api_key:
            raise AuthenticationFailed("OPENAI_API_KEY is not set")
        client = shared_guarded_client(conn.allow_private, conn.timeout)
        model = chat_openai(request.model, conn.api_key, conn.base_url, conn.timeout, request, client)
        async for item in stream_chat_model(model, request, ERROR_RULES):
            yield item


def from_settings(settings: Settings) -> OpenAIProvider:
    return OpenAIProvider(OpenAIConnection.from_settings(settings))
