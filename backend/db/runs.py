"""Run state: started, saved, retried, cancelled, failed at start-up; as async functions over an
``AsyncSession``.

Run state is guarded by ``attempt``: a retry bumps it, and any event carrying an older attempt
(a worker still streaming the previous try) is ignored. Functions that write commit their own
single transaction; they return frozen records from :mod:`backend.db.records`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Table, bindparam, or_, select, update
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
from backend.runs_model import OUTCOME_FIELDS, RunOutcome, final_outcome


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


async def _update_runs(session: AsyncSession, stmt: Any, params: dict[str, Any] | None = None) -> int:
    """Execute one UPDATE in its own transaction; rows changed."""
    try:
        result = cast(CursorResult[Any], await session.execute(stmt, params))
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


_runs = cast(Table, Run.__table__)
# Built once, not per save (every run's end saves through it): building an UPDATE of this many
# columns, and its cache key, cost more than SQLite took to run it (bench/RESULTS.md, 2026-12-05
# burst22i). Its parameters are named apart from the columns, as SQLAlchemy requires.
_SAVE_OUTCOME = (
    update(_runs)
    .where(
        _runs.c.id == bindparam("run_id"),
        _runs.c.attempt == bindparam("run_attempt"),
        or_(*(_runs.c.status == status for status in sorted(ACTIVE_STATUSES))),  # no IN to expand
    )
    .values(
        {
            **{name: bindparam(f"new_{name}") for name in (*OUTCOME_FIELDS, "finished_at")},
            **NO_LEASE,  # the attempt ended: its worker's claim with it
        }
    )
)
_RUN_MODEL = select(_runs.c.model).where(_runs.c.id == bindparam("run_id"))


def _outcome_params(run_id: str, attempt: int, outcome: RunOutcome) -> dict[str, Any]:
    """`_SAVE_OUTCOME`'s parameters."""
    if outcome.status not in FINAL_STATUSES:
        raise ValueError(f"status must be one of {sorted(FINAL_STATUSES)}, not {outcome.status!r}")
    values = {f"new_{name}": value for name, value in outcome.columns().items()}
    return {"run_id": run_id, "run_attempt": attempt, "new_finished_at": utcnow(), **values}


async def save_outcome(session: AsyncSession, run_id: str, attempt: int, outcome: RunOutcome) -> bool:
    """Store how attempt ``attempt`` of a run ended (``status`` done, error or cancelled), in one
    transaction.

    Idempotent: returns False and changes nothing when ``attempt`` is stale or the
    run is already final (a duplicate or late event).
    """
    return await _update_runs(session, _SAVE_OUTCOME, _outcome_params(run_id, attempt, outcome)) == 1


async def save_final_event(db: Database, event: FinalEvent) -> bool:
    """`save_outcome` for a worker's final event, priced for its run's model: one transaction
    that reads the model and writes the outcome, in one thread hop on SQLite (`Database.write`).
    The event pump saves every run this way as it ends: through an async session (its own
    select, then the update) a save held the web process's event loop about twice as long."""

    def save(connection: Connection) -> bool:
        model = connection.execute(_RUN_MODEL, {"run_id": event.run_id}).scalar_one_or_none()
        params = _outcome_params(event.run_id, event.attempt, final_outcome(event, model or ""))
        return connection.execute(_SAVE_OUTCOME, params).rowcount == 1

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
