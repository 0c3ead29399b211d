"""The votes repository on SQLite and PostgreSQL: one row per voter and comparison, changed
in place, gone with its comparison; a project's votes come with their panes' models."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.db import votes as repo
from backend.db.comparisons import create_comparison, delete_comparison
from backend.db.engine import Database
from backend.db.models import Vote
from backend.db.records import ComparisonRecord, NewRun, UserRecord
from backend.db.users import ensure_user
from backend.db.votes import VoteRecord

MODELS = ("simulated:instant", "simulated:swift")


async def _comparison(database: Database, user: UserRecord) -> ComparisonRecord:
    return await create_comparison(
        database,
        user_id=user.id,
        project_id=user.default_project_id,
        prompt="Hello",
        runs=[NewRun(model=m, provider="simulated") for m in MODELS],
    )


async def _save(database: Database, comparison_id: str, user_id: str, best: int | None = 0) -> VoteRecord:
    async with database.session() as session:
        return await repo.save_vote(
            session,
            comparison_id=comparison_id,
            user_id=user_id,
            best_pane=best,
            no_winner=None if best is not None else "tie",
            thumbs=["up", None],
            comment="fine",
        )


async def _count(database: Database) -> int:
    async with database.session() as session:
        return int((await session.execute(select(func.count(Vote.id)))).scalar_one())


async def test_voting_again_replaces_the_vote(database: Database) -> None:
    async with database.session() as session:
        ada = await ensure_user(session, "ada@example.org")
    comparison = await _comparison(database, ada)
    first = await _save(database, comparison.id, ada.id, best=0)
    second = await _save(database, comparison.id, ada.id, best=None)
    assert await _count(database) == 1
    assert (second.best_pane, second.no_winner, second.thumbs) == (None, "tie", ("up", None))
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at


async def test_two_requests_of_one_voter_at_once_leave_one_vote(database: Database) -> None:
    async with database.session() as session:
        ada = await ensure_user(session, "ada@example.org")
    comparison = await _comparison(database, ada)
    await asyncio.gather(*(_save(database, comparison.id, ada.id, best=i % 2) for i in range(6)))
    assert await _count(database) == 1


async def test_the_table_refuses_a_second_row_and_a_vote_naming_nothing(database: Database) -> None:
    async with database.session() as session:
        ada = await ensure_user(session, "ada@example.org")
    comparison = await _comparison(database, ada)
    await _save(database, comparison.id, ada.id)
    for extra in (
        Vote(comparison_id=comparison.id, user_id=ada.id, best_pane=1, thumbs=[]),
        Vote(comparison_id=comparison.id, user_id=ada.id, best_pane=None, no_winner=None, thumbs=[]),
    ):
        async with database.session() as session:
            session.add(extra)
            with pytest.raises(IntegrityError):
                await session.commit()


async def test_deleting_a_comparison_deletes_its_votes(database: Database) -> None:
    async with database.session() as session:
        ada = await ensure_user(session, "ada@example.org")
        bob = await ensure_user(session, "bob@example.org")
    kept, gone = await _comparison(database, ada), await _comparison(database, ada)
    for comparison_id in (kept.id, gone.id):
        await _save(database, comparison_id, ada.id)
    await _save(database, gone.id, bob.id, best=1)
    async with database.session() as session:
        before = await repo.project_fingerprint(session, ada.default_project_id)
        await delete_comparison(session, gone.id)
        after = await repo.project_fingerprint(session, ada.default_project_id)
        project = await repo.project_votes(session, ada.default_project_id)
    assert await _count(database) == 1
    assert before != after
    assert [(v.comparison_id, models) for v, models in project] == [(kept.id, MODELS)]
