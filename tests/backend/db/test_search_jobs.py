"""The search indexer's outbox: a request for a comparison is kept once and never lost."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.db.engine import Database
from backend.db.models import SearchIndexJob
from backend.db.search_jobs import INDEX, request_job
from tests.support.db_race import meanwhile_after_first_statement


@pytest.mark.postgres
@pytest.mark.parametrize("database_kind", ["postgresql"])  # SQLite lets one writer in at a time
async def test_two_processes_asking_at_once_leave_one_job_bumped_not_a_lost_request(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database.session() as other, database.session() as this:
        # This one finds no job to bump; another process inserts it right then.
        statements = meanwhile_after_first_statement(
            this, monkeypatch, lambda: request_job(other, "c1", "p1", INDEX)
        )
        await request_job(this, "c1", "p1", INDEX)  # its insert collides: it bumps the other's job
    async with database.session() as session:
        rows = (await session.execute(select(SearchIndexJob.comparison_id, SearchIndexJob.version))).all()
    assert [tuple(row) for row in rows] == [("c1", 1)]  # one job; the second request counted
    assert statements.count == 2  # the renewal, then the renewal again after the collision
