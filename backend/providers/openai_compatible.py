"""Any server speaking OpenAI's chat-completions API (vLLM, LM Studio, llama.cpp, ...).

Endpoints are saved in settings as OPENAI_COMPATIBLE_ENDPOINTS; a model id is
`openai-compatible:<endpoint>/<model>`, so `ChatRequest.model` here is
`<endpoint>/<model>` (the model part may itself contain slashes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from backend.net.egress import operator_private_ok, shared_guarded_client
from backend.providers.base import BadRequest, ChatRequest, StreamItem
from backend.providers.discovery import configured_models
from backend.providers.langchain_adapter import stream_chat_model
from backend.providers.openai import ERROR_RULES, chat_openai
from backend.settings import Settings

# Local servers usually ignore the key, but the OpenAI SDK refuses an empty one.
PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True, slots=True)
class EndpointConnection:
    name: str
    base_url: str
    api_key: str = field(default="", repr=False)
    models: tuple[str, ...] = ()  # as configured; empty: ask the server's /models
    timeout: float = 120.0
    # "" for endpoints from the environment (the operator's); for a stored one, how far the egress
    # guard lets it reach: "public-only" or "private-ok".
    egress: str = ""


def connections_from_settings(settings: Settings) -> dict[str, EndpointConnection]:
    return {
        name: EndpointConnection(
            name=name,
            base_url=str(raw.get("base_url", "")).rstrip("/"),
            api_key=str(raw.get("api_key", "") or ""),
            models=configured_models(raw),
            timeout=settings.provider_timeout_seconds,
            egress=str(raw.get("egress", "") or ""),
        )
        for name, raw in settings.openai_compatible_endpoints.items()
    }


def split_model(local_name: str) -> tuple[str, str]:
    """'<endpoint>/<model>' -> (endpoint, model)."""
    endpoint, sep, model = local_name.partition("/")
    if not (sep and endpoint and model):
        raise BadRequest(f"expected '<endpoint>/<model>', got {local_name!r}")
    return endpoint, model


class OpenAICompatibleProvider:
    def __init__(self, endpoints: dict[str, EndpointConnection], operator_private: bool = True) -> None:
        self.endpoints = endpoints
        self.operator_private = operator_private

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        endpoint_name, model_name = split_model(request.model)
        conn = self.endpoints.get(endpoint_name)
        if conn is None or not conn.base_url:
            raise BadRequest(f"no OpenAI-compatible endpoint named {endpoint_name!r} is configured")
        # Every endpoint through the egress guard: a stored one by its own mark, the operator's
        # by OPERATOR_EGRESS_PRIVATE (link-local and metadata addresses never).
        client = shared_guarded_client(
            allow_private=operator_private_ok(conn.egress, self.operator_private), timeout=conn.timeout
        )
        model = chat_openai(
            model_name, conn.api_key or PLACEHOLDER_KEY, conn.base_url, conn.timeout, request, client
        )
        async for item in stream_chat_model(model, request, ERROR_RULES):
            yield item


def from_settings(settings: Settings) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(connections_from_settings(settings), settings.operator_egress_private)
