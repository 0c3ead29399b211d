"""SearchState driven through its handlers: results as rows, bad input and a foreign project as
messages, the keyword-only note, and another project's planted vectors never in the page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.db.search_jobs import pending_count
from backend.runtime import Runtime, running
from backend.search.vectors import VectorItem
from devstack.postgres import migrated_sqlite_url
from state.search import SearchState
from tests.backend.runtime_support import make_settings, owner, wait_until_final
from tests.state.support import in_tree, sign_in
from tests.support.fake_embeddings_server import FakeEmbeddingsServer, hashed_embedding

S = SearchState
SHORT = "[[simulate:tokens=3]]"


@pytest.fixture
def embeddings() -> Iterator[FakeEmbeddingsServer]:
    server = FakeEmbeddingsServer().start()
    yield server
    server.stop()


@pytest.fixture
async def runtime(tmp_path: Path, embeddings: FakeEmbeddingsServer) -> AsyncIterator[Runtime]:
    settings = make_settings(
        migrated_sqlite_url(tmp_path),
        tmp_path,
        search_embedder="openai-compatible",
        search_embedding_base_url=embeddings.url,
        search_embedding_model="hashed",
        search_index_poll_seconds=0.1,
    )
    async with running(settings) as rt:
        yield rt


async def _comparison(rt: Runtime, email: str, prompt: str) -> tuple[str, str]:
    record = await rt.comparisons.create(
        await owner(rt, email), {"prompt": prompt, "panes": [{"model": "simulated:instant"}]}
    )
    await wait_until_final(rt.comparisons, record.id)
    return record.id, record.project_id


async def _indexed(rt: Runtime) -> None:
    await rt.pump.drain()  # the after-save hooks that write the outbox rows
    for _ in range(200):
        async with rt.db.session() as session:
            if await pending_count(session) == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("not indexed")


async def _tab(rt: Runtime) -> SearchState:
    tab = in_tree(SearchState)
    await sign_in(tab, rt)
    await S.load.fn(tab)
    return tab


async def test_search_rows_and_other_projects_never_shown(runtime: Runtime) -> None:
    mine, my_project = await _comparison(
        runtime, "ada@example.org", "[[simulate:tokens=3]] Plan a trip to Osaka"
    )
    theirs, _ = await _comparison(
        runtime, "eve@example.org", "[[simulate:tokens=3]] Secret Osaka acquisition"
    )
    await _indexed(runtime)
    index = runtime.search._index
    assert index is not None
    planted = VectorItem(theirs, "p", my_project, hashed_embedding("Osaka", 64), "Secret", (), 0.0, False)
    await index.replace(my_project, "planted", [planted])
    tab = await _tab(runtime)
    assert [p.name for p in tab.projects] == ["Personal"]
    await S.search.fn(tab, {"q": "Osaka", "project": "all", "model": "all"})
    assert tab.error == "" and tab.note == ""
    assert [row.id for row in tab.results] == [mine]
    assert tab.results[0].title.endswith("Plan a trip to Osaka")
    assert "Secret" not in str(tab.results)


async def test_bad_input_and_a_foreign_project_are_messages(runtime: Runtime) -> None:
    _, their_project = await _comparison(runtime, "eve@example.org", "[[simulate:tokens=3]] hello")
    tab = await _tab(runtime)
    await S.search.fn(tab, {"q": ""})
    assert tab.error == "Type a few words to search for." and tab.results == []
    await S.search.fn(tab, {"q": "y" * 2000})
    assert "too long (2,000 characters" in tab.error
    await S.search.fn(tab, {"q": "hello", "project": their_project})
    assert tab.error == "You are not a member of that project."
    await S.search.fn(tab, {"q": "hello", "from": "yesterday"})
    assert tab.error == "Dates look like 2026-12-31."
    await S.search.fn(tab, {"q": "nothing-like-this"})
    assert tab.error == "" and tab.empty_message == "Nothing matches that search."


async def test_vector_side_down_shows_the_keyword_only_note(
    runtime: Runtime, embeddings: FakeEmbeddingsServer
) -> None:
    mine, _ = await _comparison(runtime, "ada@example.org", "[[simulate:tokens=3]] 東京の天気")
    embeddings.status = 503
    tab = await _tab(runtime)
    await S.search.fn(tab, {"q": "東京"})
    assert "keyword matches only" in tab.note and [row.id for row in tab.results] == [mine]
