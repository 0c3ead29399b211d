"""Queries for LLM-as-judge: project rubrics, judgements and their judge runs (verdicts).

A judge run's call is a one-pane comparison (``JudgeRun.run_comparison_id``); these queries
join through it to the run. Functions that write commit their own transaction and return
frozen records, never ORM objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Comparison, Judgement, JudgeRun, Rubric, Run, new_id, utcnow
from backend.db.records import FINAL_STATUSES, RunRecord, run_record


@dataclass(frozen=True, slots=True)
class JudgeRunRecord:
    id: str
    judgement_id: str
    run_comparison_id: str
    first_pane: int
    second_pane: int
    winner: str | None  # "A" (first shown) | "B" | "tie"; None until settled with a verdict
    rationale: str
    error: str
    settled_at: datetime | None
    run: RunRecord | None  # the judge's run (None only if its comparison vanished meanwhile)


@dataclass(frozen=True, slots=True)
class JudgementRecord:
    id: str
    comparison_id: str
    judge_model: str
    rubric: str
    created_by: str
    created_at: datetime
    runs: tuple[JudgeRunRecord, ...]  # by pair, then order
    turn: int = 1  # the conversation turn judged (the latest when the judgement started)


@dataclass(frozen=True, slots=True)
class NewJudgeRun:
    run_comparison_id: str
    first_pane: int
    second_pane: int


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A judge run whose own run has finished but whose verdict is not stored yet."""

    id: str
    status: str
    output_text: str
    error: str


