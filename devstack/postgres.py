"""Throw-away databases for tests and bench.

``make_database_url("sqlite", tmp_path)`` yields a file URL under ``tmp_path``;
``make_database_url("postgresql", tmp_path)`` creates a brand-new database on the
local server (``LLMDASH_TEST_PG_DSN``, default ``host=127.0.0.1 port=5432
user=postgres dbname=postgres``) and drops it afterwards. Both yield a *sync*
SQLAlchemy URL, the same shape as ``Settings.resolved_database_url``.

To parametrise a pytest fixture over both engines, see ``tests.db_support.DATABASE_KINDS``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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


@contextmanager
def postgres_database() -> Iterator[str]:
    """CREATE a uniquely named database, yield its URL, DROP it ``WITH (FORCE)``."""
    name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
