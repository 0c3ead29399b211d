"""`python -m backend.admin reindex`: backfills every comparison, idempotently, with progress;
--rebuild moves the index to a new embedding model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from backend import admin
from backend.search.vector_usearch import UsearchVectorIndex
from backend.search.vectors import IndexModelMismatch, VectorFilter
from backend.settings import get_settings
from tests.backend.runtime_support import owner, running_on, wait_until_final
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, hashed_embedding

PANE = "simulated:instant"


async def test_reindex_backfills_idempotently_and_rebuilds_for_a_new_model(
    tmp_path: Path, embeddings_server: FakeEmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "sqlite:///" + str(tmp_path / "reindex.db")
    # Comparisons made while search was off: nothing indexed them.
    async with running_on("memory", url, tmp_path) as rt:
        ada = await owner(rt)
        created = [
            await rt.comparisons.create(
                ada,
                {"prompt": f"[[simulate:tokens=3]] topic {word}", "panes": [{"model": "simulated:instant"}]},
            )
            for word in ("apples", "volcanoes", "sailing")
        ]
        for record in created:
            await wait_until_final(rt.comparisons, record.id)
    for key, value in {
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": url,
        "SEARCH_EMBEDDER": "openai-compatible",
        "SEARCH_EMBEDDING_BASE_URL": embeddings_server.url,
        "SEARCH_EMBEDDING_MODEL": "hashed",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    monkeypatch.setattr(admin, "get_settings", get_settings)
    try:
        out = io.StringIO()
        assert await admin.reindex(out=out) == 3
        assert "3/3 comparisons" in out.getvalue()
        assert await admin.reindex(out=io.StringIO()) == 3  # again: replaced, not duplicated
        index = UsearchVectorIndex(tmp_path / "vectors-usearch")  # the default index
        await index.open(f"openai-compatible:{embeddings_server.url}#hashed", 64)
        assert await index.count() == 6  # a prompt and an answer each
        hits = await index.query(hashed_embedding("volcanoes", 64), VectorFilter((created[0].project_id,)), 1)
        assert hits[0].comparison_id == created[1].id
        await index.close()

        monkeypatch.setenv("SEARCH_EMBEDDING_MODEL", "hashed-v2")
        get_settings.cache_clear()
        with pytest.raises(IndexModelMismatch, match="reindex --rebuild"):
            await admin.reindex(out=io.StringIO())
        assert await admin.reindex(rebuild=True, out=io.StringIO()) == 3
    finally:
        get_settings.cache_clear()
