"""Queries for votes: save one person's vote on one turn, read a comparison's votes, and gather
a project's votes, runs and a cheap fingerprint of both for the leaderboard.

A person has one vote per comparison per conversation turn. What counts a comparison once (the
leaderboard, prompt versions' win rates) takes each person's vote on the latest turn they voted
on: before votes were per turn, that was the one vote a person had.

Functions that write commit their own transaction. They return frozen records, never ORM
objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.judgements import judge_comparison_ids
from backend.db.models import Comparison, Run, Vote, new_id, utcnow
from backend.db.records import RunStatus


@dataclass(frozen=True, slots=True)
class VoteRecord:
    comparison_id: str
    user_id: str
    best_pane: int | None  # a run position; None when no_winner is set
    no_winner: str | None  # "tie" | "all_bad"
    thumbs: tuple[str | None, ...]  # per pane, in pane order: "up", "down" or None
    comment: str
    created_at: datetime
    updated_at: datetime
    turn: int = 1  # the conversation turn it is about


@dataclass(frozen=True, slots=True)
class Ballot:
    """A vote as the leaderboard reads it: the choice, and when it was last made."""

    comparison_id: str
    user_id: str
    best_pane: int | None
    no_winner: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Pane:
    position: int
    model: str
    status: str


@dataclass(frozen=True, slots=True)
class RunSample:
    """What the leaderboard reads of one finished run: its model's speed figures."""

    model: str
    ttft_ms: float | None
    total_ms: float | None
    output_tokens: int
    finished_at: datetime | None


def _record(vote: Vote) -> VoteRecord:
    return VoteRecord(
        comparison_id=vote.comparison_id,
        user_id=vote.user_id,
        best_pane=vote.best_pane,
        no_winner=vote.no_winner,
        thumbs=tuple(vote.thumbs or ()),
        comment=vote.comment,
        created_at=vote.created_at,
        updated_at=vote.updated_at,
        turn=vote.turn,
    )


def latest_per_person(votes: Sequence[VoteRecord]) -> list[VoteRecord]:
    """Each person's vote on the latest turn they voted on: one per person, in ``votes``' order."""
    latest: dict[str, VoteRecord] = {}
    for vote in votes:
        if vote.user_id not in latest or vote.turn > latest[vote.user_id].turn:
            latest[vote.user_id] = vote
    kept = {id(v) for v in latest.values()}
    return [v for v in votes if id(v) in kept]


async def panes_of(session: AsyncSession, comparison_id: str, turn: int | None = None) -> list[Pane]:
    """Each pane's latest run up to ``turn`` (default: the latest turn it answered) in pane
    order, without its output: a pane a follow-up skipped shows its earlier answer."""
    stmt = (
        select(Run.position, Run.model, Run.status)
        .where(Run.comparison_id == comparison_id, *([] if turn is None else [Run.turn <= turn]))
        .order_by(Run.position, Run.turn)
    )
    latest = {row[0]: Pane(*row) for row in (await session.execute(stmt)).all()}
    return list(latest.values())


