"""The embedded default index (usearch HNSW + SQLite) beyond the shared contract: the HNSW path
with the filter applied in the query, processes sharing one store, and the graph's cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.search import vector_usearch
from backend.search.vector_usearch import UsearchVectorIndex
from backend.search.vectors import VectorFilter, VectorItem

DIM = 16
MODEL = "test:model-a"


def items(project: str, vectors: np.ndarray, start: int = 0) -> list[tuple[str, str, list[VectorItem]]]:
    return [
        (
            project,
            f"{project}-c{start + i}",
            [VectorItem(f"{project}-c{start + i}", "p", project, v.tolist(), "t", ("m",), 0.0, False)],
        )
        for i, v in enumerate(vectors)
    ]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("exact_below", [0, 500_000])  # the HNSW graph, and the whole scan
async def test_the_filter_is_applied_in_the_query_and_matches_exact_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exact_below: int
) -> None:
    monkeypatch.setattr(vector_usearch, "EXACT_BELOW", exact_below)
    rng = np.random.default_rng(3)
    mine, others = unit(rng, 300), unit(rng, 1200)
    index = UsearchVectorIndex(tmp_path / "v")
    await index.open(MODEL, DIM)
    await index.replace_many(items("mine", mine) + items("other", others))
    query = mine[7] * 0.5 + others[9] * 0.5  # as close to another project's vector as to mine
    hits = await index.query(query.tolist(), VectorFilter(("mine",)), k=10)
    assert {h.project_id for h in hits} == {"mine"}
    truth = np.argsort(-(mine @ (query / np.linalg.norm(query))))[:10]
    assert [h.comparison_id for h in hits] == [f"mine-c{i}" for i in truth]
    assert hits[0].score == pytest.approx(float(mine[truth[0]] @ query / np.linalg.norm(query)), abs=1e-4)
    # A filter few vectors pass (the model) still finds them, however far the HNSW fetch must go.
    await index.replace_many(
        [("mine", "rare", [VectorItem("rare", "p", "mine", (-query).tolist(), "t", ("rare",), 0.0, True)])]
    )
    rare = await index.query(query.tolist(), VectorFilter(("mine", "other"), model="rare"), k=10)
    assert [h.comparison_id for h in rare] == ["rare"]
    await index.close()


async def test_processes_sharing_the_store_see_each_others_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_usearch, "CATCH_UP_CHUNK", 2)  # the reader catches up in 2 reads
    writer, reader = UsearchVectorIndex(tmp_path / "v"), UsearchVectorIndex(tmp_path / "v")
    await writer.open(MODEL, DIM)
    await reader.open(MODEL, DIM)
    vectors = unit(np.random.default_rng(5), 3)
    await writer.replace_many(items("p", vectors))
    hits = await reader.query(vectors[1].tolist(), VectorFilter(("p",)), k=1)
    assert [h.comparison_id for h in hits] == ["p-c1"]
    await writer.delete("p", "p-c1")
    hits = await reader.query(vectors[1].tolist(), VectorFilter(("p",)), k=3)
    assert "p-c1" not in {h.comparison_id for h in hits} and len(hits) == 2
    await writer.reset("test:model-b", DIM)  # a rebuild elsewhere: the reader's graph starts again
    assert await reader.query(vectors[0].tolist(), VectorFilter(("p",)), k=3) == []
    await writer.close()
    await reader.close()


async def test_the_saved_graph_is_reused_and_a_stale_one_is_not(tmp_path: Path) -> None:
    vectors = unit(np.random.default_rng(7), 20)
    index = UsearchVectorIndex(tmp_path / "v")
    await index.open(MODEL, DIM)
    await index.replace_many(items("p", vectors))
    await index.close()
    assert (tmp_path / "v" / "hnsw.json").exists() and list((tmp_path / "v" / "hnsw").glob("*.usearch"))
    again = UsearchVectorIndex(tmp_path / "v")
    await again.open(MODEL, DIM)
    await again.replace_many(items("p", vectors[:2], start=100))  # after the saved graph
    hits = await again.query(vectors[0].tolist(), VectorFilter(("p",)), k=2)
    assert {h.comparison_id for h in hits} == {"p-c0", "p-c100"}
    await again.reset(MODEL, DIM)
    await again.close()
    fresh = UsearchVectorIndex(tmp_path / "v")
    await fresh.open(MODEL, DIM)
    assert await fresh.query(vectors[0].tolist(), VectorFilter(("p",)), k=2) == []
    await fresh.close()