# --- rubrics ------------------------------------------------------------------
async def project_rubric(session: AsyncSession, project_id: str) -> str | None:
    """The project's own rubric, or None when it uses the default one."""
    stmt = select(Rubric.text).where(Rubric.project_id == project_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def save_rubric(session: AsyncSession, project_id: str, text: str | None, user_id: str) -> None:
    """Set the project's rubric; None goes back to the default."""
    try:
        await session.execute(delete(Rubric).where(Rubric.project_id == project_id))
        if text is not None:
            session.add(Rubric(project_id=project_id, text=text, updated_by=user_id, updated_at=utcnow()))
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


# --- judgements ---------------------------------------------------------------
async def create_judgement(
    session: AsyncSession,
    *,
    comparison_id: str,
    judge_model: str,
    rubric: str,
    created_by: str,
    runs: Sequence[NewJudgeRun],
    turn: int = 1,
) -> str:
    """Insert a judgement and its judge runs in one transaction; its id."""
    judgement_id = new_id()
    session.add(
        Judgement(
            id=judgement_id,
            comparison_id=comparison_id,
            judge_model=judge_model,
            rubric=rubric,
            created_by=created_by,
            turn=turn,
            created_at=utcnow(),
        )
    )
    await session.flush()  # the judgement before its rows (PostgreSQL checks the foreign key at once)
    session.add_all(
        JudgeRun(
            id=new_id(),
            judgement_id=judgement_id,
            run_comparison_id=r.run_comparison_id,
            first_pane=r.first_pane,
            second_pane=r.second_pane,
        )
        for r in runs
    )
    try:
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return judgement_id


async def judgements_of(session: AsyncSession, comparison_ids: Sequence[str]) -> list[JudgementRecord]:
    """The judgements of these comparisons, oldest first, each with its judge runs and their runs."""
    if not comparison_ids:
        return []
    stmt = (
        select(Judgement)
        .where(Judgement.comparison_id.in_(list(comparison_ids)))
        .order_by(Judgement.created_at, Judgement.id)
    )
    judgements = list((await session.execute(stmt)).scalars())
    if not judgements:
        return []
    rows = (
        await session.execute(
            select(JudgeRun, Run)
            .outerjoin(Run, Run.comparison_id == JudgeRun.run_comparison_id)
            .where(JudgeRun.judgement_id.in_([j.id for j in judgements]))
            .execution_options(populate_existing=True)
        )
    ).all()
    by_judgement: dict[str, list[JudgeRunRecord]] = {}
    for judge_run, run in rows:
        by_judgement.setdefault(judge_run.judgement_id, []).append(_judge_run_record(judge_run, run))
    return [
        JudgementRecord(
            id=j.id,
            comparison_id=j.comparison_id,
            judge_model=j.judge_model,
            rubric=j.rubric,
            created_by=j.created_by,
            created_at=j.created_at,
            runs=tuple(sorted(by_judgement.get(j.id, []), key=_pair_then_order)),
            turn=j.turn,
        )
        for j in judgements
    ]


def _pair_then_order(r: JudgeRunRecord) -> tuple[int, int, bool]:
    low, high = sorted((r.first_pane, r.second_pane))
    return low, high, r.first_pane > r.second_pane


def _judge_run_record(judge_run: JudgeRun, run: Run | None) -> JudgeRunRecord:
    return JudgeRunRecord(
        id=judge_run.id,
        judgement_id=judge_run.judgement_id,
        run_comparison_id=judge_run.run_comparison_id,
        first_pane=judge_run.first_pane,
        second_pane=judge_run.second_pane,
        winner=judge_run.winner,
        rationale=judge_run.rationale,
        error=judge_run.error,
        settled_at=judge_run.settled_at,
        run=None if run is None else run_record(run),
    )


async def project_judgements(
    session: AsyncSession, project_id: str
) -> list[tuple[JudgementRecord, tuple[str, ...]]]:
    """Every judgement of the project's comparisons, each with its comparison's pane models."""
    ids = (
        select(Judgement.comparison_id)
        .join(Comparison, Comparison.id == Judgement.comparison_id)
        .where(Comparison.project_id == project_id)
    )
    comparison_ids = list(dict.fromkeys((await session.execute(ids)).scalars()))
    judgements = await judgements_of(session, comparison_ids)
    runs = await session.execute(
        select(Run.comparison_id, Run.model)
        .where(Run.comparison_id.in_(comparison_ids), Run.turn == 1)  # a pane keeps its model every turn
        .order_by(Run.comparison_id, Run.position)
    )
    models: dict[str, list[str]] = {}
    for comparison_id, model in runs.all():
        models.setdefault(comparison_id, []).append(model)
    return [(j, tuple(models.get(j.comparison_id, ()))) for j in judgements]


def judge_comparison_ids() -> Any:
    """A subquery of every comparison that holds a judge's run (history and boards skip them)."""
    return select(JudgeRun.run_comparison_id)


async def judged_children(session: AsyncSession, comparison_id: str) -> list[str]:
    """The judge's own comparisons for every judgement of this comparison."""
    stmt = (
        select(JudgeRun.run_comparison_id)
        .join(Judgement, Judgement.id == JudgeRun.judgement_id)
        .where(Judgement.comparison_id == comparison_id)
    )
    return list((await session.execute(stmt)).scalars())


async def is_judge_comparison(session: AsyncSession, comparison_id: str) -> bool:
    stmt = select(func.count()).select_from(JudgeRun).where(JudgeRun.run_comparison_id == comparison_id)
    return bool((await session.execute(stmt)).scalar_one())


# --- settling verdicts ----------------------------------------------------------
async def unsettled(
    session: AsyncSession, *, project_id: str | None = None, run_ids: Sequence[str] | None = None
) -> list[Unsettled]:
    """Judge runs whose run is final but whose verdict is not stored yet, or was stored before
    the run last finished (it was retried); in a project, or of these runs."""
    stmt = (
        select(JudgeRun.id, Run.status, Run.output_text, Run.error)
        .join(Run, Run.comparison_id == JudgeRun.run_comparison_id)
        .where(
            or_(JudgeRun.settled_at.is_(None), JudgeRun.settled_at < Run.finished_at),
            Run.status.in_(sorted(FINAL_STATUSES)),
        )
    )
    if project_id is not None:
        stmt = stmt.join(Comparison, Comparison.id == JudgeRun.run_comparison_id).where(
            Comparison.project_id == project_id
        )
    if run_ids is not None:
        stmt = stmt.where(Run.id.in_(list(run_ids)))
    return [Unsettled(*row) for row in (await session.execute(stmt)).all()]


async def save_verdict(
    session: AsyncSession, judge_run_id: str, *, winner: str | None, rationale: str, error: str
) -> None:
    """Store one judge run's verdict (or why it has none). Two processes settling the same run
    parse the same text: the second write changes nothing but the time."""
    try:
        await session.execute(
            update(JudgeRun)
            .where(JudgeRun.id == judge_run_id)
            .values(winner=winner, rationale=rationale, error=error, settled_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


async def verdicts_stamp(session: AsyncSession) -> tuple[Any, ...]:
    """Moves whenever any verdict is stored or deleted, in any project (the leaderboard's
    database-wide stamp, beside backend.db.votes.database_stamp)."""
    stmt = select(func.count(JudgeRun.id), func.max(JudgeRun.settled_at)).where(
        JudgeRun.settled_at.is_not(None)
    )
    return tuple((await session.execute(stmt)).one())


async def verdicts_fingerprint(session: AsyncSession, project_id: str) -> tuple[Any, ...]:
    """Changes whenever a verdict of the project is stored or deleted (with its comparison)."""
    stmt = (
        select(func.count(JudgeRun.id), func.max(JudgeRun.settled_at))
        .join(Judgement, Judgement.id == JudgeRun.judgement_id)
        .join(Comparison, Comparison.id == Judgement.comparison_id)
        .where(Comparison.project_id == project_id, JudgeRun.settled_at.is_not(None))
    )
    return tuple((await session.execute(stmt)).one())
