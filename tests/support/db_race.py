"""A race between two database sessions, made to happen: another process acts between a
session's first statement (a look-up that found nothing) and the write that follows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession


class Statements:
    """How many statements the raced session ran."""

    count = 0


def meanwhile_after_first_statement(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], Awaitable[object]]
) -> Statements:
    """`meanwhile` runs once `session`'s first statement has its answer, before the caller sees it."""
    original = session.execute
    statements = Statements()

    async def execute(*args: Any, **kwargs: Any) -> Any:
        statements.count += 1
        result = await original(*args, **kwargs)
        if statements.count == 1:
            await meanwhile()
        return result

    monkeypatch.setattr(session, "execute", execute)
    return statements
