"""The vector indexes through one contract: usearch + SQLite and LanceDB on disk, and Pinecone's
SDK against a local server speaking its data-plane REST protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.search.vector_lance import LanceVectorIndex
from backend.search.vector_pinecone import PineconeVectorIndex
from backend.search.vector_usearch import UsearchVectorIndex
from backend.search.vectors import IndexModelMismatch, VectorFilter, VectorIndex, VectorIndexError, VectorItem
from tests.support.fake_pinecone_server import FakePinecone

DIM = 4
MODEL = "test:model-a"


def item(comparison_id: str, part: str, project: str, vector: list[float], **kw: object) -> VectorItem:
    return VectorItem(
        comparison_id=comparison_id,
        part=part,
        project_id=project,
        vector=vector,
        text=f"text of {comparison_id} {part}",
        models=tuple(kw.get("models", ("simulated:swift",))),  # type: ignore[arg-type]
        created_at=float(kw.get("created_at", 1000.0)),  # type: ignore[arg-type]
        has_votes=bool(kw.get("has_votes", False)),
    )


@pytest.fixture(params=["usearch", "lancedb", "pinecone"])
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    made: VectorIndex
    if request.param == "usearch":
        made = UsearchVectorIndex(tmp_path / "vectors-usearch")
    elif request.param == "lancedb":
        made = LanceVectorIndex(tmp_path / "vectors")
    else:
        server = FakePinecone().start()
        request.addfinalizer(server.stop)
        made = PineconeVectorIndex(server.api_key, server.host)
    await made.open(MODEL, DIM)
    yield made
    await made.close()


async def test_replace_query_filters_and_delete(index: VectorIndex) -> None:
    await index.replace(
        "p1", "c1", [item("c1", "p", "p1", [1, 0, 0, 0]), item("c1", "o0", "p1", [0, 1, 0, 0])]
    )
    await index.replace(
        "p1", "c2", [item("c2", "p", "p1", [0.9, 0.1, 0, 0], models=("openai:gpt-4o",), has_votes=True)]
    )
    await index.replace("p2", "c3", [item("c3", "p", "p2", [1, 0, 0, 0], created_at=5000.0)])
    assert await index.count() == 4

    hits = await index.query([1, 0, 0, 0], VectorFilter(project_ids=("p1",)), k=10)
    assert [h.comparison_id for h in hits][:2] == ["c1", "c2"]
    assert {h.project_id for h in hits} == {"p1"}  # p2's equally close vector is not a candidate
    assert hits[0].part == "p" and hits[0].text == "text of c1 p" and hits[0].score == pytest.approx(1.0)

    both = await index.query([1, 0, 0, 0], VectorFilter(project_ids=("p1", "p2")), k=10)
    assert {h.comparison_id for h in both} == {"c1", "c2", "c3"}
    by_model = await index.query([1, 0, 0, 0], VectorFilter(("p1", "p2"), model="openai:gpt-4o"), k=10)
    assert [h.comparison_id for h in by_model] == ["c2"]
    voted = await index.query([1, 0, 0, 0], VectorFilter(("p1", "p2"), has_votes=True), k=10)
    assert [h.comparison_id for h in voted] == ["c2"]
    recent = await index.query([1, 0, 0, 0], VectorFilter(("p1", "p2"), created_from=2000.0), k=10)
    assert [h.comparison_id for h in recent] == ["c3"]
    old = await index.query([1, 0, 0, 0], VectorFilter(("p1", "p2"), created_to=2000.0), k=10)
    assert {h.comparison_id for h in old} == {"c1", "c2"}

    # Re-indexing replaces a comparison's parts (the answer it no longer has goes).
    await index.replace("p1", "c1", [item("c1", "p", "p1", [0, 0, 1, 0])])
    assert await index.count() == 3
    await index.delete("p1", "c2")
    hits = await index.query([1, 0, 0, 0], VectorFilter(project_ids=("p1",)), k=10)
    assert [h.comparison_id for h in hits] == ["c1"]


async def test_an_index_refuses_another_embedding_model_until_reset(index: VectorIndex) -> None:
    await index.replace("p1", "c1", [item("c1", "p", "p1", [1, 0, 0, 0])])
    await index.close()
    with pytest.raises(IndexModelMismatch, match="reindex --rebuild"):
        await index.open("test:model-b", DIM)
    await index.open(MODEL, DIM)  # the same model opens again, with its vectors
    assert await index.count() == 1
    # (A Pinecone index's dimension is fixed when it is created: a model of another size needs a
    # new index, which the dimension error on the first upsert says.)
    await index.reset("test:model-b", DIM)
    assert await index.count() == 0
    await index.close()
    await index.open("test:model-b", DIM)
    with pytest.raises(IndexModelMismatch):
        await index.open(MODEL, DIM)


async def test_pinecone_keeps_one_namespace_per_project(pinecone_server: FakePinecone) -> None:
    index = PineconeVectorIndex(pinecone_server.api_key, pinecone_server.host)
    await index.open(MODEL, DIM)
    await index.replace("proj-a", "c1", [item("c1", "p", "proj-a", [1, 0, 0, 0])])
    await index.replace("proj-b", "c2", [item("c2", "p", "proj-b", [1, 0, 0, 0])])
    assert set(pinecone_server.namespaces["proj-a"]) == {"c1#p"}
    assert set(pinecone_server.namespaces["proj-b"]) == {"c2#p"}
    await index.query([1, 0, 0, 0], VectorFilter(("proj-a",), model="simulated:swift"), k=3)
    query = [body for path, body in pinecone_server.requests if path == "POST /query"][-1]
    assert query["namespace"] == "proj-a"
    assert query["filter"] == {"$and": [{"models": {"$in": ["simulated:swift"]}}]}
    await index.close()


async def test_pinecone_down_or_wrong_key_is_a_clear_error(pinecone_server: FakePinecone) -> None:
    wrong = PineconeVectorIndex("not-the-key", pinecone_server.host)
    with pytest.raises(VectorIndexError, match="Pinecone fetch failed"):
        await wrong.open(MODEL, DIM)
    index = PineconeVectorIndex(pinecone_server.api_key, pinecone_server.host)
    await index.open(MODEL, DIM)
    pinecone_server.down = True
    with pytest.raises(VectorIndexError, match="Pinecone query failed"):
        await index.query([1, 0, 0, 0], VectorFilter(("p1",)), k=3)
    await index.close()
    await wrong.close()


async def test_replace_many_writes_several_comparisons_at_once(index: VectorIndex) -> None:
    await index.replace("p1", "c1", [item("c1", "o3", "p1", [0, 0, 0, 1])])  # a stale part
    await index.replace_many(
        [
            ("p1", "c1", [item("c1", "p", "p1", [1, 0, 0, 0])]),
            ("p2", "c2", [item("c2", "p", "p2", [0, 1, 0, 0]), item("c2", "o0", "p2", [0, 0, 1, 0])]),
        ]
    )
    assert await index.count() == 3
    hits = await index.query([0, 0, 0, 1], VectorFilter(("p1", "p2")), k=10)
    assert {(h.comparison_id, h.part) for h in hits} == {("c1", "p"), ("c2", "p"), ("c2", "o0")}
