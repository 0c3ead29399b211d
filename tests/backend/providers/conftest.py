"""Fixtures for provider tests: local servers speaking the providers' wire protocols."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_llm_server import FakeLLMServer
from tests.support.vertex_server import VertexServer


@pytest.fixture
def fake_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def vertex_server() -> Iterator[VertexServer]:
    server = VertexServer().start()
    yield server
    server.stop()
