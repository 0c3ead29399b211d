"""Fixtures for provider tests: a local fake LLM server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_llm_server import FakeLLMServer


@pytest.fixture
def fake_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()
