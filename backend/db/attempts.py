"""Earlier attempts of runs (``run_attempts``): what an attempt ended as when a Retry replaced
it. The run's own row holds the current attempt; these rows let a pane show "attempt 2 of 2"
with attempt 1 beside it, after a reload too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Run, RunAttempt


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    run_id: str
    attempt: int  # 0-based, as runs.attempt
    status: str
    error: str
    output_text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    finished_at: datetime | None


_KEPT = (
    Run.attempt,
    Run.status,
    Run.error,
    Run.output_text,
    Run.input_tokens,
    Run.output_tokens,
    Run.cost_usd,
    Run.finished_at,
)


async def keep_current_attempt(session: AsyncSession, run_id: str) -> int | None:
    """Add the run's current attempt, as it stands, to its earlier attempts (in the caller's
    transaction); returns that attempt's number, or None when the run does not exist."""
    row = (await session.execute(select(*_KEPT).where(Run.id == run_id))).one_or_none()
    if row is None:
        return None
    attempt, status, error, text, tokens_in, tokens_out, cost, finished = row
    session.add(
        RunAttempt(
            run_id=run_id,
            attempt=attempt,
            status=status,
            error=error,
            output_text=text,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost_usd=cost,
            finished_at=finished,
        )
    )
    return int(attempt)


async def earlier_attempts(session: AsyncSession, comparison_id: str) -> dict[str, list[AttemptRecord]]:
    """run id -> the earlier attempts of the comparison's runs, oldest first (runs never
    retried are absent)."""
    stmt = (
        select(
            RunAttempt.run_id,
            RunAttempt.attempt,
            RunAttempt.status,
            RunAttempt.error,
            RunAttempt.output_text,
            RunAttempt.input_tokens,
            RunAttempt.output_tokens,
            RunAttempt.cost_usd,
            RunAttempt.finished_at,
        )
        .join(Run, Run.id == RunAttempt.run_id)
        .where(Run.comparison_id == comparison_id)
        .order_by(RunAttempt.run_id, RunAttempt.attempt)
    )
    found: dict[str, list[AttemptRecord]] = {}
    for row in (await session.execute(stmt)).all():
        found.setdefault(row[0], []).append(AttemptRecord(*row))
    return found
