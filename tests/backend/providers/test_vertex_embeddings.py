"""The local Vertex AI server's embeddings, reached by LangChain's Google embeddings client
exactly as search will reach Vertex AI (`:predict` for text-embedding-*, `:embedContent` /
`:batchEmbedContents` for gemini-embedding-*): a fixture other tests can build on."""

from __future__ import annotations

import math

import pytest
from google.oauth2.credentials import Credentials
from langchain_google_genai import GoogleGenerativeAIEmbeddings

from tests.support.vertex_server import VertexServer


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.mark.parametrize(
    ("model", "methods"),
    [("text-embedding-005", {"predict"}), ("gemini-embedding-001", {"batchEmbedContents", "embedContent"})],
)
async def test_embeddings_rank_the_related_document_first(
    vertex_server: VertexServer, model: str, methods: set[str]
) -> None:
    embeddings = GoogleGenerativeAIEmbeddings(
        model=model,
        vertexai=True,
        project="my-project",
        location="us-central1",
        base_url=vertex_server.url,
        api_version="v1",
        credentials=Credentials(token=vertex_server.token),
    )
    documents = ["apple pie with cinnamon", "kafka consumer lag", "postgres vacuum settings"]
    vectors = await embeddings.aembed_documents(documents)
    query = await embeddings.aembed_query("how to bake an apple pie")

    assert [len(v) for v in vectors] == [vertex_server.embedding_dimensions] * 3
    assert vectors[0] == pytest.approx(vertex_server.embed(documents[0]))
    ranked = sorted(range(3), key=lambda i: cosine(query, vectors[i]), reverse=True)
    assert ranked[0] == 0
    assert {r.method for r in vertex_server.requests} == methods
    assert all(r.headers["authorization"] == f"Bearer {vertex_server.token}" for r in vertex_server.requests)


async def test_embeddings_need_the_token(vertex_server: VertexServer) -> None:
    embeddings = GoogleGenerativeAIEmbeddings(
        model="text-embedding-005",
        vertexai=True,
        project="my-project",
        location="us-central1",
        base_url=vertex_server.url,
        api_version="v1",
        credentials=Credentials(token="wrong"),
    )
    with pytest.raises(Exception, match="401"):
        await embeddings.aembed_query("apple")
