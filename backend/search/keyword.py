"""The keyword side of search, and the database re-check every hit passes.

Keyword matching is LIKE/ILIKE over the saved prompts, system prompts and answers: every word
of the query must appear somewhere in the comparison. Plain substring matching needs no
tokenizer, so Japanese (written without spaces) matches as well as English; SQLite's FTS5 and
PostgreSQL's full-text search would rank better but tokenise Japanese poorly without extensions.
It scans, so it is the part to replace at a very large scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.comparisons import batch_row_ids
from backend.db.models import Comparison, JudgeRun, Run, Vote
from backend.db.projects import member_projects

MAX_TERMS = 8


def terms_of(query: str) -> list[str]:
    return [t for t in query.split() if t][:MAX_TERMS]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(term: str) -> ColumnElement[bool]:
    pattern = _like(term)
    in_answers = exists().where(
        Run.comparison_id == Comparison.id, Run.output_text.ilike(pattern, escape="\\")
    )
    return or_(
        Comparison.prompt.ilike(pattern, escape="\\"),
        Comparison.system_prompt.ilike(pattern, escape="\\"),
        in_answers,
    )


def _readable(user_id: str, project_ids: Sequence[str]) -> list[ColumnElement[bool]]:
    """Comparisons of the given projects that the user is a member of, judges' own and batches'
    rows excluded (a vector index may still hold rows indexed before they were left out)."""
    return [
        Comparison.project_id.in_(list(project_ids)),
        Comparison.project_id.in_(member_projects(user_id)),
        Comparison.id.not_in(select(JudgeRun.run_comparison_id)),
        Comparison.id.not_in(batch_row_ids()),
    ]


async def keyword_ids(
    session: AsyncSession, user_id: str, project_ids: Sequence[str], query: str, limit: int
) -> list[str]:
    """Newest first: comparisons containing every word of the query."""
    terms = terms_of(query)
    if not terms:
        return []
    stmt = (
        select(Comparison.id)
        .where(*_readable(user_id, project_ids), and_(*(_matches(t) for t in terms)))
        .order_by(Comparison.created_at.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class Candidate:
    """A comparison as the database has it, for a hit that passed the re-check."""

    id: str
    project_id: str
    prompt: str
    system_prompt: str
    created_at: datetime
    settings: dict[str, Any]
    runs: tuple[tuple[int, str, str, str], ...]  # (position, model, status, output) in pane order
    choices: tuple[int | str, ...]  # each vote: its best pane, or "tie" / "all_bad"


async def recheck(
    session: AsyncSession, user_id: str, project_ids: Sequence[str], ids: Sequence[str]
) -> dict[str, Candidate]:
    """The hits the user may read, from the database: whatever an index returned, a comparison
    outside the user's projects (or the filter's project) is not in the answer."""
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(
                Comparison.id,
                Comparison.project_id,
                Comparison.prompt,
                Comparison.system_prompt,
                Comparison.created_at,
                Comparison.settings,
            ).where(Comparison.id.in_(list(ids)), *_readable(user_id, project_ids))
        )
    ).all()
    found = [row[0] for row in rows]
    runs: dict[str, list[tuple[int, str, str, str]]] = {cid: [] for cid in found}
    votes: dict[str, list[tuple[int | None, str | None]]] = {cid: [] for cid in found}
    if found:
        for cid, position, model, status, output in await session.execute(
            select(Run.comparison_id, Run.position, Run.model, Run.status, Run.output_text)
            .where(Run.comparison_id.in_(found), Run.turn == 1)  # one row per pane
            .order_by(Run.comparison_id, Run.position)
        ):
            runs[cid].append((position, model, status, output))
        for cid, best, no_winner in await session.execute(
            select(Vote.comparison_id, Vote.best_pane, Vote.no_winner).where(Vote.comparison_id.in_(found))
        ):
            votes[cid].append((best, no_winner))
    return {
        cid: Candidate(
            id=cid,
            project_id=project_id,
            prompt=prompt,
            system_prompt=system_prompt or "",
            created_at=created_at,
            settings=dict(settings or {}),
            runs=tuple(runs[cid]),
            choices=tuple(best if best is not None else str(no_winner) for best, no_winner in votes[cid]),
        )
        for cid, project_id, prompt, system_prompt, created_at, settings in rows
    }
