"""Who may see the model ids of a blind comparison: those who voted on it or revealed it.

Functions that write commit their own transaction.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Comparison, Reveal, Vote, new_id, utcnow


async def add_reveal(session: AsyncSession, comparison_id: str, user_id: str) -> None:
    """Record that the user revealed the comparison; revealing twice changes nothing."""
    if await revealed_among(session, user_id, [comparison_id]):
        return
    session.add(Reveal(id=new_id(), comparison_id=comparison_id, user_id=user_id, created_at=utcnow()))
    try:
        await session.commit()
    except IntegrityError:  # a second tab revealed it in the meantime: same outcome
        await session.rollback()


async def revealed_among(session: AsyncSession, user_id: str, comparison_ids: Collection[str]) -> set[str]:
    """The ids among ``comparison_ids`` the user has revealed or voted on (one query)."""
    if not comparison_ids:
        return set()
    ids = list(comparison_ids)
    query = union(
        select(Reveal.comparison_id).where(Reveal.user_id == user_id, Reveal.comparison_id.in_(ids)),
        select(Vote.comparison_id).where(Vote.user_id == user_id, Vote.comparison_id.in_(ids)),
    )
    return set((await session.execute(query)).scalars())


async def is_blind(session: AsyncSession, comparison_id: str) -> bool:
    settings = (
        await session.execute(select(Comparison.settings).where(Comparison.id == comparison_id))
    ).scalar_one_or_none()
    return bool((settings or {}).get("blind", False))
