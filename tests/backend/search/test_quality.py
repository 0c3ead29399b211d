"""The local default's search quality on the labelled bilingual set (tests/data/search_eval.json):
English and Japanese queries must find both language versions of their topic among fillers.
The floors are a little under what bench/search.py measured (MRR@10 1.000, recall@10 0.990 with
250 fillers, 2026-12-04)."""

from __future__ import annotations

from pathlib import Path

from backend.search.embed_local import LocalE5Embedder
from bench.search import quality

MRR_FLOOR = 0.95
RECALL_FLOOR = 0.95


async def test_bilingual_queries_find_their_topics(local_embedder: LocalE5Embedder, tmp_path: Path) -> None:
    found = await quality(local_embedder, n_fillers=100, where=tmp_path / "quality")
    assert found["docs"] == 150
    assert found["mrr@10"] >= MRR_FLOOR, found
    assert found["recall@10"] >= RECALL_FLOOR, found