async def save_vote(
    session: AsyncSession,
    *,
    comparison_id: str,
    user_id: str,
    best_pane: int | None,
    no_winner: str | None,
    thumbs: Sequence[str | None],
    comment: str,
    turn: int = 1,
) -> VoteRecord:
    """Insert the voter's vote on the comparison's ``turn``, or replace the one they gave on that
    turn before (their votes on other turns stay)."""
    values: dict[str, Any] = {
        "turn": turn,
        "best_pane": best_pane,
        "no_winner": no_winner,
        "thumbs": list(thumbs),
        "comment": comment,
        "updated_at": utcnow(),
    }
    if not await _update(session, comparison_id, user_id, turn, values):
        session.add(
            Vote(
                id=new_id(),
                comparison_id=comparison_id,
                user_id=user_id,
                created_at=values["updated_at"],
                **values,
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            # The same person's other request inserted first (two tabs): theirs becomes this one.
            await session.rollback()
            await _update(session, comparison_id, user_id, turn, values)
    found = await my_vote(session, comparison_id, user_id, turn)
    assert found is not None  # just written, and only its comparison's deletion removes it
    return found


async def _update(
    session: AsyncSession, comparison_id: str, user_id: str, turn: int, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(Vote)
        .where(Vote.comparison_id == comparison_id, Vote.user_id == user_id, Vote.turn == turn)
        .values(**values)
    )
    await session.commit()
    return bool(getattr(result, "rowcount", 0))


async def my_vote(session: AsyncSession, comparison_id: str, user_id: str, turn: int) -> VoteRecord | None:
    stmt = select(Vote).where(Vote.comparison_id == comparison_id, Vote.user_id == user_id, Vote.turn == turn)
    vote = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    return None if vote is None else _record(vote)


async def votes_of(session: AsyncSession, comparison_id: str, turn: int | None = None) -> list[VoteRecord]:
    """The comparison's votes on ``turn``, or on every turn (None), oldest first."""
    stmt = select(Vote).where(Vote.comparison_id == comparison_id).order_by(Vote.created_at, Vote.id)
    if turn is not None:
        stmt = stmt.where(Vote.turn == turn)
    return [_record(v) for v in (await session.execute(stmt)).scalars()]


async def project_votes(session: AsyncSession, project_id: str) -> list[tuple[Ballot, tuple[str, ...]]]:
    """The project's votes as the leaderboard reads them (the choice and when it was last made),
    each with its comparison's pane models in pane order: one per person per comparison, their
    vote on the latest turn they voted on (a comparison counts once, as before votes were per
    turn; every turn has the same pane models)."""
    # Columns, not ORM objects, and only what a board needs: a board reads every vote of the
    # project, and tracked objects with every timestamp parsed took most of a first request.
    stmt = (
        select(Vote.comparison_id, Vote.user_id, Vote.best_pane, Vote.no_winner, Vote.updated_at)
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Comparison.project_id == project_id)
        .order_by(Vote.comparison_id, Vote.user_id, Vote.turn)
    )
    latest: dict[tuple[str, str], Ballot] = {}
    for row in (await session.execute(stmt)).all():
        latest[(row[0], row[1])] = Ballot(*row)  # ordered by turn: the latest turn's stays
    votes = list(latest.values())
    voted = {v.comparison_id for v in votes}
    runs = await session.execute(
        select(Run.comparison_id, Run.model)
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(Comparison.project_id == project_id, Run.turn == 1)  # a pane keeps its model every turn
        .order_by(Run.comparison_id, Run.position)
    )
    models: dict[str, list[str]] = {}
    for comparison_id, model in runs.all():
        if comparison_id in voted:
            models.setdefault(comparison_id, []).append(model)
    return [(v, tuple(models.get(v.comparison_id, ()))) for v in votes]


async def voted_pane_answers(session: AsyncSession, project_id: str) -> dict[str, list[tuple[int, str]]]:
    """(output tokens, text) of each pane, in pane order, of the project's comparisons that have
    votes: what style control measures. Read only when a board asks for it (answers are long)."""
    voted = (
        select(Vote.comparison_id)
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Comparison.project_id == project_id)
    )
    rows = await session.execute(
        select(Run.comparison_id, Run.output_tokens, Run.output_text)
        .where(Run.comparison_id.in_(voted), Run.turn == 1)  # one answer per pane: the first turn's
        .order_by(Run.comparison_id, Run.position)
    )
    answers: dict[str, list[tuple[int, str]]] = {}
    for comparison_id, tokens, text in rows.all():
        answers.setdefault(comparison_id, []).append((tokens, text))
    return answers


async def project_run_samples(session: AsyncSession, project_id: str) -> list[RunSample]:
    """The project's successful runs (not an LLM judge's). A cache replay counts with the timings
    of the provider call that produced the answer: its own near-zero figures say nothing about
    the model."""
    stmt = (
        select(
            Run.model,
            func.coalesce(Run.original_ttft_ms, Run.ttft_ms),
            func.coalesce(Run.original_total_ms, Run.total_ms),
            Run.output_tokens,
            Run.finished_at,
        )
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(
            Comparison.project_id == project_id,
            Run.status == RunStatus.DONE,
            Comparison.id.not_in(judge_comparison_ids()),
        )
    )
    return [RunSample(*row) for row in (await session.execute(stmt)).all()]


async def project_fingerprint(session: AsyncSession, project_id: str) -> tuple[Any, ...]:
    """Changes whenever a vote of the project is added, changed or deleted (with its
    comparison) and whenever one of its runs finishes or goes: the leaderboard cache's key."""
    votes = (
        select(func.count(Vote.id), func.max(Vote.updated_at))
        .join(Comparison, Comparison.id == Vote.comparison_id)
        .where(Comparison.project_id == project_id)
    )
    runs = (
        select(func.count(Run.id), func.max(Run.finished_at))
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(Comparison.project_id == project_id, Run.status == RunStatus.DONE)
    )
    return (*(await session.execute(votes)).one(), *(await session.execute(runs)).one())


async def database_stamp(session: AsyncSession) -> tuple[Any, ...]:
    """Moves whenever any vote is added, changed or deleted and whenever any run finishes or
    goes, in any project: cheap (index-only counts, indexed maxima, one statement), so the
    leaderboard reads it first and computes a project's fingerprint only when it has moved."""
    stmt = select(
        select(func.count()).select_from(Vote).scalar_subquery(),
        select(func.max(Vote.updated_at)).scalar_subquery(),
        select(func.count()).select_from(Run).where(Run.status == RunStatus.DONE).scalar_subquery(),
        select(func.max(Run.finished_at)).scalar_subquery(),
    )
    return tuple((await session.execute(stmt)).one())


async def latest_turn(session: AsyncSession, comparison_id: str) -> int:
    """The comparison's latest conversation turn (1 with no follow-up): what a vote is about
    unless it names another."""
    stmt = select(func.max(Run.turn)).where(Run.comparison_id == comparison_id)
    return int((await session.execute(stmt)).scalar_one_or_none() or 1)
