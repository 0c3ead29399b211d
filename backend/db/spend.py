"""Queries behind per-user budgets: the monthly limit and what has been spent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Comparison, Run, User


async def monthly_budget(session: AsyncSession, user_id: str) -> float | None:
    """The user's monthly limit in USD (None: no limit, or no such user)."""
    stmt = select(User.monthly_budget_usd).where(User.id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def spent_since(session: AsyncSession, user_id: str, since: datetime) -> float:
    """Cost of the runs of the user's comparisons that finished at or after ``since``.

    Runs are counted when they finish (a retry this month of an older comparison
    is this month's spend); runs still streaming have no cost yet.
    """
    stmt = (
        select(func.coalesce(func.sum(Run.cost_usd), 0.0))
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(Comparison.user_id == user_id, Run.finished_at >= since)
    )
    return float((await session.execute(stmt)).scalar_one())
