"""Turns any LangChain chat model's async stream into our `StreamItem`s.

Provider modules only build the LangChain model (connection + request
parameters) and pass a table of error rules; this module owns the parts that
must behave the same for every provider: message building, text extraction
(plain strings or Anthropic-style content blocks), usage accumulation,
finish-reason normalisation and mapping SDK exceptions to `ProviderError`s.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.ai import UsageMetadata, add_usage

from backend.catalog import estimate_tokens
from backend.providers.base import (
    AuthenticationFailed,
    BadRequest,
    ChatRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamEnd,
    StreamItem,
    TextChunk,
    Usage,
)
from backend.providers.wire_options import human_content

# (exception class, converter); the first rule whose class matches wins, so
# list subclasses before their bases (e.g. APITimeoutError before APIConnectionError).
ErrorRule = tuple[type[BaseException], Callable[[Any], ProviderError]]

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "tool_use": "tool_calls",
}
_MAX_MESSAGE = 500
PROMPT_BLOCKED = "prompt_blocked:"  # finish reason prefix: "prompt_blocked:safety"


async def stream_chat_model(
    model: BaseChatModel, request: ChatRequest, error_rules: Sequence[ErrorRule] = ()
) -> AsyncIterator[StreamItem]:
    """Stream `request` through `model`, ending with exactly one `StreamEnd`."""
    messages = chat_messages(request)

    usage: UsageMetadata | None = None
    finish_reason = "stop"
    output_chars = 0
    chunks = model.astream(messages)
    try:
        async for chunk in chunks:
            text = content_text(chunk.content)
            if text:
                output_chars += len(text)
                yield TextChunk(text)
            chunk_usage = getattr(chunk, "usage_metadata", None)
            if chunk_usage:
                # Summing mirrors AIMessageChunk.__add__: OpenAI reports usage once
                # at the end, Anthropic splits input/output over two events.
                usage = chunk_usage if usage is None else add_usage(usage, chunk_usage)
            finish_reason = _finish_reason(chunk.response_metadata) or finish_reason
    except ProviderError:
        raise
    except Exception as exc:
        raise map_exception(exc, error_rules) from exc
    finally:
        # Close the HTTP response now, not at garbage collection, if the
        # consumer stops early or the stream failed.
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()

    if usage is None:
        # Some OpenAI-compatible servers ignore stream_options.include_usage.
        result = Usage(
            input_tokens=estimate_tokens(request.input_text),
            output_tokens=math.ceil(output_chars / 4),
        )
    else:
        result = Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
    yield StreamEnd(usage=result, finish_reason=finish_reason)


def chat_messages(request: ChatRequest) -> list[BaseMessage]:
    """The system prompt, each earlier turn as a user and an assistant message, then the prompt
    (with the request's images, as multimodal content)."""
    messages: list[BaseMessage] = []
    if request.system_prompt:
        messages.append(SystemMessage(content=request.system_prompt))
    for question, answer in request.history:
        messages.append(HumanMessage(content=question))
        messages.append(AIMessage(content=answer))
    messages.append(HumanMessage(content=human_content(request.prompt, request.images)))
    return messages


def content_text(content: str | list[Any]) -> str:
    """Text of a chunk's content: a string, or a list of content blocks."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type", "text") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _finish_reason(metadata: Mapping[str, Any]) -> str | None:
    feedback = metadata.get("prompt_feedback")
    if isinstance(feedback, Mapping) and (blocked := feedback.get("block_reason")):
        # Gemini refused the prompt itself: no candidate, so no finish reason; keep why.
        return f"{PROMPT_BLOCKED}{getattr(blocked, 'value', blocked)}".lower()
    for key in ("finish_reason", "stop_reason", "done_reason"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            lowered = value.lower()
            return _FINISH_REASONS.get(lowered, lowered)
    return None


def map_exception(exc: BaseException, rules: Sequence[ErrorRule]) -> ProviderError:
    """The typed error for `exc`: provider rules first, then transport-level fallbacks."""
    for exc_type, convert in rules:
        if isinstance(exc, exc_type):
            return convert(exc)
    message = message_of(exc)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError) or _is_httpx(exc, "TimeoutException"):
        return ProviderTimeout(message)
    if isinstance(exc, ConnectionError | OSError) or _is_httpx(exc, "TransportError"):
        return ProviderUnavailable(message)
    return ProviderError(f"{type(exc).__name__}: {message}")


def _is_httpx(exc: BaseException, class_name: str) -> bool:
    """isinstance check against httpx *and* its fork httpx2 (used by the openai and
    anthropic SDKs), which has a separate exception hierarchy; by name, so no
    import of a package that may not be installed."""
    return any(
        cls.__name__ == class_name and cls.__module__.split(".")[0] in ("httpx", "httpx2")
        for cls in type(exc).__mro__
    )


def status_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> ProviderError:
    """Map an HTTP status (or a mid-stream error with no status) to a typed error."""
    if status in (401, 403):
        return AuthenticationFailed(message)
    if status == 429:
        return RateLimited(message, retry_after=retry_after_seconds(headers or {}))
    if status == 408:
        return ProviderTimeout(message)
    if 400 <= status < 500:
        return BadRequest(message)
    return ProviderUnavailable(message)  # 5xx, 529 overloaded, or an error event mid-stream


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or OpenAI's retry-after-ms."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def sdk_error_rules(sdk: ModuleType) -> list[ErrorRule]:
    """Rules for the openai and anthropic SDKs, which share their exception names."""

    def from_status(exc: Any) -> ProviderError:
        return status_error(exc.status_code, message_of(exc), exc.response.headers)

    return [
        (sdk.APITimeoutError, lambda exc: ProviderTimeout(message_of(exc))),
        (sdk.APIConnectionError, lambda exc: ProviderUnavailable(message_of(exc))),
        (sdk.APIStatusError, from_status),
        # An `error` event inside an otherwise successful (200) stream.
        (sdk.APIError, lambda exc: ProviderUnavailable(message_of(exc))),
    ]


def message_of(exc: BaseException) -> str:
    """An exception's text for users, cut to a readable length."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
