"""Queries for share links, and the copy of a comparison that forking one makes.

A share row holds the SHA-256 of its link's token, never the token: the service
hashes what a visitor brings and looks it up by equality on a unique index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Comparison, Run, Share, User, new_id, utcnow
from backend.db.records import FINAL_STATUSES, ComparisonRecord, RunRecord, RunStatus
from backend.db.turns import copy_turns


@dataclass(frozen=True, slots=True)
class ShareInfo:
    id: str
    comparison_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


_COLUMNS = (
    Share.id,
    Share.comparison_id,
    Share.created_by,
    Share.created_at,
    Share.expires_at,
    Share.revoked_at,
)


async def create_share(
    session: AsyncSession,
    *,
    comparison_id: str,
    token_hash: str,
    created_by: str,
    expires_at: datetime | None,
) -> ShareInfo:
    info = ShareInfo(
        id=new_id(),
        comparison_id=comparison_id,
        created_by=created_by,
        created_at=utcnow(),
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(
        Share(
            id=info.id,
            comparison_id=comparison_id,
            token_hash=token_hash,
            created_by=created_by,
            created_at=info.created_at,
            expires_at=expires_at,
        )
    )
    await session.commit()
    return info


async def list_shares(session: AsyncSession, comparison_id: str) -> list[ShareInfo]:
    """Newest first."""
    stmt = (
        select(*_COLUMNS)
        .where(Share.comparison_id == comparison_id)
        .order_by(Share.created_at.desc(), Share.id.desc())
    )
    return [ShareInfo(*row) for row in (await session.execute(stmt)).all()]


async def get_share(session: AsyncSession, share_id: str) -> ShareInfo | None:
    row = (await session.execute(select(*_COLUMNS).where(Share.id == share_id))).one_or_none()
    return None if row is None else ShareInfo(*row)


async def share_by_token_hash(session: AsyncSession, token_hash: str) -> ShareInfo | None:
    row = (await session.execute(select(*_COLUMNS).where(Share.token_hash == token_hash))).one_or_none()
    return None if row is None else ShareInfo(*row)


async def revoke_share(session: AsyncSession, share_id: str) -> None:
    """Idempotent: a link revoked before keeps the time it was first revoked."""
    await session.execute(
        update(Share).where(Share.id == share_id, Share.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    await session.commit()


async def display_name(session: AsyncSession, user_id: str) -> str:
    name = (await session.execute(select(User.display_name).where(User.id == user_id))).scalar_one_or_none()
    return name or ""


async def copy_comparison(
    session: AsyncSession, source: ComparisonRecord, *, user_id: str, project_id: str
) -> ComparisonRecord:
    """A new comparison owned by ``user_id`` in ``project_id`` holding the source's prompt,
    settings and runs with their saved outputs and metrics, in one transaction.

    Runs that had not finished are copied as cancelled: nothing would ever finish them.
    Copied runs have no ``finished_at``: it marks a provider call made for this
    comparison's user, which is what budgets count (backend/db/spend.py), and the
    forker made none. A retry of a copied run sets it as usual.
    """
    now = utcnow()
    comparison_id = new_id()
    # A copy: its figures are the original's; `forked_from` lets a second Fork ask first.
    settings: dict[str, Any] = {**source.settings, "forked": True, "forked_from": source.id}
    runs = tuple(_copied_run(run, comparison_id, now) for run in source.runs)
    past_runs = tuple(_copied_run(run, comparison_id, now) for run in source.past_runs)
    try:
        await session.execute(
            insert(Comparison),
            [
                {
                    "id": comparison_id,
                    "project_id": project_id,
                    "user_id": user_id,
                    "prompt": source.prompt,
                    "system_prompt": source.system_prompt,
                    "settings": settings,
                    "created_at": now,
                }
            ],
        )
        if runs:
            await session.execute(insert(Run), [_run_row(run) for run in (*runs, *past_runs)])
        await copy_turns(session, source.id, comparison_id, user_id)  # the whole conversation
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return ComparisonRecord(
        id=comparison_id,
        project_id=project_id,
        user_id=user_id,
        prompt=source.prompt,
        system_prompt=source.system_prompt,
        settings=settings,
        created_at=now,
        runs=runs,
        past_runs=past_runs,
        turns=source.turns,
    )


def _copied_run(run: RunRecord, comparison_id: str, now: datetime) -> RunRecord:
    final = run.status in FINAL_STATUSES
    return RunRecord(
        id=new_id(),
        comparison_id=comparison_id,
        position=run.position,
        provider=run.provider,
        model=run.model,
        params=run.params,
        attempt=0,
        status=run.status if final else RunStatus.CANCELLED.value,
        output_text=run.output_text,
        error=run.error,
        error_kind=run.error_kind,
        ttft_ms=run.ttft_ms,
        total_ms=run.total_ms,
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        cost_usd=run.cost_usd,
        cache_hit=run.cache_hit,
        created_at=now,
        finished_at=None,
        original_ttft_ms=run.original_ttft_ms,
        original_total_ms=run.original_total_ms,
        turn=run.turn,
    )


def _run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "comparison_id": run.comparison_id,
        "position": run.position,
        "turn": run.turn,
        "provider": run.provider,
        "model": run.model,
        "params": run.params.stored(),
        "attempt": run.attempt,
        "status": run.status,
        "output_text": run.output_text,
        "error": run.error,
        "error_kind": run.error_kind,
        "ttft_ms": run.ttft_ms,
        "total_ms": run.total_ms,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "cost_usd": run.cost_usd,
        "cache_hit": run.cache_hit,
        "original_ttft_ms": run.original_ttft_ms,
        "original_total_ms": run.original_total_ms,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


async def forks_of(session: AsyncSession, source_id: str, user_id: str) -> int:
    """How many copies of comparison ``source_id`` the user has made by forking it."""
    stmt = (
        select(func.count())
        .select_from(Comparison)
        .where(Comparison.user_id == user_id, Comparison.settings["forked_from"].as_string() == source_id)
    )
    return int((await session.execute(stmt)).scalar_one())
