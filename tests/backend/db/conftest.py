"""Database fixtures, parametrised over SQLite and PostgreSQL.

Self-contained so it can move to ``tests/conftest.py`` unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import Database
from devstack.postgres import make_database_url, make_migrated_database_url
from tests.db_support import DATABASE_KINDS


@pytest.fixture(params=DATABASE_KINDS)
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(database_kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty (not migrated) database URL of each kind."""
    with make_database_url(database_kind, tmp_path) as url:
        yield url


@pytest.fixture
async def database(database_kind: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated ``Database`` on a fresh database of each kind (a copy of a migrated template)."""
    with make_migrated_database_url(database_kind, tmp_path) as url:
        db = Database(url)
        try:
            yield db
        finally:
            await db.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.session() as s:
        yield s
