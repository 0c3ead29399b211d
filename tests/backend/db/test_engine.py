from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from backend.db.engine import Database, to_async_url, to_sync_url
from devstack.postgres import postgres_database


@pytest.mark.parametrize(
    ("sync", "expected"),
    [
        ("sqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_to_async_url(sync: str, expected: str) -> None:
    assert to_async_url(sync).render_as_string(hide_password=False) == expected


def test_to_sync_url() -> None:
    assert str(to_sync_url("sqlite+aiosqlite:////abs/x.db")) == "sqlite:////abs/x.db"
    assert str(to_sync_url("postgresql://u@h/d")) == "postgresql+psycopg://u@h/d"


def test_unsupported_backend() -> None:
    with pytest.raises(ValueError, match="mysql"):
        Database("mysql://u@h/d")


def test_init_does_no_work(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "app.db"
    db = Database(f"sqlite:///{path}")
    assert db._engine is None
    assert not path.parent.exists()
    assert "p@ss" not in repr(Database("postgresql://u:p@ss@h/d"))


async def test_sqlite_creates_parent_dir_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "app.db"
    db = Database(f"sqlite:///{path}")
    try:
        async with db.session() as s:
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert path.is_file()
    finally:
        await db.dispose()
    assert db._engine is None


@pytest.mark.postgres
async def test_postgres_pool_sized_from_args() -> None:
    with postgres_database() as url:
        db = Database(url, pool_size=3, max_overflow=4)
        try:
            pool = db.engine.pool
            assert pool.size() == 3  # type: ignore[attr-defined]
            assert pool._max_overflow == 4  # type: ignore[attr-defined]
            async with db.session() as s:
                assert (await s.execute(text("SELECT current_database()"))).scalar_one() == url.rsplit(
                    "/", 1
                )[1]
        finally:
            await db.dispose()


async def test_session_rolls_back_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.session() as s:
            await s.execute(
                text(
                    "INSERT INTO users (id, email, display_name, created_at) "
                    "VALUES ('u1', 'a@b.c', '', CURRENT_TIMESTAMP)"
                )
            )
            raise RuntimeError("boom")
    async with database.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0


def _insert_user(n: int) -> Callable[[Connection], None]:
    def work(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO users (id, email, display_name, created_at) "
                "VALUES (:id, :email, '', CURRENT_TIMESTAMP)"
            ),
            {"id": f"u{n}", "email": f"u{n}@example.org"},
        )

    return work


async def _users(database: Database) -> int:
    async with database.session() as s:
        return int((await s.execute(text("SELECT count(*) FROM users"))).scalar_one())


async def test_write_commits_what_it_returns_from_and_rolls_back_what_raises(database: Database) -> None:
    def insert_and_answer(connection: Connection) -> str:
        _insert_user(1)(connection)
        return "returned"

    assert await database.write(insert_and_answer) == "returned"

    def half_then_fail(connection: Connection) -> None:
        _insert_user(2)(connection)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await database.write(half_then_fail)
    assert await _users(database) == 1  # the session sees what write committed, and only that


async def test_concurrent_writes_all_land(database: Database) -> None:
    # On SQLite they run on several threads of the default executor, each over a pooled connection.
    await asyncio.gather(*(database.write(_insert_user(n)) for n in range(60)))
    assert await _users(database) == 60
