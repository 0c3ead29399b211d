"""Helpers shared by the security tests: attack strings, anonymous API clients and a
snapshot of everything saved (to prove a refused attempt changed nothing)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from backend.api.app import create_api
from backend.db.models import Base
from backend.runtime import Runtime

PREFIX = "/api/v1"

# Classic SQL tautologies and comment tricks, as a token, cookie or link would carry them.
SQL_TAUTOLOGIES = [
    "' OR '1'='1",
    "' OR 1=1 --",
    '" OR ""="',
    "llmd_' OR 1=1 --",
    "llmd_x' UNION SELECT token_hash FROM api_tokens --",
    "'; DROP TABLE users; --",
    "admin'--",
    "' OR ''='",
    "1' OR '1'='1' /*",
    "%' OR 1=1 --",
]

# What a refusal must never show: driver, SQL or stack-trace words.
DB_ERROR_WORDS = (
    "sqlalchemy",
    "sqlite",
    "psycopg",
    "select ",
    "syntax error",
    "traceback",
    "operationalerror",
)


def anonymous(rt: Runtime, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An in-process API client with only the given headers (no token unless given)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(lambda: rt)),
        base_url="http://testserver",
        headers=headers or {},
        timeout=30.0,
    )


def shows_no_db_error(text: str) -> bool:
    lowered = text.lower()
    return not any(word in lowered for word in DB_ERROR_WORDS)


# Bookkeeping that a legitimate request by the attacker's own token updates.
UNTRACKED_COLUMNS = frozenset({"api_tokens.last_used_at"})


async def saved_rows(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal snapshots mean nothing saved changed."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    async with rt.db.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if f"{table.name}.{c.name}" not in UNTRACKED_COLUMNS]
            rows = (await session.execute(select(*columns))).all()
            snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot
