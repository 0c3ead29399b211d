"""A run's optional parameters (backend/run_options.py) in each provider's wire format, as
keyword arguments of its LangChain chat model, and the prompt's images as LangChain multimodal
message content. Only set fields are sent: an unset one leaves the provider's default."""

from __future__ import annotations

import base64
from typing import Any

from backend.providers.base import ChatRequest
from backend.run_options import ImageData, RunOptions

SCHEMA_NAME = "answer"  # OpenAI's json_schema format needs a name


def openai_kwargs(options: RunOptions) -> dict[str, Any]:
    """ChatOpenAI (OpenAI and OpenAI-compatible servers: vLLM, llama.cpp, LM Studio …).

    The response format goes in `extra_body`: a top-level `response_format` makes LangChain
    switch to the SDK's beta parsing stream, which the answer's plain text does not need."""
    kwargs = _common(options, stop_key="stop")
    for key in ("presence_penalty", "frequency_penalty"):
        if (value := getattr(options, key)) is not None:
            kwargs[key] = value
    if options.response_format == "json":
        kwargs["extra_body"] = {"response_format": {"type": "json_object"}}
    elif options.response_format == "json_schema" and options.json_schema is not None:
        schema = {"name": SCHEMA_NAME, "schema": dict(options.json_schema), "strict": False}
        kwargs["extra_body"] = {"response_format": {"type": "json_schema", "json_schema": schema}}
    return kwargs


def anthropic_kwargs(options: RunOptions) -> dict[str, Any]:
    """ChatAnthropic (Anthropic, and Claude on Vertex AI): top_p and stop_sequences only."""
    return _common(options, stop_key="stop")


def claude_model_kwargs(request: ChatRequest, timeout: float) -> dict[str, Any]:
    """A ChatAnthropic's arguments for this request, the same on Anthropic's API and on Vertex AI
    (each adds its connection: key and base URL, or project, region and token)."""
    return {
        "model": request.model,
        "timeout": timeout,
        "max_retries": 0,  # retry policy belongs to the worker
        "stream_usage": True,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        **anthropic_kwargs(request.options),
    }


def ollama_kwargs(options: RunOptions) -> dict[str, Any]:
    """ChatOllama: options.top_p / options.stop, and `format` ("json" or a JSON schema)."""
    kwargs = _common(options, stop_key="stop")
    if options.response_format == "json":
        kwargs["format"] = "json"
    elif options.response_format == "json_schema" and options.json_schema is not None:
        kwargs["format"] = dict(options.json_schema)
    return kwargs


def gemini_kwargs(options: RunOptions) -> dict[str, Any]:
    """ChatGoogleGenerativeAI: generationConfig's topP, stopSequences, penalties, and
    responseMimeType / responseJsonSchema."""
    kwargs = _common(options, stop_key="stop")
    for key in ("presence_penalty", "frequency_penalty"):
        if (value := getattr(options, key)) is not None:
            kwargs[key] = value
    if options.response_format in ("json", "json_schema"):
        kwargs["response_mime_type"] = "application/json"
    if options.response_format == "json_schema" and options.json_schema is not None:
        kwargs["response_schema"] = dict(options.json_schema)
    return kwargs


def _common(options: RunOptions, stop_key: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if options.top_p is not None:
        kwargs["top_p"] = options.top_p
    if options.stop:
        kwargs[stop_key] = list(options.stop)
    return kwargs


def human_content(prompt: str, images: tuple[ImageData, ...]) -> str | list[str | dict[str, Any]]:
    """The user message's content: the prompt, then each image as an OpenAI-style `image_url`
    data URL block, which every LangChain integration here converts to its provider's format
    (Anthropic's base64 source, Gemini's inline data, Ollama's images list)."""
    if not images:
        return prompt
    blocks: list[str | dict[str, Any]] = [{"type": "text", "text": prompt}]
    for image in images:
        encoded = base64.b64encode(image.data).decode("ascii")
        blocks.append(
            {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{encoded}"}}
        )
    return blocks
