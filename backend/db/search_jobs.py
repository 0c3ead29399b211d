"""The search indexer's outbox (table search_index_jobs): which comparisons must be (re)indexed or
removed from the vector index. A row stays until the index has the change, so nothing is lost
when the vector side is down; claims let several processes share the work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Update, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import SearchIndexJob, utcnow

INDEX = "index"
DELETE = "delete"


@dataclass(frozen=True, slots=True)
class IndexJob:
    comparison_id: str
    project_id: str
    action: str
    version: int
    attempts: int


def _renewal(comparison_id: str, project_id: str, action: str, now: datetime) -> Update:
    """The update that replaces an older request for the comparison (and bumps its version)."""
    values = {
        "project_id": project_id,
        "action": action,
        "version": SearchIndexJob.version + 1,
        "attempts": 0,
        "not_before": now,
        "last_error": "",
        "updated_at": now,
    }
    return update(SearchIndexJob).where(SearchIndexJob.comparison_id == comparison_id).values(**values)


def _new_job(comparison_id: str, project_id: str, action: str, now: datetime) -> dict[str, Any]:
    """A fresh job's columns, for both ways of asking (request_job_in, request_job)."""
    return {
        "comparison_id": comparison_id,
        "project_id": project_id,
        "action": action,
        "version": 0,
        "attempts": 0,
        "not_before": now,
        "last_error": "",
        "updated_at": now,
    }


def request_job_in(connection: Connection, comparison_id: str, project_id: str, action: str) -> None:
    """`request_job` inside the caller's transaction (`Database.write`: one thread hop with the
    reads that decided it). Another process inserting the same job at the same moment makes the
    insert raise IntegrityError: the caller's transaction is rolled back, and asking again in a
    new one bumps that job instead."""
    now = utcnow()
    if getattr(connection.execute(_renewal(comparison_id, project_id, action, now)), "rowcount", 0):
        return
    connection.execute(insert(SearchIndexJob).values(**_new_job(comparison_id, project_id, action, now)))


async def request_job(session: AsyncSession, comparison_id: str, project_id: str, action: str) -> None:
    """Ask for the comparison to be indexed (or removed) as it is now; replaces an older request."""
    now = utcnow()
    stmt = _renewal(comparison_id, project_id, action, now)
    if getattr(await session.execute(stmt), "rowcount", 0):
        await session.commit()
        return
    session.add(SearchIndexJob(**_new_job(comparison_id, project_id, action, now)))
    try:
        await session.commit()
    except IntegrityError:  # another process asked at the same moment: bump theirs instead
        await session.rollback()
        await session.execute(stmt)
        await session.commit()


async def due_jobs(session: AsyncSession, limit: int) -> list[IndexJob]:
    now = utcnow()
    stmt = (
        select(
            SearchIndexJob.comparison_id,
            SearchIndexJob.project_id,
            SearchIndexJob.action,
            SearchIndexJob.version,
            SearchIndexJob.attempts,
        )
        .where(
            SearchIndexJob.not_before <= now,
            or_(SearchIndexJob.claim_expires_at.is_(None), SearchIndexJob.claim_expires_at < now),
        )
        .order_by(SearchIndexJob.not_before)
        .limit(limit)
    )
    return [IndexJob(*row) for row in (await session.execute(stmt)).all()]


async def claim_job(session: AsyncSession, job: IndexJob, holder: str, lease_s: float) -> bool:
    now = utcnow()
    stmt = (
        update(SearchIndexJob)
        .where(
            SearchIndexJob.comparison_id == job.comparison_id,
            SearchIndexJob.version == job.version,
            or_(SearchIndexJob.claim_expires_at.is_(None), SearchIndexJob.claim_expires_at < now),
        )
        .values(claimed_by=holder, claim_expires_at=now + timedelta(seconds=lease_s))
    )
    claimed = bool(getattr(await session.execute(stmt), "rowcount", 0))
    await session.commit()
    return claimed


async def finish_job(session: AsyncSession, job: IndexJob) -> None:
    """Done: remove the row, unless a newer request came in meanwhile (then it stays, unclaimed)."""
    await session.execute(
        delete(SearchIndexJob).where(
            SearchIndexJob.comparison_id == job.comparison_id, SearchIndexJob.version == job.version
        )
    )
    await session.execute(
        update(SearchIndexJob)
        .where(SearchIndexJob.comparison_id == job.comparison_id)
        .values(claimed_by=None, claim_expires_at=None)
    )
    await session.commit()


async def fail_job(session: AsyncSession, job: IndexJob, error: str, retry_in_s: float) -> None:
    retry_at: datetime = utcnow() + timedelta(seconds=retry_in_s)
    await session.execute(
        update(SearchIndexJob)
        .where(SearchIndexJob.comparison_id == job.comparison_id, SearchIndexJob.version == job.version)
        .values(
            attempts=SearchIndexJob.attempts + 1,
            not_before=retry_at,
            last_error=error[:1000],
            claimed_by=None,
            claim_expires_at=None,
        )
    )
    await session.execute(
        update(SearchIndexJob)
        .where(SearchIndexJob.comparison_id == job.comparison_id)
        .values(claimed_by=None, claim_expires_at=None)
    )
    await session.commit()


async def pending_count(session: AsyncSession, project_ids: Sequence[str] | None = None) -> int:
    """Jobs not done yet; with `project_ids`, only the comparisons of those projects waiting to be
    indexed (the outbox is short, so no index of its own is needed)."""
    stmt = select(func.count(SearchIndexJob.comparison_id))
    if project_ids is not None:
        stmt = stmt.where(SearchIndexJob.project_id.in_(list(project_ids)), SearchIndexJob.action == INDEX)
    return int((await session.execute(stmt)).scalar_one())
