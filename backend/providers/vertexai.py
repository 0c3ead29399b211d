"""Gemini models on Google Vertex AI (optional extra: llm-dashboard[vertexai]).

langchain-google-vertexai is imported lazily, on the first request, so the
rest of the app works without it; credentials come from Application Default
Credentials, the project from GOOGLE_CLOUD_PROJECT.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from backend.providers.base import (
    AuthenticationFailed,
    BadRequest,
    ChatRequest,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamItem,
)
from backend.providers.discovery import VERTEX_INSTALL_HINT as INSTALL_HINT
from backend.providers.langchain_adapter import ErrorRule, stream_chat_model
from backend.settings import Settings

# google.api_core exception class name -> our error type.  Matched by name so
# this table needs no import of the optional Google packages.
_GOOGLE_ERRORS: dict[str, type[ProviderError]] = {
    "Unauthenticated": AuthenticationFailed,
    "PermissionDenied": AuthenticationFailed,
    "ResourceExhausted": RateLimited,
    "TooManyRequests": RateLimited,
    "InvalidArgument": BadRequest,
    "NotFound": BadRequest,
    "DeadlineExceeded": ProviderTimeout,
    "ServiceUnavailable": ProviderUnavailable,
    "InternalServerError": ProviderUnavailable,
}


def _google_error(exc: BaseException) -> ProviderError:
    for cls in type(exc).__mro__:
        if cls.__name__ in _GOOGLE_ERRORS:
            return _GOOGLE_ERRORS[cls.__name__](str(exc))
    return ProviderUnavailable(str(exc))


def _error_rules() -> list[ErrorRule]:
    try:
        google_exceptions = importlib.import_module("google.api_core.exceptions")
    except ImportError:
        return []
    return [(google_exceptions.GoogleAPIError, _google_error)]


@dataclass(frozen=True, slots=True)
class VertexConnection:
    project: str
    location: str = "us-central1"
    timeout: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> VertexConnection:
        return cls(
            project=settings.google_cloud_project,
            location=settings.vertex_location,
            timeout=settings.provider_timeout_seconds,
        )


class VertexAIProvider:
    def __init__(self, connection: VertexConnection) -> None:
        self.connection = connection

    def chat_model(self, request: ChatRequest) -> Any:
        try:
            module = importlib.import_module("langchain_google_vertexai")
        except ImportError as exc:
            raise ProviderUnavailable(INSTALL_HINT) from exc
        kwargs: dict[str, Any] = {"seed": request.seed} if request.seed is not None else {}
        return module.ChatVertexAI(
            model=request.model,
            project=self.connection.project,
            location=self.connection.location,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            timeout=self.connection.timeout,
            max_retries=0,  # retry policy belongs to the worker
            **kwargs,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        if not self.connection.project:
            raise AuthenticationFailed("GOOGLE_CLOUD_PROJECT is not set")
        model = self.chat_model(request)
        async for item in stream_chat_model(model, request, _error_rules()):
            yield item


def from_settings(settings: Settings) -> VertexAIProvider:
    return VertexAIProvider(VertexConnection.from_settings(settings))
