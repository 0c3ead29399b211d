"""The shared adapter's pure parts: text extraction, error mapping, usage fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from backend.providers.base import (
    AuthenticationFailed,
    BadRequest,
    ChatRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamEnd,
    TextChunk,
)
from backend.providers.langchain_adapter import (
    content_text,
    map_exception,
    retry_after_seconds,
    status_error,
    stream_chat_model,
)


def test_content_text_handles_strings_and_content_blocks() -> None:
    assert content_text("plain") == "plain"
    blocks = [
        {"type": "thinking", "thinking": "hmm"},
        {"type": "text", "text": "Hello", "index": 0},
        "!",
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
        {"type": "text", "text": " there"},
    ]
    assert content_text(blocks) == "Hello! there"
    assert content_text([]) == ""


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds({"Retry-After": later}) or 0) <= 31
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, AuthenticationFailed),
        (403, AuthenticationFailed),
        (400, BadRequest),
        (404, BadRequest),
        (408, ProviderTimeout),
        (429, RateLimited),
        (500, ProviderUnavailable),
        (529, ProviderUnavailable),
        (-1, ProviderUnavailable),
    ],
)
def test_status_error_mapping(status: int, expected: type[ProviderError]) -> None:
    assert type(status_error(status, "msg")) is expected


def test_map_exception_rules_then_transport_fallbacks() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/x")
    assert isinstance(map_exception(httpx.ReadTimeout("slow", request=request), []), ProviderTimeout)
    assert isinstance(map_exception(httpx.ConnectError("refused", request=request), []), ProviderUnavailable)
    assert isinstance(map_exception(ConnectionRefusedError("refused"), []), ProviderUnavailable)
    rules = [(KeyError, lambda exc: BadRequest("custom"))]
    assert map_exception(KeyError("k"), rules).message == "custom"
    other = map_exception(ValueError("odd"), rules)
    assert type(other) is ProviderError and other.message == "ValueError: odd"


def test_map_exception_knows_the_httpx2_fork() -> None:
    httpx2 = pytest.importorskip("httpx2")  # the openai/anthropic SDKs' HTTP client
    assert isinstance(map_exception(httpx2.ReadTimeout("slow"), []), ProviderTimeout)
    assert isinstance(map_exception(httpx2.RemoteProtocolError("cut"), []), ProviderUnavailable)


async def test_usage_is_estimated_when_the_model_reports_none() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three four")]))
    request = ChatRequest(model="fake", prompt="12345678", system_prompt="abcd")
    items = [item async for item in stream_chat_model(model, request)]
    text = "".join(i.text for i in items if isinstance(i, TextChunk))
    end = items[-1]
    assert text == "one two three four"
    assert isinstance(end, StreamEnd)
    assert (end.usage.input_tokens, end.usage.output_tokens) == (3, 5)  # ceil(12/4), ceil(18/4)
