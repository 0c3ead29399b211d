"""A comparison's follow-up turns (issue 19): read them, and save one with its queued runs.

Turn 1 is the comparison's prompt and its first runs; each follow-up is a ``comparison_turns``
row (turn 2, 3 ...) plus one queued run per pane it was sent to, with that pane's model and
parameters. The unique (comparison, turn) key makes two follow-ups sent at the same moment
conflict instead of both becoming the same turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import Database
from backend.db.models import ComparisonTurn, JudgeRun, Run, new_id, utcnow
from backend.db.records import RunRecord, TurnRecord
from backend.runs_model import UNSTARTED_OUTCOME

UNSTARTED: dict[str, Any] = {**UNSTARTED_OUTCOME.columns(), "finished_at": None}


class TurnConflict(Exception):
    """Another follow-up took this turn number first."""


def turns_statement(comparison_id: str | BindParameter[str]) -> Select[int, str, int | None, datetime]:
    """A comparison's follow-up turns in order, as `TurnRecord` fields."""
    return (
        select(
            ComparisonTurn.turn, ComparisonTurn.message, ComparisonTurn.position, ComparisonTurn.created_at
        )
        .where(ComparisonTurn.comparison_id == comparison_id)
        .order_by(ComparisonTurn.turn)
    )


async def turns_of(session: AsyncSession, comparison_id: str) -> tuple[TurnRecord, ...]:
    return tuple(TurnRecord(*row) for row in (await session.execute(turns_statement(comparison_id))).all())


async def save_turn(
    db: Database,
    *,
    comparison_id: str,
    user_id: str,
    turn: int,
    message: str,
    position: int | None,
    previous: Sequence[RunRecord],
) -> tuple[TurnRecord, tuple[RunRecord, ...]]:
    """Insert follow-up ``turn`` and one queued run per run in ``previous`` (each pane's latest,
    whose model and parameters it keeps), in one transaction. Raises TurnConflict."""
    now = utcnow()
    record = TurnRecord(turn=turn, message=message, position=position, created_at=now)
    runs = tuple(
        RunRecord(
            id=new_id(),
            comparison_id=comparison_id,
            position=old.position,
            provider=old.provider,
            model=old.model,
            params=old.params,
            attempt=0,
            created_at=now,
            turn=turn,
            **UNSTARTED,
        )
        for old in previous
    )
    turn_row = {
        "id": new_id(),
        "comparison_id": comparison_id,
        "turn": turn,
        "message": message,
        "position": position,
        "created_by": user_id,
        "created_at": now,
    }
    run_rows = [
        {
            "id": r.id,
            "comparison_id": comparison_id,
            "position": r.position,
            "turn": turn,
            "provider": r.provider,
            "model": r.model,
            "params": r.params.stored(),
            "status": r.status,
            "created_at": now,
        }
        for r in runs
    ]

    def insert_rows(connection: Connection) -> None:
        connection.execute(insert(ComparisonTurn), [turn_row])
        connection.execute(insert(Run), run_rows)

    try:
        await db.write(insert_rows)
    except IntegrityError as exc:
        raise TurnConflict(f"turn {turn} of {comparison_id} exists already") from exc
    return record, runs


async def copy_turns(session: AsyncSession, source_id: str, target_id: str, user_id: str) -> None:
    """The source's follow-up messages onto a copy (a fork); the caller commits."""
    rows = [
        {
            "id": new_id(),
            "comparison_id": target_id,
            "turn": t.turn,
            "message": t.message,
            "position": t.position,
            "created_by": user_id,
            "created_at": t.created_at,
        }
        for t in await turns_of(session, source_id)
    ]
    if rows:
        await session.execute(insert(ComparisonTurn), rows)


async def holds_judge_runs(session: AsyncSession, comparison_id: str) -> bool:
    """The comparison is one an LLM judge's run lives in (one order of one pair): no follow-ups."""
    stmt = select(JudgeRun.id).where(JudgeRun.run_comparison_id == comparison_id).limit(1)
    return (await session.execute(stmt)).first() is not None
