"""A run's optional parameters and images in each provider's wire format, against local servers
speaking the providers' protocols (tests/support): what the real client stacks send."""

from __future__ import annotations

import base64

from backend.providers.anthropic import AnthropicConnection, AnthropicProvider
from backend.providers.base import ChatRequest
from backend.providers.ollama import OllamaConnection, OllamaProvider
from backend.providers.openai import OpenAIConnection, OpenAIProvider
from backend.providers.openai_compatible import EndpointConnection, OpenAICompatibleProvider
from backend.providers.registry import get_provider
from backend.providers.vertexai import VertexAIProvider, VertexConnection
from backend.run_options import ImageData, RunOptions
from tests.backend.providers.helpers import collect, make_settings
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.vertex_server import VertexServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24  # the type is all the providers look at here
PNG_B64 = base64.b64encode(PNG).decode()
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
SAMPLING = RunOptions(top_p=0.5, stop=("END", "\n\n"), presence_penalty=0.4, frequency_penalty=-0.3)
IMAGE = (ImageData("image/png", PNG),)


def request(model: str, options: RunOptions, images: tuple[ImageData, ...] = ()) -> ChatRequest:
    return ChatRequest(
        model=model, prompt="Describe", temperature=0.2, max_tokens=50, seed=7, options=options, images=images
    )


async def test_openai_sends_sampling_options_and_an_image_url_block(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    result = await collect(provider, request("gpt-4o", SAMPLING, IMAGE))
    assert result.error is None, result.error
    body = fake_server.last_body("/v1/chat/completions")
    assert (body["top_p"], body["stop"], body["seed"]) == (0.5, ["END", "\n\n"], 7)
    assert (body["presence_penalty"], body["frequency_penalty"]) == (0.4, -0.3)
    assert "response_format" not in body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            ],
        }
    ]


async def test_openai_json_mode_and_json_schema(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    await collect(provider, request("gpt-4o", RunOptions(response_format="json")))
    assert fake_server.last_body("/v1/chat/completions")["response_format"] == {"type": "json_object"}
    result = await collect(
        provider, request("gpt-4o", RunOptions(response_format="json_schema", json_schema=SCHEMA))
    )
    assert result.error is None, result.error
    assert fake_server.last_body("/v1/chat/completions")["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": False},
    }


async def test_unset_options_send_nothing_new(fake_server: FakeLLMServer) -> None:
    provider = OpenAIProvider(OpenAIConnection(api_key="sk-test", base_url=f"{fake_server.url}/v1"))
    await collect(provider, request("gpt-4o", RunOptions()))
    body = fake_server.last_body("/v1/chat/completions")
    for key in ("top_p", "stop", "presence_penalty", "frequency_penalty", "response_format"):
        assert key not in body
    assert body["messages"] == [{"role": "user", "content": "Describe"}]


async def test_openai_compatible_endpoint_gets_the_same_wire(fake_server: FakeLLMServer) -> None:
    endpoint = EndpointConnection(name="lab", base_url=f"{fake_server.url}/v1")
    provider = OpenAICompatibleProvider({"lab": endpoint})
    options = RunOptions(top_p=0.9, stop=("###",), response_format="json")
    result = await collect(provider, request("lab/qwen", options))
    assert result.error is None, result.error
    body = fake_server.last_body("/v1/chat/completions")
    assert (body["model"], body["top_p"], body["stop"]) == ("qwen", 0.9, ["###"])
    assert body["response_format"] == {"type": "json_object"}


async def test_anthropic_sends_top_p_stop_sequences_and_a_base64_image(fake_server: FakeLLMServer) -> None:
    provider = AnthropicProvider(AnthropicConnection(api_key="sk-ant-test", base_url=fake_server.url))
    result = await collect(provider, request("claude-3-5-haiku", RunOptions(top_p=0.5, stop=("END",)), IMAGE))
    assert result.error is None, result.error
    body = fake_server.last_body("/v1/messages")
    assert (body["top_p"], body["stop_sequences"]) == (0.5, ["END"])
    assert "seed" not in body
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
            ],
        }
    ]


