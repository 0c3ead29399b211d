"""Chat models are kept between runs per connection and parameters, and nothing a run sends
changes because its model was built for an earlier one."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from backend.net.egress import shared_guarded_client
from backend.providers.anthropic import AnthropicConnection, AnthropicProvider
from backend.providers.base import ChatRequest
from backend.providers.model_cache import ChatModelCache, forget_models
from backend.providers.ollama import OllamaConnection, OllamaProvider
from backend.providers.openai import OpenAIConnection, OpenAIProvider, chat_openai
from backend.run_options import RunOptions
from tests.backend.providers.helpers import collect
from tests.support.fake_llm_server import FakeLLMServer

PATH = "/v1/chat/completions"
REQUEST = ChatRequest(model="gpt-4o-mini", prompt="Say hello", temperature=0.25, max_tokens=77, seed=42)


def test_a_model_is_built_once_per_key_and_the_least_recently_used_goes_first() -> None:
    cache: ChatModelCache[object] = ChatModelCache(max_entries=2)
    built: list[str] = []

    def build(name: str) -> object:
        built.append(name)
        return object()

    a = cache.get("a", lambda: build("a"))
    assert cache.get("a", lambda: build("a")) is a
    cache.get("b", lambda: build("b"))
    cache.get("a", lambda: build("a"))  # "a" used last: "b" is the one to go
    cache.get("c", lambda: build("c"))
    assert len(cache) == 2
    assert cache.get("a", lambda: build("a")) is a
    cache.get("b", lambda: build("b"))
    assert built == ["a", "b", "c", "b"]
    forget_models()  # a stored key changed: every cache starts again
    assert len(cache) == 0


async def test_the_same_connection_and_parameters_share_one_model() -> None:
    client = shared_guarded_client(True, 30.0)

    def model(request: ChatRequest, key: str = "sk-a", base_url: str = "http://127.0.0.1:9/v1") -> ChatOpenAI:
        return chat_openai(request.model, key, base_url, 30.0, request, client)

    first = model(REQUEST)
    assert model(replace(REQUEST, prompt="Something else entirely")) is first  # the prompt is per call
    others = [
        model(REQUEST, key="sk-b"),
        model(REQUEST, base_url="http://127.0.0.1:10/v1"),
        model(replace(REQUEST, model="gpt-4o")),
        model(replace(REQUEST, temperature=0.5)),
        model(replace(REQUEST, max_tokens=78)),
        model(replace(REQUEST, seed=None)),
        model(replace(REQUEST, options=RunOptions(stop=("END",)))),
        model(replace(REQUEST, options=RunOptions(stop=("FIN",)))),
    ]
    assert len({id(m) for m in [first, *others]}) == len(others) + 1
    assert [m.temperature for m in others[3:5]] == [0.5, 0.25]
    assert others[-1].stop == ["FIN"]


def test_another_event_loop_gets_a_model_of_its_own_http_client() -> None:
    """A client's connections belong to the loop that opened them: a model kept for one loop
    is not handed to another."""

    async def model() -> ChatOpenAI:
        return chat_openai("gpt-4o", "sk-a", None, 30.0, REQUEST, shared_guarded_client(True, 30.0))

    assert asyncio.run(model()) is not asyncio.run(model())


async def test_runs_of_a_kept_model_send_their_own_prompt_and_parameters(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    for prompt in ("First question", "Second question"):
        result = await collect(provider, replace(REQUEST, prompt=prompt))
        assert result.error is None and result.chunks
        body = fake_server.last_body(PATH)
        assert body["messages"] == [{"role": "user", "content": prompt}]
        assert (body["temperature"], body["max_completion_tokens"], body["seed"]) == (0.25, 77, 42)
    await collect(provider, replace(REQUEST, prompt="Third", temperature=0.9, seed=None))
    body = fake_server.last_body(PATH)
    assert body["temperature"] == 0.9 and "seed" not in body


async def test_anthropic_runs_share_a_kept_model_and_send_their_own_prompt(
    fake_server: FakeLLMServer,
) -> None:
    provider = AnthropicProvider(AnthropicConnection(api_key="sk-ant-test", base_url=fake_server.url))
    request = ChatRequest(model="claude-3-5-haiku", prompt="First", temperature=0.3, max_tokens=40)
    model = provider.chat_model(request)
    assert provider.chat_model(replace(request, prompt="Second")) is model
    assert provider.chat_model(replace(request, max_tokens=41)) is not model
    for prompt in ("First", "Second"):
        result = await collect(provider, replace(request, prompt=prompt))
        assert result.error is None and result.chunks
        body = fake_server.last_body("/v1/messages")
        assert body["messages"] == [{"role": "user", "content": prompt}] and body["max_tokens"] == 40


async def test_ollama_runs_share_a_kept_model_and_send_their_own_prompt_and_parameters(
    fake_server: FakeLLMServer,
) -> None:
    provider = OllamaProvider(OllamaConnection(base_url=fake_server.url))
    request = ChatRequest(model="llama3.2", prompt="First", temperature=0.3, max_tokens=40, seed=7)
    model = provider.chat_model(request)
    assert provider.chat_model(replace(request, prompt="Second")) is model
    others = [
        provider.chat_model(replace(request, max_tokens=41)),
        provider.chat_model(replace(request, options=RunOptions(response_format="json"))),
        OllamaProvider(OllamaConnection(base_url=fake_server.url, allow_private=False)).chat_model(request),
    ]
    assert len({id(m) for m in [model, *others]}) == 4
    for prompt, seed in (("First", 7), ("Second", 7), ("Third", None)):
        result = await collect(provider, replace(request, prompt=prompt, seed=seed))
        assert result.error is None and result.text == "Hello, world! Bye."
        body = fake_server.last_body("/api/chat")
        assert [m["content"] for m in body["messages"]] == [prompt]
        assert (body["options"]["num_predict"], body["options"].get("seed")) == (40, seed)


def test_another_event_loop_gets_an_ollama_model_of_its_own_transport() -> None:
    provider = OllamaProvider(OllamaConnection(base_url="http://127.0.0.1:9"))

    async def model() -> ChatOllama:
        return provider.chat_model(REQUEST)

    assert asyncio.run(model()) is not asyncio.run(model())
