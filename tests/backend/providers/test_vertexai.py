"""Vertex AI: optional extra, configuration errors, Google error mapping."""

from __future__ import annotations

import importlib.util

import pytest

from backend.providers.base import (
    AuthenticationFailed,
    ChatRequest,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from backend.providers.vertexai import VertexAIProvider, VertexConnection, _google_error
from tests.backend.providers.helpers import collect

REQUEST = ChatRequest(model="gemini-2.5-flash", prompt="Hi")


async def test_missing_project_is_reported() -> None:
    result = await collect(VertexAIProvider(VertexConnection(project="")), REQUEST)
    assert isinstance(result.error, AuthenticationFailed)
    assert "GOOGLE_CLOUD_PROJECT" in result.error.message


@pytest.mark.skipif(
    importlib.util.find_spec("langchain_google_vertexai") is not None, reason="vertex extra installed"
)
async def test_missing_package_is_unavailable_with_install_hint() -> None:
    result = await collect(VertexAIProvider(VertexConnection(project="my-project")), REQUEST)
    assert isinstance(result.error, ProviderUnavailable)
    assert "llm-dashboard[vertexai]" in result.error.message


def test_google_errors_map_by_class_name() -> None:
    class GoogleAPICallError(Exception):
        pass

    class ResourceExhausted(GoogleAPICallError):
        pass

    class DeadlineExceeded(GoogleAPICallError):
        pass

    assert isinstance(_google_error(ResourceExhausted("quota")), RateLimited)
    assert isinstance(_google_error(DeadlineExceeded("late")), ProviderTimeout)
    assert isinstance(_google_error(GoogleAPICallError("?")), ProviderUnavailable)
