"""Pinecone through the official `pinecone` SDK's async client (not the deprecated pinecone-client).

PINECONE_API_KEY and PINECONE_INDEX_HOST (the index's host from the console; an http:// host
works too, which is how the tests point it at their local server). The index itself (dimension,
cosine metric) is created in Pinecone's console or API beforehand.

One namespace per project: a query names the namespaces of the person's projects, so another
project's vectors are not even candidates, and the project id is in each vector's metadata too.
The embedding model that made the index is a record of its own in a reserved namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from backend.net.egress import guarded_httpx_client
from backend.search.vectors import (
    TEXT_METADATA_CHARS,
    IndexModelMismatch,
    VectorFilter,
    VectorHit,
    VectorIndexError,
    VectorItem,
    part_ids,
    split_id,
)
from backend.settings import Settings

META_NAMESPACE = "__llmdash_meta__"
STAMP_ID = "embedding-model"
TIMEOUT_S = 10.0


def metadata_filter(where: VectorFilter) -> dict[str, Any]:
    """Pinecone's filter language for everything but the project (the namespace says that)."""
    clauses: list[dict[str, Any]] = []
    if where.model:
        clauses.append({"models": {"$in": [where.model]}})
    if where.created_from is not None:
        clauses.append({"created_at": {"$gte": where.created_from}})
    if where.created_to is not None:
        clauses.append({"created_at": {"$lt": where.created_to}})
    if where.has_votes is not None:
        clauses.append({"has_votes": {"$eq": where.has_votes}})
    return {"$and": clauses} if clauses else {}


class PineconeVectorIndex:
    name = "pinecone"

    def __init__(self, api_key: str, host: str, allow_private: bool = True) -> None:
        if not api_key or not host:
            raise VectorIndexError("VECTOR_INDEX=pinecone needs PINECONE_API_KEY and PINECONE_INDEX_HOST")
        self._api_key = api_key
        self._host = host
        self._allow_private = allow_private  # OPERATOR_EGRESS_PRIVATE: the operator's index host
        self._index: Any = None

    def _client(self) -> Any:
        if self._index is None:
            from pinecone import AsyncIndex

            index = AsyncIndex(host=self._host, api_key=self._api_key, timeout=TIMEOUT_S)
            # Through the egress guard: the SDK builds its httpx client on first use and takes
            # no transport from outside, so the client it would build (its base URL, its
            # headers with the key) is made here first, on a guarded transport.
            http = index._http
            http._client = guarded_httpx_client(
                self._allow_private, TIMEOUT_S, base_url=index.host, headers=http._headers
            )
            self._index = index
        return self._index

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except VectorIndexError:
            raise
        except Exception as exc:  # the SDK's errors, httpx's, timeouts: all mean "Pinecone is not usable now"
            raise VectorIndexError(f"Pinecone {what} failed: {type(exc).__name__}: {exc}"[:300]) from exc

    def _stamp_vector(self, dimensions: int) -> list[float]:
        return [1.0] + [0.0] * (dimensions - 1)  # Pinecone refuses all-zero dense vectors

    async def open(self, model_id: str, dimensions: int) -> None:
        index = self._client()
        found = await self._call("fetch", index.fetch(ids=[STAMP_ID], namespace=META_NAMESPACE))
        stamp = found.vectors.get(STAMP_ID)
        if stamp is None:
            await self._stamp(model_id, dimensions)
            return
        made_by = str((stamp.metadata or {}).get("model", ""))
        if made_by != model_id:
            raise IndexModelMismatch(made_by or "an unknown model", model_id)

    async def _stamp(self, model_id: str, dimensions: int) -> None:
        record = {"id": STAMP_ID, "values": self._stamp_vector(dimensions), "metadata": {"model": model_id}}
        await self._call(
            "upsert", self._client().upsert(vectors=[record], namespace=META_NAMESPACE, show_progress=False)
        )

    async def reset(self, model_id: str, dimensions: int) -> None:
        index = self._client()
        stats = await self._call("describe_index_stats", index.describe_index_stats())
        for namespace in list((stats.namespaces or {}).keys()):
            await self._call("delete", index.delete(delete_all=True, namespace=namespace))
        await self._stamp(model_id, dimensions)

    async def replace(self, project_id: str, comparison_id: str, items: Sequence[VectorItem]) -> None:
        await self.delete(project_id, comparison_id)
        if not items:
            return
        records = [
            {
                "id": item.id,
                "values": item.vector,
                "metadata": {
                    "comparison_id": item.comparison_id,
                    "project_id": item.project_id,
                    "text": item.text[:TEXT_METADATA_CHARS],
                    "models": list(item.models),
                    "created_at": item.created_at,
                    "has_votes": item.has_votes,
                },
            }
            for item in items
        ]
        await self._call(
            "upsert", self._client().upsert(vectors=records, namespace=project_id, show_progress=False)
        )

    async def replace_many(self, batch: Sequence[tuple[str, str, Sequence[VectorItem]]]) -> None:
        for project_id, comparison_id, items in batch:
            await self.replace(project_id, comparison_id, items)

    async def delete(self, project_id: str, comparison_id: str) -> None:
        await self._call("delete", self._client().delete(ids=part_ids(comparison_id), namespace=project_id))

    async def query(self, vector: Sequence[float], where: VectorFilter, k: int) -> list[VectorHit]:
        if not where.project_ids:
            raise ValueError("a vector query needs at least one project")
        index = self._client()
        flt = metadata_filter(where) or None

        async def one(project_id: str) -> list[VectorHit]:
            answer = await self._call(
                "query",
                index.query(
                    top_k=k, vector=list(vector), namespace=project_id, filter=flt, include_metadata=True
                ),
            )
            hits = []
            for match in answer.matches:
                metadata = match.metadata or {}
                comparison_id, part = split_id(match.id)
                hits.append(
                    VectorHit(
                        comparison_id=comparison_id,
                        # The namespace it came from: what the metadata says is not trusted further.
                        project_id=project_id,
                        part=part,
                        score=float(match.score),
                        text=str(metadata.get("text", "")),
                    )
                )
            return hits

        per_project = await asyncio.gather(*(one(p) for p in where.project_ids))
        merged = sorted((hit for hits in per_project for hit in hits), key=lambda h: h.score, reverse=True)
        return merged[:k]

    async def count(self) -> int:
        stats = await self._call("describe_index_stats", self._client().describe_index_stats())
        return sum(
            summary.vector_count
            for name, summary in (stats.namespaces or {}).items()
            if name != META_NAMESPACE
        )

    async def close(self) -> None:
        if self._index is not None:
            await self._index.close()
            self._index = None


def from_settings(settings: Settings) -> PineconeVectorIndex:
    return PineconeVectorIndex(
        settings.pinecone_api_key.get_secret_value(),
        settings.pinecone_index_host,
        allow_private=settings.operator_egress_private,
    )
