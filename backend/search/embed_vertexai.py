"""Vertex AI text embeddings through langchain-google-vertexai (the optional `vertexai` extra).

GOOGLE_CLOUD_PROJECT, VERTEX_LOCATION and SEARCH_EMBEDDING_MODEL (default text-multilingual-embedding-002,
which handles Japanese); credentials through Application Default Credentials. Not exercised by the
tests (no Vertex here): the import and the client are built on first use only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.search.embedding import EmbeddingError
from backend.settings import Settings

DEFAULT_MODEL = "text-multilingual-embedding-002"
DIMENSIONS = 768


class VertexEmbedder:
    dimensions = DIMENSIONS

    def __init__(self, project: str, location: str, model: str) -> None:
        if not project:
            raise EmbeddingError("SEARCH_EMBEDDER=vertexai needs GOOGLE_CLOUD_PROJECT")
        self._project, self._location, self._model = project, location, model
        self._client: Any = None
        self.model_id = f"vertexai:{model}"

    def _embeddings(self) -> Any:
        if self._client is None:
            try:
                from langchain_google_vertexai import VertexAIEmbeddings
            except ImportError as exc:
                raise EmbeddingError('install the extra: pip install -e ".[vertexai]"') from exc
            self._client = VertexAIEmbeddings(
                model_name=self._model, project=self._project, location=self._location
            )
        return self._client

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return [await self._embeddings().aembed_query(text) for text in texts]

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = await self._embeddings().aembed_documents(list(texts))
        return vectors


def from_settings(settings: Settings) -> VertexEmbedder:
    return VertexEmbedder(
        settings.google_cloud_project,
        settings.vertex_location,
        settings.search_embedding_model or DEFAULT_MODEL,
    )
