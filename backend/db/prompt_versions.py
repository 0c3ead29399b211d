"""Queries for prompt versions: which version a comparison is, a prompt's versions with their
cost and votes, and recording an accepted improvement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Comparison, PromptVersion, Run, new_id, utcnow
from backend.db.projects import member_projects


@dataclass(frozen=True, slots=True)
class VersionRecord:
    lineage_id: str
    version: int
    comparison_id: str
    reason: str
    proposed_by: str
    created_at: datetime
    prompt: str
    system_prompt: str
    cost_usd: float  # what the version's runs cost


async def version_of(session: AsyncSession, comparison_id: str) -> tuple[str, int] | None:
    """(lineage id, version) of the comparison, or None if it is no recorded version."""
    stmt = select(PromptVersion.lineage_id, PromptVersion.version).where(
        PromptVersion.comparison_id == comparison_id
    )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], row[1])


async def version_numbers(
    session: AsyncSession, comparison_ids: Sequence[str], *, member_id: str
) -> dict[str, int]:
    """Which version of its prompt each of these comparisons is (those that are one), among
    comparisons in projects ``member_id`` belongs to: one query for a whole page of History."""
    if not comparison_ids:
        return {}
    stmt = (
        select(PromptVersion.comparison_id, PromptVersion.version)
        .join(Comparison, Comparison.id == PromptVersion.comparison_id)
        .where(
            PromptVersion.comparison_id.in_(list(comparison_ids)),
            Comparison.project_id.in_(member_projects(member_id)),
        )
    )
    return {cid: int(version) for cid, version in (await session.execute(stmt)).all()}


async def add_next_version(
    session: AsyncSession, *, source_comparison_id: str, new_comparison_id: str, reason: str, proposed_by: str
) -> tuple[str, int]:
    """Record the new comparison as the next version after the source's (which becomes version 1
    of a new prompt if it was none); (lineage id, new version)."""
    found = await version_of(session, source_comparison_id)
    now = utcnow()
    try:
        if found is None:
            lineage_id = source_comparison_id
            session.add(
                PromptVersion(
                    id=new_id(),
                    lineage_id=lineage_id,
                    version=1,
                    comparison_id=source_comparison_id,
                    created_at=now,
                )
            )
        else:
            lineage_id = found[0]
        await session.flush()
        latest = (
            await session.execute(
                select(func.max(PromptVersion.version)).where(PromptVersion.lineage_id == lineage_id)
            )
        ).scalar_one()
        version = int(latest or 0) + 1
        session.add(
            PromptVersion(
                id=new_id(),
                lineage_id=lineage_id,
                version=version,
                comparison_id=new_comparison_id,
                reason=reason,
                proposed_by=proposed_by,
                created_at=now,
            )
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return lineage_id, version


async def lineage(session: AsyncSession, lineage_id: str) -> list[VersionRecord]:
    """Every version of the prompt, in version order, with its comparison's prompt and cost."""
    cost = (
        select(Run.comparison_id, func.coalesce(func.sum(Run.cost_usd), 0.0).label("cost"))
        .group_by(Run.comparison_id)
        .subquery()
    )
    stmt = (
        select(PromptVersion, Comparison.prompt, Comparison.system_prompt, cost.c.cost)
        .join(Comparison, Comparison.id == PromptVersion.comparison_id)
        .outerjoin(cost, cost.c.comparison_id == PromptVersion.comparison_id)
        .where(PromptVersion.lineage_id == lineage_id)
        .order_by(PromptVersion.version)
    )
    return [
        VersionRecord(
            lineage_id=v.lineage_id,
            version=v.version,
            comparison_id=v.comparison_id,
            reason=v.reason,
            proposed_by=v.proposed_by,
            created_at=v.created_at,
            prompt=prompt,
            system_prompt=system_prompt,
            cost_usd=float(total or 0.0),
        )
        for v, prompt, system_prompt, total in (await session.execute(stmt)).all()
    ]
