"""The event loop's CPU for one streamed OpenAI-style call, layer by layer (target (e), issue 22).

    .venv/bin/python -m bench.provider_layers                   # 3- and 100-chunk answers, ~30 s
    .venv/bin/python -m bench.provider_layers --calls 400 --chunks 3

The API's added time to first token (bench.ttft) includes what the worker spends calling the
provider: LangChain's ChatOpenAI over the OpenAI SDK over httpx2. Here one process calls a
local OpenAI-compatible server (tests/support/fake_llm_server.py, in a thread of its own, so
its CPU is not counted; it closes each connection unless `--keep-alive`) through each layer in
turn, the layers alternating call by call, on uvloop as under Granian, and prints the loop
thread's CPU (`time.thread_time`) per call: until the first text, and for the whole answer.
Layers:

- httpx2: the request and the SSE lines parsed with json.loads on the egress guard's shared
  client (the floor: what any client must do);
- sdk typed: `AsyncOpenAI.chat.completions.create(stream=True)`, typed chunks;
- sdk raw: the same request through `RawChunkCompletions` (backend/providers/openai.py);
- ChatOpenAI typed: the provider's adapter (`stream_chat_model`) over ChatOpenAI as LangChain
  builds it (the code before RawChunkCompletions);
- ChatOpenAI raw: the same over `chat_openai`'s model (this checkout's provider path).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import uvloop
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from backend.net.egress import shared_guarded_client
from backend.providers.base import ChatRequest, TextChunk
from backend.providers.langchain_adapter import stream_chat_model
from backend.providers.openai import ERROR_RULES, RawChunkCompletions, chat_openai
from tests.support.fake_llm_server import FakeLLMServer

MODEL = "local-a"
TIMEOUT = 120.0
Call = Callable[[], Awaitable[float]]  # one call; returns the thread time at its first text


def layers(base_url: str, request: ChatRequest) -> dict[str, Call]:
    client = shared_guarded_client(True, TIMEOUT)
    sdk = openai.AsyncOpenAI(api_key="k", base_url=base_url, max_retries=0, http_client=client)
    raw_sdk = RawChunkCompletions(sdk)
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": request.temperature,
        "max_completion_tokens": request.max_tokens,
    }
    typed_model = ChatOpenAI(
        model=MODEL,
        api_key=SecretStr("k"),
        base_url=base_url,
        timeout=TIMEOUT,
        max_retries=0,
        stream_chunk_timeout=None,
        stream_usage=True,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        http_async_client=client,
    )

    async def httpx2_call() -> float:
        first = 0.0
        headers = {"Authorization": "Bearer k"}
        async with client.stream("POST", f"{base_url}/chat/completions", json=body, headers=headers) as r:
            async for line in r.aiter_lines():
                if line.startswith("data:") and line != "data: [DONE]":
                    choices = json.loads(line[5:])["choices"]
                    if not first and choices and choices[0]["delta"].get("content"):
                        first = time.thread_time()
        return first

    async def sdk_call(completions: Any) -> float:
        first = 0.0
        async with await completions.create(**body) as stream:
            async for chunk in stream:
                choices = chunk["choices"] if isinstance(chunk, dict) else chunk.choices
                if not first and choices:
                    delta = choices[0]["delta"] if isinstance(chunk, dict) else choices[0].delta
                    if (delta.get("content") if isinstance(delta, dict) else delta.content) and not first:
                        first = time.thread_time()
        return first

    async def adapter_call(model: ChatOpenAI) -> float:
        first = 0.0
        async for item in stream_chat_model(model, request, ERROR_RULES):
            if not first and isinstance(item, TextChunk):
                first = time.thread_time()
        return first

    return {
        "httpx2": httpx2_call,
        "sdk typed": lambda: sdk_call(sdk.chat.completions),
        "sdk raw": lambda: sdk_call(raw_sdk),
        "ChatOpenAI typed": lambda: adapter_call(typed_model),
        "ChatOpenAI raw": lambda: adapter_call(chat_openai(MODEL, "k", base_url, TIMEOUT, request, client)),
    }


async def measure(base_url: str, calls: int) -> dict[str, tuple[list[float], list[float]]]:
    request = ChatRequest(model=MODEL, prompt="TTFT probe")
    by_layer = layers(base_url, request)
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in by_layer}
    names = list(by_layer)
    for name in names:  # warm up: connections' code paths, LangChain's and the SDK's caches
        for _ in range(5):
            await by_layer[name]()
    for i in range(calls):
        for name in names if i % 2 == 0 else names[::-1]:
            await asyncio.sleep(0.001)  # the server's thread finishes its previous answer
            start = time.thread_time()
            first = await by_layer[name]()
            end = time.thread_time()
            out[name][0].append((first - start) * 1000.0)
            out[name][1].append((end - start) * 1000.0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.provider_layers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--calls", type=int, default=200, help="calls per layer (after 5 warm-up)")
    parser.add_argument("--chunks", default="3,100", help="answers' lengths in chunks, comma-separated")
    parser.add_argument(
        "--keep-alive", action="store_true", help="the server keeps connections open: each layer reuses one"
    )
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}; loop thread CPU per call, median (p25-p75), ms")
    for n in (int(x) for x in args.chunks.split(",")):
        server = FakeLLMServer(reply=[f" w{i}" for i in range(n)], keep_alive=args.keep_alive).start()
        try:
            results = uvloop.run(measure(f"{server.url}/v1", args.calls))
        finally:
            server.stop()
        print(f"{n} chunks a call, {args.calls} calls a layer, alternating:")
        print(f"  {'layer':18s} {'to the first text':>24s} {'whole call':>24s}")
        for name, (first, whole) in results.items():
            print(f"  {name:18s} {_quartiles(first):>24s} {_quartiles(whole):>24s}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


def _quartiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4)
    return f"{statistics.median(values):.3f} ({q[0]:.2f}-{q[2]:.2f})"


if __name__ == "__main__":
    raise SystemExit(main())
