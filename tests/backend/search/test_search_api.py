"""Indexing through the runtime (finish, vote, retry, delete, the vector side down) and
GET /api/v1/search: hybrid results, filters, bad input, and other projects' vectors never shown.

The embedder here is the OpenAI-compatible client against a local embeddings server (cheap on
the shared CPU); the vector index is the embedded LanceDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from backend.db.models import BatchRow
from backend.db.search_jobs import pending_count
from backend.runtime import Runtime
from backend.search.indexer import SearchIndexer
from backend.search.vectors import VectorFilter, VectorItem
from tests.backend.runtime_support import api_client, owner, running_on, wait_until_final
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, hashed_embedding
from tests.support.fake_pinecone_server import FakePinecone

PREFIX = "/api/v1"


@pytest.fixture
async def rt(
    runtime_database_url: str, tmp_path: Path, embeddings_server: FakeEmbeddingsServer
) -> AsyncIterator[Runtime]:
    """SQLite and PostgreSQL (the keyword side and the outbox are SQL of each)."""
    async with running_on(
        "memory",
        runtime_database_url,
        tmp_path,
        search_embedder="openai-compatible",
        search_embedding_base_url=embeddings_server.url,
        search_embedding_model="hashed",
        search_index_poll_seconds=0.1,
    ) as runtime:
        yield runtime


async def indexed(rt: Runtime, timeout: float = 10.0) -> None:
    """Wait until the indexer's outbox is empty (after the pump's saves and their hooks, which
    write the outbox rows)."""
    await rt.pump.drain()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with rt.db.session() as session:
            if await pending_count(session) == 0:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the search indexer did not catch up")
        await asyncio.sleep(0.05)


async def run(rt: Runtime, client: httpx.AsyncClient, prompt: str, **extra: object) -> dict[str, object]:
    body = {
        "prompt": prompt,
        "panes": [{"model": "simulated:instant"}, {"model": "simulated:swift"}],
        **extra,
    }
    created = await client.post(f"{PREFIX}/comparisons", json=body)
    assert created.status_code == 201, created.text
    comparison: dict[str, object] = created.json()
    await wait_until_final(rt.comparisons, str(comparison["id"]))
    return comparison


async def test_finished_comparisons_are_found_by_keyword_and_by_meaning(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        soup = await run(rt, ada, "[[simulate:tokens=4]] Recipe for a miso soup with tofu")
        await run(rt, ada, "[[simulate:tokens=4]] Explain binary search trees")
        await indexed(rt)
        found = (await ada.get(f"{PREFIX}/search", params={"q": "miso tofu"})).json()
        assert found["vector_used"] is True and found["note"] == ""
        first = found["results"][0]
        assert first["comparison_id"] == soup["id"] and first["matched_by"] == "both"
        assert first["prompt_first_line"].endswith("Recipe for a miso soup with tofu")
        assert first["models"] == ["simulated:instant", "simulated:swift"]
        assert "miso" in first["snippet"] and first["winner"] == ""

        # A vote is indexed too: the winner shows and "has votes" filters on it.
        vote = await ada.post(f"{PREFIX}/comparisons/{soup['id']}/votes", json={"best": 1})
        assert vote.status_code == 200
        await indexed(rt)
        voted = (await ada.get(f"{PREFIX}/search", params={"q": "soup", "has_votes": "true"})).json()
        assert [(r["comparison_id"], r["winner"]) for r in voted["results"]] == [
            (soup["id"], "simulated:swift")
        ]
        unvoted = (await ada.get(f"{PREFIX}/search", params={"q": "binary", "has_votes": "false"})).json()
        assert len(unvoted["results"]) == 1
        await ada.post(f"{PREFIX}/comparisons/{soup['id']}/votes", json={"best": "all_bad"})
        changed = (await ada.get(f"{PREFIX}/search", params={"q": "soup"})).json()
        assert changed["results"][0]["winner"] == "All bad"
        by_model = (await ada.get(f"{PREFIX}/search", params={"q": "soup", "model": "openai:gpt-4o"})).json()
        assert by_model["results"] == []


async def test_another_projects_vectors_never_appear(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        mine = await run(rt, ada, "[[simulate:tokens=3]] Weekly sales report summary")
        theirs = await run(rt, eve, "[[simulate:tokens=3]] Confidential merger plan for Q3")
        await indexed(rt)
        # Plant the other project's comparison in Ada's project's part of the index, as a
        # misfiled vector would be: the index returns it for Ada's projects...
        vector = hashed_embedding("Confidential merger plan", 64)
        planted = VectorItem(
            comparison_id=str(theirs["id"]),
            part="p",
            project_id=str(mine["project_id"]),
            vector=vector,
            text="Confidential merger plan for Q3",
            models=("simulated:swift",),
            created_at=0.0,
            has_votes=False,
        )
        index = rt.search._index
        assert index is not None
        await index.replace(str(mine["project_id"]), "planted", [planted])
        returned = await index.query(vector, VectorFilter((str(mine["project_id"]),)), 10)
        assert str(theirs["id"]) in {hit.comparison_id for hit in returned}
        # ...and search never shows it, with or without the project filter.
        searches: list[dict[str, str]] = [
            {"q": "Confidential merger plan"},
            {"q": "merger", "project_id": str(mine["project_id"])},
        ]
        for params in searches:
            answer = (await ada.get(f"{PREFIX}/search", params=params)).json()
            assert str(theirs["id"]) not in {r["comparison_id"] for r in answer["results"]}
            assert "merger" not in str(answer["results"]).lower()
        # Eve finds her own; Ada asking for Eve's project gets 404.
        assert (await eve.get(f"{PREFIX}/search", params={"q": "merger"})).json()["results"]
        foreign = await ada.get(
            f"{PREFIX}/search", params={"q": "merger", "project_id": str(theirs["project_id"])}
        )
        assert foreign.status_code == 404


async def test_bad_queries_get_clear_messages(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        empty = await ada.get(f"{PREFIX}/search", params={"q": "   "})
        assert empty.status_code == 422 and "Type a few words" in empty.json()["detail"]
        long = await ada.get(f"{PREFIX}/search", params={"q": "x" * 2000})
        assert long.status_code == 422 and "too long (2,000 characters" in long.json()["detail"]
        assert (await ada.get(f"{PREFIX}/search", params={"q": "a", "limit": "0"})).status_code == 422


async def test_vector_side_down_keyword_only_and_nothing_lost(
    rt: Runtime, embeddings_server: FakeEmbeddingsServer
) -> None:
    async with api_client(rt) as ada:
        embeddings_server.status = 503
        comparison = await run(rt, ada, "[[simulate:tokens=3]] Translate 猫が好きです into English")
        found = (await ada.get(f"{PREFIX}/search", params={"q": "猫"})).json()
        assert found["vector_used"] is False and "keyword matches only" in found["note"]
        assert [r["comparison_id"] for r in found["results"]] == [comparison["id"]]
        await rt.pump.drain()
        async with rt.db.session() as session:
            assert await pending_count(session) == 1  # the indexer failed, and keeps the job
        embeddings_server.status = 200
        await indexed(rt, timeout=15.0)  # retried with backoff once the endpoint is back
        index = rt.search._index
        assert index is not None
        hits = await index.query(
            hashed_embedding("passage: Translate", 64), VectorFilter((str(comparison["project_id"]),)), 5
        )
        assert {h.comparison_id for h in hits} == {comparison["id"]}


async def test_a_search_before_indexing_finds_by_words_and_says_so(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexing runs behind the saves: until it has a new comparison, a search finds it by its
    words only, and says how many of the person's comparisons are still waiting."""
    index = rt.search._index
    assert index is not None
    written = asyncio.Event()
    gate = asyncio.Event()
    real_replace_many = index.replace_many

    async def held(batch: Sequence[tuple[str, str, Sequence[VectorItem]]]) -> None:
        await gate.wait()
        await real_replace_many(batch)
        written.set()

    monkeypatch.setattr(index, "replace_many", held)
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        soup = await run(rt, ada, "[[simulate:tokens=3]] 味噌汁の作り方 (miso soup)")
        await run(rt, ada, "[[simulate:tokens=3]] Explain binary search trees")
        await run(rt, eve, "[[simulate:tokens=3]] Eve's own comparison")
        await rt.pump.drain()
        waiting = (await ada.get(f"{PREFIX}/search", params={"q": "味噌汁"})).json()
        assert waiting["vector_used"] is True
        assert waiting["note"] == (
            "Recent comparisons still being indexed: 2. Until then they are found by their words only."
        )  # Ada's two; Eve's is not hers to count
        assert [r["comparison_id"] for r in waiting["results"]] == [soup["id"]]
        assert waiting["results"][0]["matched_by"] == "keyword"
        in_japanese = await ada.get(
            f"{PREFIX}/search", params={"q": "味噌汁"}, headers={"Accept-Language": "ja"}
        )
        assert in_japanese.json()["note"].startswith("索引作成中の最近の比較: 2 件")

        gate.set()
        await asyncio.wait_for(written.wait(), 10)
        await indexed(rt)
        done = (await ada.get(f"{PREFIX}/search", params={"q": "味噌汁"})).json()
        assert done["note"] == "" and done["results"][0]["matched_by"] == "both"


