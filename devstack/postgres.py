"""Throw-away databases for tests and bench.

``make_database_url("sqlite", tmp_path)`` yields a file URL under ``tmp_path``;
``make_database_url("postgresql", tmp_path)`` creates a brand-new database on the
local server (``LLMDASH_TEST_PG_DSN``, default ``host=127.0.0.1 port=5432
user=postgres dbname=postgres``) and drops it afterwards. Both yield a *sync*
SQLAlchemy URL, the same shape as ``Settings.resolved_database_url``.

``make_migrated_database_url`` yields the same, already at the newest migration: it copies a
database this process migrated once (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE``
on PostgreSQL), because migrating from scratch for every test cost a quarter of a second each,
minutes over the suite. The template is made from the code in this checkout, once per process,
so it never lags a migration added since.

To parametrise a pytest fixture over both engines, see ``tests.db_support.DATABASE_KINDS``.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

PG_ADMIN_DSN = os.environ.get("LLMDASH_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
TEST_DB_PREFIX = "llmdash_test_"


def _pg_url(database: str) -> str:
    info = conninfo_to_dict(PG_ADMIN_DSN)
    url = URL.create(
        "postgresql+psycopg",
        username=str(info.get("user") or "postgres"),
        password=str(info["password"]) if info.get("password") else None,
        host=str(info.get("host") or "127.0.0.1"),
        port=int(info.get("port") or 5432),
        database=database,
    )
    return url.render_as_string(hide_password=False)


def _create_pg(name: str, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(statement)


def _drop_pg(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """CREATE a uniquely named database (a copy of ``template`` if given), yield its URL, DROP it
    ``WITH (FORCE)``."""
    name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex}"
    _create_pg(name, template)
    try:
        yield _pg_url(name)
    finally:
        _drop_pg(name)


@contextmanager
def make_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of ``kind`` ("sqlite" or "postgresql"); not migrated."""
    if kind == "sqlite":
        yield f"sqlite:///{(tmp_path / 'db' / 'test.db').resolve()}"
    elif kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")


# --- migrated templates, one per kind and process --------------------------------------------
_templates: dict[str, str] = {}  # kind -> SQLite file path, or PostgreSQL database name
_templates_lock = threading.Lock()


def _migrate(url: str) -> None:
    """``alembic upgrade head`` on ``url`` from sync code, in a thread of its own: the caller
    may be a fixture running under an event loop."""
    from backend.db.engine import Database  # devstack serves the backend; imported when used

    async def upgrade() -> None:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, upgrade()).result()


def _template(kind: str) -> str:
    with _templates_lock:
        if kind not in _templates:
            if kind == "sqlite":
                folder = Path(tempfile.mkdtemp(prefix="llmdash-template-"))
                atexit.register(shutil.rmtree, folder, True)
                path = folder / "template.db"
                _migrate(f"sqlite:///{path}")
                _templates[kind] = str(path)
            else:
                name = f"{TEST_DB_PREFIX}template_{uuid.uuid4().hex}"
                _create_pg(name)
                atexit.register(_drop_pg, name)
                _migrate(_pg_url(name))
                _templates[kind] = name
        return _templates[kind]


def migrated_sqlite_url(tmp_path: Path, name: str = "test.db") -> str:
    """A SQLite file under ``tmp_path`` at the newest migration (nothing to clean up)."""
    path = (tmp_path / "db" / name).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template("sqlite"), path)
    return f"sqlite:///{path}"


@contextmanager
def make_migrated_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """Like :func:`make_database_url`, but the database is already at the newest migration."""
    if kind == "sqlite":
        yield migrated_sqlite_url(tmp_path)
    elif kind == "postgresql":
        with postgres_database(template=_template("postgresql")) as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")
