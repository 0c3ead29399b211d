from __future__ import annotations

import asyncio
import contextvars
import threading
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
    await asyncio.gather(*(database.write(_insert_user(n)) for n in range(60)))
    assert await _users(database) == 60


SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="")


async def test_on_a_sqlite_file_every_write_and_read_runs_on_one_thread_in_the_callers_context(
    tmp_path: Path,
) -> None:
    """One thread for SQLite's work (it takes one writer at a time; more threads only contend for
    its lock and the GIL), with the caller's context variables (the trace a statement belongs to),
    and the thread is gone after dispose."""
    database = Database(f"sqlite:///{tmp_path / 'one.db'}")

    def create(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))

    def insert(n: int) -> Callable[[Connection], tuple[int, str]]:
        def work(connection: Connection) -> tuple[int, str]:
            connection.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
            return threading.get_ident(), SEEN.get()

        return work

    async def in_context(n: int) -> tuple[int, str]:
        SEEN.set(f"caller {n}")
        return await database.write(insert(n))

    await database.write(create)
    answers = await asyncio.gather(*(in_context(n) for n in range(40)))
    threads = {thread for thread, _ in answers}
    assert len(threads) == 1 and threads != {threading.get_ident()}
    assert [seen for _, seen in answers] == [f"caller {n}" for n in range(40)]

    def count(connection: Connection) -> tuple[int, int]:
        return threading.get_ident(), int(connection.execute(text("SELECT count(*) FROM t")).scalar_one())

    counted = await database.read(count)
    assert counted == (threads.pop(), 40)
    names = {t.name for t in threading.enumerate()}
    assert any(name.startswith("sqlite") for name in names)
    await database.dispose()
    assert not any(t.name.startswith("sqlite") for t in threading.enumerate())