async def test_retry_reindexes_and_delete_removes_vectors(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        comparison = await run(rt, ada, "[[simulate:tokens=3]] Haiku about the sea")
        await indexed(rt)
        index = rt.search._index
        assert index is not None
        project = str(comparison["project_id"])
        cid = str(comparison["id"])
        stale = VectorItem(cid, "o7", project, hashed_embedding("stale", 64), "stale", (), 0.0, False)
        await index.replace(project, "stale-holder", [stale])  # a part the comparison no longer has
        run_id = comparison["runs"][0]["id"]  # type: ignore[index]
        retried = await rt.comparisons.retry(await owner(rt), cid, str(run_id))
        await wait_until_final(rt.comparisons, cid, attempt={retried.id: retried.attempt})
        await indexed(rt)
        parts = {h.part for h in await index.query(hashed_embedding("sea", 64), VectorFilter((project,)), 20)}
        assert "o7" not in parts and "p" in parts
        assert (await ada.delete(f"{PREFIX}/comparisons/{cid}")).status_code == 204
        await indexed(rt)
        assert await index.query(hashed_embedding("sea", 64), VectorFilter((project,)), 20) == []


async def test_similar_comparisons_for_a_draft_with_their_winning_models(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        soup = await run(rt, ada, "[[simulate:tokens=3]] Recipe for a miso soup with tofu and leeks")
        await run(rt, ada, "[[simulate:tokens=3]] Explain binary search trees to a child")
        await ada.post(f"{PREFIX}/comparisons/{soup['id']}/votes", json={"best": 0})
        await indexed(rt)
        me = await owner(rt)
        similar = await rt.search.similar(me, "a recipe for miso soup with tofu please")
        assert similar.hits[0].comparison_id == soup["id"]
        assert similar.hits[0].winner == "simulated:instant"
        assert similar.winning_models == ("simulated:instant",)
        assert (await rt.search.similar(me, "miso")).hits == ()  # too short a draft to mean much
        other = await owner(rt, "eve@example.org")
        assert (await rt.search.similar(other, "a recipe for miso soup with tofu please")).hits == ()


async def test_on_pinecone_another_projects_planted_vectors_never_appear(
    tmp_path: Path, embeddings_server: FakeEmbeddingsServer, pinecone_server: FakePinecone
) -> None:
    """The same guarantee with VECTOR_INDEX=pinecone (the SDK against the local data-plane server):
    indexing goes to the project's namespace, and a vector of another project's comparison planted
    in that namespace is returned by the index but never shown."""
    async with (
        running_on(
            "memory",
            "sqlite:///" + str(tmp_path / "pc.db"),
            tmp_path,
            search_embedder="openai-compatible",
            search_embedding_base_url=embeddings_server.url,
            search_embedding_model="hashed",
            search_index_poll_seconds=0.1,
            vector_index="pinecone",
            pinecone_api_key=pinecone_server.api_key,
            pinecone_index_host=pinecone_server.host,
        ) as rt,
        api_client(rt) as ada,
        api_client(rt, "eve@example.org") as eve,
    ):
        mine = await run(rt, ada, "[[simulate:tokens=3]] Garden planting calendar")
        theirs = await run(rt, eve, "[[simulate:tokens=3]] Private salary review notes")
        await indexed(rt)
        project = str(mine["project_id"])
        assert f"{mine['id']}#p" in pinecone_server.namespaces[project]
        pinecone_server.plant(
            project,
            f"{theirs['id']}#p",
            hashed_embedding("passage: Private salary review notes", 64),
            {"project_id": project, "text": "Private salary review notes", "models": [], "has_votes": False},
        )
        index = rt.search._index
        assert index is not None
        returned = await index.query(hashed_embedding("salary review notes", 64), VectorFilter((project,)), 5)
        assert str(theirs["id"]) in {hit.comparison_id for hit in returned}  # the index does return it
        answer = (await ada.get(f"{PREFIX}/search", params={"q": "salary review notes"})).json()
        assert answer["vector_used"] is True
        assert str(theirs["id"]) not in {r["comparison_id"] for r in answer["results"]}
        assert "salary" not in str(answer["results"]).lower()
        queried = [body for path, body in pinecone_server.requests if path == "POST /query"]
        assert queried and all(body["namespace"] == project for body in queried)


async def test_batch_rows_are_neither_indexed_nor_found_nor_similar(rt: Runtime) -> None:
    """A batch's rows are browsed in its results grid: search, "Similar comparisons" and the
    index leave them out (a thousand rows of one template would bury everything else), even a
    row a vector index still holds from before."""
    async with api_client(rt) as ada:
        soup = await run(rt, ada, "[[simulate:tokens=3]] Recipe for a miso soup with tofu and leeks")
        me = await owner(rt)
        csv = "extra\ntofu and leeks\ntofu and seaweed\n"
        template = "[[simulate:tokens=3]] Recipe for a miso soup with {{extra}}"
        created = await rt.batches.create(
            me, {"prompt": template, "csv": csv, "models": ["simulated:instant"]}
        )
        deadline = asyncio.get_running_loop().time() + 20
        while (view := await rt.batches.get(me, created.batch.id)).batch.status == "running":
            assert asyncio.get_running_loop().time() < deadline, view.progress
            await asyncio.sleep(0.1)
        assert view.batch.status == "done"
        async with rt.db.session() as session:
            stmt = select(BatchRow.comparison_id).where(BatchRow.batch_id == created.batch.id)
            row_ids = {str(cid) for cid in (await session.execute(stmt)).scalars()}
        assert len(row_ids) == 2 and soup["id"] not in row_ids
        await indexed(rt)

        index = rt.search._index
        assert index is not None
        project = str(soup["project_id"])
        vectors = await index.query(hashed_embedding("passage: miso soup", 64), VectorFilter((project,)), 50)
        assert {h.comparison_id for h in vectors} == {soup["id"]}  # no batch row was indexed

        found = (await ada.get(f"{PREFIX}/search", params={"q": "miso soup"})).json()
        assert [r["comparison_id"] for r in found["results"]] == [soup["id"]]
        similar = await rt.search.similar(me, "a recipe for miso soup with tofu and leeks")
        assert [h.comparison_id for h in similar.hits] == [soup["id"]]

        # A row indexed before batch rows were left out is still never shown.
        planted = sorted(row_ids)[0]
        item = VectorItem(
            planted, "p", project, hashed_embedding("passage: miso soup", 64), "miso", (), 0.0, False
        )
        await index.replace(project, planted, [item])
        found = (await ada.get(f"{PREFIX}/search", params={"q": "miso soup"})).json()
        assert [r["comparison_id"] for r in found["results"]] == [soup["id"]]
        similar = await rt.search.similar(me, "a recipe for miso soup with tofu and leeks")
        assert [h.comparison_id for h in similar.hits] == [soup["id"]]


async def indexed_comparison_outbox_kept(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> tuple[SearchIndexer, dict[str, object]]:
    """A comparison run and indexed; from then on the indexer keeps what is asked in its outbox
    (nothing is processed), for the test to read."""
    indexer = rt.search.indexer
    assert indexer is not None
    async with api_client(rt) as ada:
        comparison = await run(rt, ada, "[[simulate:tokens=3]] Notes on tide pools")
        await indexed(rt)

    async def nothing_due(limit: int = 0) -> int:
        return 0

    monkeypatch.setattr(indexer, "process_due", nothing_due)
    return indexer, comparison


async def test_a_run_ending_asks_for_indexing_only_once_its_comparison_has_ended(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.db.models import Run, SearchIndexJob
    from backend.queue.messages import FinalEvent

    indexer, comparison = await indexed_comparison_outbox_kept(rt, monkeypatch)

    async def jobs() -> list[tuple[str, str, int]]:
        async with rt.db.session() as session:
            rows = await session.execute(
                select(SearchIndexJob.comparison_id, SearchIndexJob.action, SearchIndexJob.version)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    first, second = (str(r["id"]) for r in comparison["runs"])  # type: ignore[attr-defined]
    async with rt.db.session() as session:  # the second pane still streaming
        (await session.get(Run, second)).status = "running"  # type: ignore[union-attr]
        await session.commit()
    ended = FinalEvent(run_id=first, attempt=0, status="done", output_text="x", chunks=1)
    await indexer.run_finished(ended)
    assert await jobs() == []
    async with rt.db.session() as session:
        (await session.get(Run, second)).status = "done"  # type: ignore[union-attr]
        await session.commit()
    await indexer.run_finished(ended.model_copy(update={"run_id": second}))
    assert await jobs() == [(comparison["id"], "index", 0)]
    await indexer.run_finished(ended.model_copy(update={"run_id": second}))  # a retried pane ends again
    assert await jobs() == [(comparison["id"], "index", 1)]
    await indexer.run_finished(ended.model_copy(update={"run_id": "no-such-run"}))
    assert await jobs() == [(comparison["id"], "index", 1)]


@pytest.mark.parametrize("runtime_database_url", ["postgresql"], indirect=True)  # SQLite: one writer
async def test_a_run_ending_while_another_process_asks_for_the_same_job_bumps_it(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The after-save hook found no job to bump, and another process inserted it before this
    one's insert: the insert fails on the key, and the hook asks again and bumps that job."""
    import sqlalchemy
    from sqlalchemy import event

    from backend.db import search_jobs
    from backend.db.models import SearchIndexJob
    from backend.queue.messages import FinalEvent

    indexer, comparison = await indexed_comparison_outbox_kept(rt, monkeypatch)
    other_process = sqlalchemy.create_engine(rt.db.sync_url)
    project_id = str(comparison["project_id"])
    collided: list[str] = []

    def insert_first(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE search_index_jobs") and not collided:
            collided.append(statement)
            with other_process.begin() as connection:
                search_jobs.request_job_in(connection, str(comparison["id"]), project_id, search_jobs.INDEX)

    event.listen(rt.db.engine.sync_engine, "after_cursor_execute", insert_first)
    try:
        run_id = str(comparison["runs"][0]["id"])  # type: ignore[index]
        await indexer.run_finished(
            FinalEvent(run_id=run_id, attempt=0, status="done", output_text="x", chunks=1)
        )
    finally:
        event.remove(rt.db.engine.sync_engine, "after_cursor_execute", insert_first)
        other_process.dispose()
    async with rt.db.session() as session:
        rows = await session.execute(select(SearchIndexJob.comparison_id, SearchIndexJob.version))
    assert collided
    assert [tuple(row) for row in rows] == [(comparison["id"], 1)]  # one job, both requests counted
