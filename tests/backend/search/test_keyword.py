"""The keyword side on each engine's full-text index (migration 0018): SQLite FTS5 with the
trigram tokenizer (LIKE for terms under 3 characters), PostgreSQL pg_trgm GIN indexes.
Comparisons are written through the ORM, so the SQLite triggers that keep the index are what
these tests exercise; nothing is put into the index by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from backend.db.engine import Database
from backend.db.models import Comparison, Project, ProjectMember, Run, User
from backend.search.keyword import keyword_ids
from devstack.postgres import make_database_url
from tests.db_support import DATABASE_KINDS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with make_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.upgrade()
    async with database.session() as session:
        session.add_all([User(id="ada", email="ada@example.org"), User(id="eve", email="eve@example.org")])
        await session.flush()
        session.add_all(
            [Project(id="pa", owner_id="ada", name="A"), Project(id="pe", owner_id="eve", name="E")]
        )
        await session.flush()
        session.add_all(
            [
                ProjectMember(project_id="pa", user_id="ada", email="ada@example.org", role="owner"),
                ProjectMember(project_id="pe", user_id="eve", email="eve@example.org", role="owner"),
            ]
        )
        await session.commit()
    try:
        yield database
    finally:
        await database.dispose()


async def add(
    db: Database,
    cid: str,
    prompt: str,
    answers: tuple[str, ...] = (),
    *,
    minutes: int = 0,
    project: str = "pa",
) -> None:
    async with db.session() as session:
        session.add(
            Comparison(
                id=cid,
                project_id=project,
                user_id="ada" if project == "pa" else "eve",
                prompt=prompt,
                created_at=T0 + timedelta(minutes=minutes),
            )
        )
        await session.flush()
        for position in range(len(answers)):
            session.add(
                Run(
                    id=f"{cid}-r{position}",
                    comparison_id=cid,
                    position=position,
                    provider="simulated",
                    model="simulated:swift",
                    output_text="",
                )
            )
        await session.flush()
        for position, answer in enumerate(answers):  # answers arrive when the runs end
            await session.execute(
                update(Run).where(Run.id == f"{cid}-r{position}").values(output_text=answer)
            )
        await session.commit()


async def find(db: Database, query: str, user: str = "ada", projects: tuple[str, ...] = ("pa",)) -> list[str]:
    async with db.session() as session:
        return await keyword_ids(session, user, projects, query, 20)


async def test_english_and_japanese_terms_in_the_prompt_or_an_answer(db: Database) -> None:
    await add(db, "soup", "Give me a recipe for miso soup", ("Dissolve the paste in dashi; add TOFU.",))
    await add(
        db, "jsoup", "豆腐とわかめの味噌汁のレシピを教えてください", ("だしに味噌を溶きます。",), minutes=1
    )
    await add(db, "kyoto", "京都観光の3日間の旅程を提案して", ("一日目は清水寺へ。",), minutes=2)
    await add(db, "tcp", "Explain the difference between TCP and UDP", ("TCP retransmits.",), minutes=3)

    assert await find(db, "miso") == ["soup"]
    assert await find(db, "MISO tofu") == ["soup"]  # case folded; one term in an answer
    assert await find(db, "miso udp") == []  # every term must be in the comparison
    assert await find(db, "味噌汁") == ["jsoup"]  # a Japanese trigram phrase
    assert await find(db, "味噌") == ["jsoup"]  # 2 characters: below a trigram, matched by LIKE
    assert await find(db, "京都 清水寺") == ["kyoto"]  # one short, one long, the long in an answer
    assert await find(db, "tcp") == ["tcp"]
    assert await find(db, "ud") == ["tcp"]  # a short English term
    assert await find(db, "retransmit") == ["tcp"]  # a substring of a word in an answer


async def test_a_match_in_the_prompt_ranks_above_one_only_in_an_answer(db: Database) -> None:
    await add(db, "prompt-hit", "How does compound interest grow savings?", ("It adds up.",), minutes=0)
    await add(
        db, "answer-hit", "Explain bank accounts", ("Savings earn compound interest monthly.",), minutes=5
    )
    await add(db, "far-apart", "Compound words in German, and the interest rate", (), minutes=9)
    for n in range(6):  # other comparisons, so the terms are rare as in a real history (bm25's idf)
        await add(db, f"other{n}", f"Unrelated question number {n}", ("An answer.",), minutes=n)
    # The newest is not first: the score is the engine's (FTS5 bm25 / pg_trgm word_similarity).
    ranked = await find(db, "compound interest")
    assert ranked[0] == "prompt-hit"
    assert set(ranked) == {"prompt-hit", "answer-hit", "far-apart"}


async def test_the_index_follows_retries_edits_and_deletes(db: Database, database_url: str) -> None:
    await add(db, "c1", "Weekly report", ("The zebra crossing was repainted.",))
    assert await find(db, "zebra") == ["c1"]
    async with db.session() as session:  # a retry clears the answer
        await session.execute(update(Run).where(Run.id == "c1-r0").values(output_text=""))
        await session.commit()
    assert await find(db, "zebra") == []
    async with db.session() as session:
        await session.execute(update(Run).where(Run.id == "c1-r0").values(output_text="A giraffe now."))
        await session.execute(update(Comparison).where(Comparison.id == "c1").values(prompt="Monthly memo"))
        await session.commit()
    assert await find(db, "giraffe monthly") == ["c1"]
    assert await find(db, "weekly") == []
    async with db.session() as session:
        await session.execute(delete(Comparison).where(Comparison.id == "c1"))
        await session.commit()
    assert await find(db, "giraffe") == []
    if database_url.startswith("sqlite"):  # the index's document went with it
        async with db.session() as session:
            assert (await session.execute(text("SELECT count(*) FROM search_docs"))).scalar_one() == 0


async def test_only_readable_comparisons(db: Database) -> None:
    await add(db, "mine", "Quarterly sales figures")
    await add(db, "theirs", "Quarterly merger plan", project="pe")
    assert await find(db, "quarterly") == ["mine"]
    assert await find(db, "quarterly", projects=("pa", "pe")) == ["mine"]  # not a member of pe
    assert await find(db, "quarterly", user="eve", projects=("pe",)) == ["theirs"]


async def test_query_syntax_is_text(db: Database) -> None:
    """FTS5 operators, quotes and LIKE wildcards in a query are searched for as written."""
    await add(db, "pct", 'A 50% discount on "NEAR" items_list OR more')
    await add(db, "plain", "A 50 euro discount near items", minutes=1)
    assert await find(db, "50%") == ["pct"]
    assert await find(db, '"NEAR"') == ["pct"]
    assert await find(db, "items_list") == ["pct"]
    assert await find(db, "OR") == ["pct"]  # a 2-character term, not an operator
    assert await find(db, "AND NOT") == []
    assert await find(db, "*") == []
