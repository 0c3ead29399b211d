"""Run state: started, saved, retried, cancelled, failed at start-up; as async functions over an
``AsyncSession``.

Run state is guarded by ``attempt``: a retry bumps it, and any event carrying an older attempt
(a worker still streaming the previous try) is ignored. Functions that write commit their own
single transaction; they return frozen records from :mod:`backend.db.records`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Update, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.attempts import keep_current_attempt
from backend.db.comparisons import UNSTARTED
from backend.db.engine import Database
from backend.db.leases import NO_LEASE
from backend.db.models import Run, utcnow
from backend.db.records import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    INTERRUPTED,
    RunRecord,
    RunStatus,
    run_record,
)
from backend.db.users import NotFoundError
from backend.queue.messages import FinalEvent
from backend.runs_model import RunOutcome, final_outcome


async def get_runs(session: AsyncSession, run_ids: Sequence[str]) -> list[RunRecord]:
    """The runs that exist, in the order of ``run_ids``."""
    if not run_ids:
        return []
    stmt = select(Run).where(Run.id.in_(list(run_ids))).execution_options(populate_existing=True)
    found = {run.id: run_record(run) for run in (await session.execute(stmt)).scalars()}
    return [found[run_id] for run_id in dict.fromkeys(run_ids) if run_id in found]


async def _get_run(session: AsyncSession, run_id: str) -> RunRecord:
    runs = await get_runs(session, [run_id])
    if not runs:
        raise NotFoundError(f"run {run_id!r} does not exist")
    return runs[0]


async def _update_runs(session: AsyncSession, stmt: Any) -> int:
    """Execute one UPDATE in its own transaction; rows changed."""
    try:
        result = cast(CursorResult[Any], await session.execute(stmt))
        changed = result.rowcount
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return changed


async def mark_run_running(session: AsyncSession, run_id: str, attempt: int) -> bool:
    """queued -> running, only for the current attempt. False if nothing changed."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.QUEUED.value)
        .values(status=RunStatus.RUNNING.value)
        .execution_options(synchronize_session=False)
    )
    return await _update_runs(session, stmt) == 1


def _outcome_update(run_id: str, attempt: int, outcome: RunOutcome) -> Update:
    if outcome.status not in FINAL_STATUSES:
        raise ValueError(f"status must be one of {sorted(FINAL_STATUSES)}, not {outcome.status!r}")
    return (
        update(Run)
        .where(Run.id == run_id, Run.attempt == attempt, Run.status.in_(sorted(ACTIVE_STATUSES)))
        .values(
            **outcome.columns(),
            finished_at=utcnow(),
            **NO_LEASE,  # the attempt ended: its worker's claim with it
        )
        .execution_options(synchronize_session=False)
    )


async def save_outcome(session: AsyncSession, run_id: str, attempt: int, outcome: RunOutcome) -> bool:
    """Store how attempt ``attempt`` of a run ended (``status`` done, error or cancelled), in one
    transaction.

    Idempotent: returns False and changes nothing when ``attempt`` is stale or the
    run is already final (a duplicate or late event).
    """
    return await _update_runs(session, _outcome_update(run_id, attempt, outcome)) == 1


async def save_final_event(db: Database, event: FinalEvent) -> bool:
    """`save_outcome` for a worker's final event, priced for its run's model: one transaction
    that reads the model and writes the outcome, in one thread hop on SQLite (`Database.write`).
    The event pump saves every run this way as it ends: through an async session (its own
    select, then the update) a save held the web process's event loop about twice as long."""

    def save(connection: Connection) -> bool:
        model = connection.execute(select(Run.model).where(Run.id == event.run_id)).scalar_one_or_none()
        outcome = final_outcome(event, model or "")
        changed = connection.execute(_outcome_update(event.run_id, event.attempt, outcome))
        return cast(CursorResult[Any], changed).rowcount == 1

    return await db.write(save)


async def save_run_result(
    session: AsyncSession,
    *,
    run_id: str,
    attempt: int,
    status: str,
    output_text: str,
    ttft_ms: float | None,
    total_ms: float | None,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    **rest: Any,
) -> bool:
    """`save_outcome` with the outcome's fields as keywords (`error`, `cache_hit` and the other
    optional ones in `rest`)."""
    outcome = RunOutcome(
        status=status,
        output_text=output_text,
        ttft_ms=ttft_ms,
        total_ms=total_ms,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd,
        **rest,
    )
    return await save_outcome(session, run_id, attempt, outcome)


async def reset_run_for_retry(session: AsyncSession, run_id: str) -> RunRecord:
    """Keep the current attempt as an earlier one (backend/db/attempts.py), then bump
    ``attempt``, set queued and clear output, error and metrics (any prior status); in one
    transaction. Two retries at once: the second finds the attempt moved on and keeps that one."""
    for _ in range(3):
        try:
            attempt = await keep_current_attempt(session, run_id)
            if attempt is None:
                raise NotFoundError(f"run {run_id!r} does not exist")
            stmt = (
                update(Run)
                .where(Run.id == run_id, Run.attempt == attempt)
                .values(
                    attempt=Run.attempt + 1,
                    **UNSTARTED,
                    **NO_LEASE,  # the new attempt is claimed afresh, not held up by the old one's worker
                )
                .execution_options(synchronize_session=False)
            )
            changed = cast(CursorResult[Any], await session.execute(stmt)).rowcount
            if changed:
                await session.commit()
                return await _get_run(session, run_id)
            await session.rollback()
        except IntegrityError:  # the same attempt kept by a concurrent retry
            await session.rollback()
        except BaseException:
            await session.rollback()
            raise
    raise RuntimeError(f"could not retry run {run_id!r}: it kept changing")


async def cancel_runs(session: AsyncSession, run_ids: Sequence[str]) -> list[str]:
    """Cancel those not yet final; returns the ids that changed, in the given order."""
    if not run_ids:
        return []
    stmt = (
        update(Run)
        .where(Run.id.in_(list(run_ids)), Run.status.in_(sorted(ACTIVE_STATUSES)))
        .values(status=RunStatus.CANCELLED.value, finished_at=utcnow(), **NO_LEASE)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    try:
        changed = set((await session.execute(stmt)).scalars().all())
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return [run_id for run_id in dict.fromkeys(run_ids) if run_id in changed]


async def fail_unfinished_runs(session: AsyncSession, reason: str) -> int:
    """At start-up: queued/running runs left by a dead process become error "interrupted"."""
    stmt = (
        update(Run)
        .where(Run.status.in_(sorted(ACTIVE_STATUSES)))
        .values(
            status=RunStatus.ERROR.value,
            error=reason,
            error_kind=INTERRUPTED,
            finished_at=utcnow(),
            **NO_LEASE,
        )
        .execution_options(synchronize_session=False)
    )
    return await _update_runs(session, stmt)
