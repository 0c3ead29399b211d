"""The async database handle: engine, sessions and schema upgrades.

``Database(url)`` takes the *sync* SQLAlchemy URL from
``Settings.resolved_database_url`` (``sqlite:///...`` or
``postgresql+psycopg://...``) and drives it through the matching async driver
(aiosqlite, or psycopg 3 which is async-capable). Nothing connects until the
first session or upgrade.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from alembic import command
from backend import tracing

T = TypeVar("T")

_REPO_ROOT = Path(__file__).resolve().parents[2]
_ALEMBIC_INI = _REPO_ROOT / "alembic.ini"
_ALEMBIC_DIR = _REPO_ROOT / "alembic"


def _backend(url: URL) -> str:
    return url.get_backend_name()


def to_async_url(url: str | URL) -> URL:
    """``sqlite:///x`` -> ``sqlite+aiosqlite:///x``; PostgreSQL -> ``postgresql+psycopg``."""
    parsed = make_url(url)
    backend = _backend(parsed)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")


def to_sync_url(url: str | URL) -> URL:
    """The blocking counterpart used for migrations (psycopg 3 serves both)."""
    parsed = make_url(url)
    backend = _backend(parsed)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")


def sqlite_file_path(url: str | URL) -> Path | None:
    """The database file of a SQLite URL (None for in-memory)."""
    url = make_url(url)
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _install_sqlite_pragmas(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL stays consistent after a crash and skips an fsync per commit,
            # which is most of the cost of submitting a comparison on the embedded database.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic config for programmatic use; leaves the app's logging alone."""
    cfg = Config(str(_ALEMBIC_INI)) if _ALEMBIC_INI.is_file() else Config()
    cfg.set_main_option("script_location", str(_ALEMBIC_DIR))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


MIGRATION_LOCK_KEY = 0x11D05A5B  # any constant; names the "migrating" advisory lock


class Database:
    """One per process. Use :meth:`session` for work, :meth:`dispose` at shutdown."""

    def __init__(self, url: str, pool_size: int = 5, max_overflow: int = 10, echo: bool = False) -> None:
        self.sync_url = to_sync_url(url)
        self.async_url = to_async_url(url)
        self.backend = _backend(self.async_url)
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._sqlite_sync_engine: Engine | None = None
        self._sqlite_thread: ThreadPoolExecutor | None = None
        # Decided once: write and read are on every run's path (make_url and a Path cost 30 us a call).
        self._sqlite_file = self.backend == "sqlite" and sqlite_file_path(self.sync_url) is not None

    def __repr__(self) -> str:
        return f"Database({self.async_url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> AsyncEngine:
        """The async engine, created on first use."""
        if self._engine is None:
            self._engine = self._create_engine()
            self._sessionmaker = async_sessionmaker(self._engine, expire_on_commit=False)
        return self._engine

    def _create_engine(self) -> AsyncEngine:
        # Outside any trace: made inside a trace not kept, the engine would never be instrumented.
        with tracing.outside_traces():
            return self._new_engine()

    def _new_engine(self) -> AsyncEngine:
        # Through the module's attribute, looked up now: with tracing on, OpenTelemetry's SQLAlchemy
        # instrumentation has wrapped it, and engines made from then on trace their statements.
        create_async_engine = sqlalchemy_asyncio.create_async_engine
        if self.backend == "sqlite":
            self._ensure_sqlite_dir()
            engine = create_async_engine(self.async_url, echo=self._echo)
            _install_sqlite_pragmas(engine.sync_engine, foreign_keys=True)
            return engine
        return create_async_engine(
            self.async_url,
            echo=self._echo,
            pool_size=self._pool_size,
            max_overflow=self._max_overflow,
            pool_pre_ping=True,
        )

    def _ensure_sqlite_dir(self) -> None:
        path = sqlite_file_path(self.sync_url)
        if path is not None:
            path.resolve().parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An AsyncSession; rolled back if the block raises, always closed."""
        _ = self.engine
        assert self._sessionmaker is not None
        async with self._sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` (sync Core statements on a Connection) as one transaction: committed if it
        returns, rolled back if it raises.

        On a SQLite file it runs in one worker-thread hop over a plain pysqlite engine: aiosqlite
        hops threads for every step of every statement, and on the path to a run's first token
        those hops cost more than the statements (saving a comparison and its run: 2.2 ms through
        the async session, 0.9 ms in one hop).  On PostgreSQL the same function runs on the async
        engine through ``run_sync``."""
        if self._sqlite_file:
            return await self._on_sqlite_thread(work)
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run `work` (sync Core reads on a Connection) in one transaction and return its result:
        :meth:`write`'s single hop, for reads on the path to a run's first token."""
        return await self.write(work)

    def _on_sqlite_thread(self, work: Callable[[Connection], T]) -> asyncio.Future[T]:
        """`work` in a transaction on the one thread this database gives SQLite (in the caller's
        context, as asyncio.to_thread runs it: the trace it belongs to). SQLite takes one writer at a
        time anyway; a pool of threads only makes them contend for its lock and for the GIL, against
        the event loop: 50 comparisons started at once cost 19 ms of the process's CPU each on
        asyncio's default executor, 14 ms on one thread (bench/RESULTS.md, 2026-12-05 session 14)."""
        if self._sqlite_thread is None:
            self._sqlite_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        engine, context = self._sqlite_engine(), contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._sqlite_thread, context.run, _in_transaction, engine, work)

    def _sqlite_engine(self) -> Engine:
        """The sync engine of :meth:`write`, made on the event loop's thread (no race)."""
        if self._sqlite_sync_engine is None:
            self._ensure_sqlite_dir()
            with tracing.outside_traces():  # made by the first write: maybe inside a trace not kept
                engine = sqlalchemy.create_engine(self.sync_url, echo=self._echo)  # traced when on (above)
            _install_sqlite_pragmas(engine, foreign_keys=True)
            self._sqlite_sync_engine = engine
        return self._sqlite_sync_engine

    async def upgrade(self, revision: str = "head") -> None:
        """``alembic upgrade head`` in a worker thread over a sync engine."""
        await asyncio.to_thread(self._run_alembic, command.upgrade, revision)

    async def downgrade(self, revision: str) -> None:
        """``alembic downgrade <revision>`` (e.g. ``"-1"`` or ``"base"``)."""
        await asyncio.to_thread(self._run_alembic, command.downgrade, revision)

    def _run_alembic(self, fn: Callable[[Config, str], None], revision: str) -> None:
        if self.backend == "sqlite":
            self._ensure_sqlite_dir()
        engine = create_engine(self.sync_url, poolclass=NullPool, echo=self._echo)
        if self.backend == "sqlite":
            # Off during migrations: batch mode rebuilds tables, which must not cascade.
            _install_sqlite_pragmas(engine, foreign_keys=False)
        try:
            with engine.begin() as connection:
                if self.backend == "postgresql":
                    # Several backend processes start at once (Reflex runs one per core with
                    # Redis): one migrates, the others wait here, then find nothing to do.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                fn(alembic_config(connection), revision)
        finally:
            engine.dispose()

    async def dispose(self) -> None:
        if self._sqlite_thread is not None:  # after the work already handed to it
            await asyncio.to_thread(self._sqlite_thread.shutdown, True)
            self._sqlite_thread = None
        if self._sqlite_sync_engine is not None:
            await asyncio.to_thread(self._sqlite_sync_engine.dispose)
            self._sqlite_sync_engine = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
            self._sessionmaker = None


def _in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)