async def test_ollama_sends_options_format_schema_and_images(fake_server: FakeLLMServer) -> None:
    provider = OllamaProvider(OllamaConnection(base_url=fake_server.url))
    options = RunOptions(top_p=0.5, stop=("END",), response_format="json_schema", json_schema=SCHEMA)
    result = await collect(provider, request("llava", options, IMAGE))
    assert result.error is None, result.error
    body = fake_server.last_body("/api/chat")
    assert (body["options"]["top_p"], body["options"]["stop"], body["options"]["seed"]) == (0.5, ["END"], 7)
    assert body["format"] == SCHEMA
    assert body["messages"][-1]["content"].strip() == "Describe"  # LangChain joins text parts by lines
    assert body["messages"][-1]["images"] == [PNG_B64]
    await collect(provider, request("llama3.2", RunOptions(response_format="json")))
    assert fake_server.last_body("/api/chat")["format"] == "json"


async def test_gemini_generation_config_and_inline_image(vertex_server: VertexServer) -> None:
    provider = VertexAIProvider(
        VertexConnection(
            project="p",
            location="us-central1",
            api_endpoint=vertex_server.url,
            access_token="test-access-token",
        )
    )
    options = RunOptions(
        top_p=0.5,
        stop=("END",),
        presence_penalty=0.4,
        frequency_penalty=0.3,
        response_format="json_schema",
        json_schema=SCHEMA,
    )
    result = await collect(provider, request("gemini-2.5-flash", options, IMAGE))
    assert result.error is None, result.error
    body = vertex_server.last("streamGenerateContent").body
    config = body["generationConfig"]
    assert (config["topP"], config["stopSequences"], config["seed"]) == (0.5, ["END"], 7)
    assert (config["presencePenalty"], config["frequencyPenalty"]) == (0.4, 0.3)
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == SCHEMA
    parts = body["contents"][-1]["parts"]
    assert parts[0] == {"text": "Describe"}
    # google-genai writes this field in snake case, which Vertex AI's JSON mapping accepts too
    assert parts[1]["inlineData"] == {"mime_type": "image/png", "data": PNG_B64}


async def test_claude_on_vertex_sends_stop_sequences(vertex_server: VertexServer) -> None:
    settings = make_settings(
        google_cloud_project="proj-9",
        vertex_location="us-east5",
        vertex_api_endpoint=vertex_server.url,
        vertex_access_token="test-access-token",
    )
    provider = get_provider("vertexai:claude-sonnet-4-5@20250929", settings)
    result = await collect(provider, request("claude-sonnet-4-5@20250929", RunOptions(stop=("END",)), IMAGE))
    assert result.error is None, result.error
    body = vertex_server.last("streamRawPredict").body
    assert body["stop_sequences"] == ["END"]
    assert body["messages"][0]["content"][1]["source"]["media_type"] == "image/png"


async def test_claude_on_anthropic_and_on_vertex_take_a_request_s_parameters_from_one_place() -> None:
    """Both chat models are built from `claude_model_kwargs`: the same model, sampling, limits,
    timeout and retry policy for the same request, each with its own connection (a model is
    built on the running loop's shared HTTP client, hence async)."""
    from backend.providers import vertex_claude
    from backend.providers.wire_options import claude_model_kwargs

    claude = request("claude-haiku-4-5", SAMPLING)
    expected = claude_model_kwargs(claude, 45.0)
    assert expected == {
        "model": "claude-haiku-4-5",
        "timeout": 45.0,
        "max_retries": 0,
        "stream_usage": True,
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.5,
        "stop": ["END", "\n\n"],
    }
    anthropic = AnthropicProvider(AnthropicConnection(api_key="sk-ant-test", timeout=45.0))
    vertex = VertexConnection(project="proj-9", access_token="t", timeout=45.0)
    on_anthropic, on_vertex = anthropic.chat_model(claude), vertex_claude.chat_model(claude, vertex)
    for model in (on_anthropic, on_vertex):
        built = {
            "model": model.model,
            "timeout": model.default_request_timeout,
            "max_retries": model.max_retries,
            "stream_usage": model.stream_usage,
            "temperature": model.temperature,
            "max_tokens": model.max_tokens,
            "top_p": model.top_p,
            "stop": model.stop_sequences,
        }
        assert built == expected, type(model).__name__
