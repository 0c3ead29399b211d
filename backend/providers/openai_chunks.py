"""The OpenAI SDK's chat completions for ChatOpenAI, with a stream's chunks left as the server's dicts.

ChatOpenAI streams through `async_client.create(**payload)` and turns every chunk into a dict
(`chunk.model_dump()` unless it is one already) before reading it. The SDK's `create` first
walks the whole request through its typed-dict transform (0.36 ms of CPU before the request
leaves; for chat completions' parameters it changes nothing: they have no aliases or formats)
and builds a typed `ChatCompletionChunk` out of every chunk it reads (0.11-0.15 ms each), which
LangChain dumps straight back: in one process against a local server, 27 ms of the event loop's
CPU for a 100-chunk answer through ChatOpenAI, 10 ms with the chunks left as dicts; 0.9 ms less
before the first words (bench/RESULTS.md, ttft22k).

`RawChunkCompletions` posts a streamed request as `create` does (the same path, headers, auth,
`extra_*` options and timeout; the same `AsyncStream`, so an error event mid-stream, a status
error and a cancellation behave the same) with `cast_to=object`, which the SDK hands back
unparsed. Anything else (a request that does not stream, `with_raw_response`) goes to the SDK's
own resource unchanged.
"""

from __future__ import annotations

from typing import Any, cast

import openai
from langchain_openai import ChatOpenAI

# create()'s arguments that are request options, not body fields (openai's make_request_options).
_REQUEST_OPTIONS = {"extra_headers": "headers", "extra_query": "params", "extra_body": "extra_json"}


class RawChunkCompletions:
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
        request_options = cast(openai.RequestOptions, options)
        return await self._client.post(
            "/chat/completions",
            body=payload,
            cast_to=object,
            options=request_options,
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._typed, name)


def with_raw_chunks(model: ChatOpenAI) -> ChatOpenAI:
    """`model`, its streams' chunks read as dicts (its clients as LangChain built them)."""
    model.async_client = RawChunkCompletions(model.root_async_client)
    return model
