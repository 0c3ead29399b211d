"""ChatOpenAI with raw chunk dicts: the same request on the wire and the same chunks as the SDK's
typed `create`, only without the typed models in between."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from backend.net.egress import shared_guarded_client
from backend.providers.base import ChatRequest
from backend.providers.langchain_adapter import chat_messages
from backend.providers.openai import RawChunkCompletions, chat_openai
from backend.providers.wire_options import openai_kwargs
from backend.run_options import RunOptions
from tests.support.fake_llm_server import FakeLLMServer

PATH = "/v1/chat/completions"
# Differ from one request to the next whatever sends them.
VOLATILE_HEADERS = {"content-length", "x-stainless-retry-count", "x-stainless-read-timeout"}


def typed_model(base_url: str, request: ChatRequest, **options: Any) -> ChatOpenAI:
    """ChatOpenAI as LangChain builds it: the SDK's typed chat completions."""
    return ChatOpenAI(
        model=request.model,
        api_key=SecretStr("sk-test"),
        base_url=base_url,
        timeout=30.0,
        max_retries=0,
        stream_chunk_timeout=None,
        stream_usage=True,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        seed=request.seed,
        http_async_client=shared_guarded_client(True, 30.0),
        **options,
    )


async def stream_both(
    server: FakeLLMServer, request: ChatRequest, **options: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The message chunks of the typed model, then of ours, as dicts (ids aside: one per run)."""
    base_url = f"{server.url}/v1"
    ours = chat_openai(request.model, "sk-test", base_url, 30.0, request, shared_guarded_client(True, 30.0))
    assert isinstance(ours.async_client, RawChunkCompletions)
    out = []
    for model in (typed_model(base_url, request, **options), ours):
        chunks = [chunk async for chunk in model.astream(chat_messages(request))]
        out.append([chunk.model_dump(exclude={"id"}) for chunk in chunks])
    return out[0], out[1]


def last_two_requests(server: FakeLLMServer) -> tuple[Any, Any]:
    typed, ours = server.requests[-2], server.requests[-1]
    assert typed.path == ours.path == PATH
    return typed, ours


@pytest.mark.parametrize(
    "options",
    [
        RunOptions(),
        RunOptions(top_p=0.5, stop=("END",), presence_penalty=0.25, response_format="json"),
    ],
)
async def test_same_request_and_chunks_as_the_typed_sdk(
    fake_server: FakeLLMServer, options: RunOptions
) -> None:
    request = ChatRequest(
        model="gpt-4o-mini", prompt="Say hello", system_prompt="Be brief.", seed=7, options=options
    )
    typed_chunks, our_chunks = await stream_both(fake_server, request, **openai_kwargs(options))

    assert our_chunks == typed_chunks
    assert "".join(str(c["content"]) for c in our_chunks) == "Hello, world! Bye."
    assert next(c["usage_metadata"] for c in our_chunks if c["usage_metadata"])["output_tokens"] == 5
    typed, ours = last_two_requests(fake_server)
    assert ours.body == typed.body
    assert {k: v for k, v in ours.headers.items() if k not in VOLATILE_HEADERS} == {
        k: v for k, v in typed.headers.items() if k not in VOLATILE_HEADERS
    }
    if options.response_format == "json":
        assert ours.body["response_format"] == {"type": "json_object"}  # extra_body, merged as create does


async def test_an_error_event_mid_stream_raises_as_from_the_typed_sdk(fake_server: FakeLLMServer) -> None:
    fake_server.mode = "error_event"
    request = ChatRequest(model="gpt-4o-mini", prompt="Hi")
    model = chat_openai(
        request.model, "k", f"{fake_server.url}/v1", 30.0, request, shared_guarded_client(True, 30.0)
    )
    texts: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        async for chunk in model.astream(chat_messages(request)):
            texts.append(str(chunk.content))
    assert type(raised.value) is openai.APIError
    assert "".join(texts) == "Hello, wor"
