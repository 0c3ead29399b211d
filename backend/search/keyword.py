"""The keyword side of search, and the database re-check every hit passes.

Every word of the query must appear somewhere in the comparison (its prompt, system prompt or
an answer), found through a full-text index (migration 0018, backend/db/search_text.py):

- SQLite: FTS5 with the trigram tokenizer over one document per comparison. Trigrams need no
  word boundaries, so Japanese (written without spaces) is indexed like English; a term of 3+
  characters is a phrase of the MATCH, a shorter one (trigrams cannot find it) a LIKE on the
  same documents. Ranked by FTS5's bm25, a match in the prompt counting most, and the words
  standing together as typed more than apart.
- PostgreSQL: ILIKE '%term%', answered from pg_trgm GIN indexes (Japanese too), ranked by
  pg_trgm's word_similarity of the query to the prompt or system prompt (so a comparison whose
  prompt holds the words together comes before one that has them only in an answer).
Ties (and queries of short terms only, on SQLite) go to the newest comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, or_, select, table, text, union
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.comparisons import batch_row_ids
from backend.db.models import Comparison, JudgeRun, Run, Vote
from backend.db.projects import member_projects

MAX_TERMS = 8
TRIGRAM = 3  # the shortest term the trigram indexes can find
BM25_WEIGHTS = (4.0, 2.0, 1.0)  # prompt, system prompt, answers

_docs = table(
    "search_docs",
    column("doc_id"),
    column("comparison_id"),
    column("prompt"),
    column("system_prompt"),
    column("answers"),
)
_fts = table("search_fts", column("rowid"))


def terms_of(query: str) -> list[str]:
    return [t for t in query.split() if t][:MAX_TERMS]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every term a quoted phrase (a substring, with trigrams). With
    several terms, "OR" the whole query as one phrase: it matches nothing more (the phrase holds
    every term), but bm25 scores each phrase of the expression, so comparisons where the words
    stand together as typed rank first."""
    phrases = ['"' + term.replace('"', '""') + '"' for term in terms]
    if len(phrases) == 1:
        return phrases[0]
    together = '"' + " ".join(terms).replace('"', '""') + '"'
    return f"({' AND '.join(phrases)}) OR {together}"


def _readable(user_id: str, project_ids: Sequence[str]) -> list[ColumnElement[bool]]:
    """Comparisons of the given projects that the user is a member of, judges' own and batches'
    rows excluded (a vector index may still hold rows indexed before they were left out)."""
    return [
        Comparison.project_id.in_(list(project_ids)),
        Comparison.project_id.in_(member_projects(user_id)),
        Comparison.id.not_in(select(JudgeRun.run_comparison_id)),
        Comparison.id.not_in(batch_row_ids()),
    ]


def _sqlite(terms: list[str], readable: list[ColumnElement[bool]]) -> Select[Any]:
    stmt = (
        select(_docs.c.comparison_id)
        .select_from(_docs)
        .join(Comparison, Comparison.id == _docs.c.comparison_id)
        .where(*readable)
    )
    for term in terms:
        if len(term) < TRIGRAM:
            pattern = _like(term)
            stmt = stmt.where(
                or_(
                    *(
                        _docs.c[name].like(pattern, escape="\\")
                        for name in ("prompt", "system_prompt", "answers")
                    )
                )
            )
    long_terms = [term for term in terms if len(term) >= TRIGRAM]
    if not long_terms:
        return stmt.order_by(Comparison.created_at.desc())
    return (
        stmt.join(_fts, _fts.c.rowid == _docs.c.doc_id)
        .where(text("search_fts MATCH :fts_query").bindparams(fts_query=fts_query(long_terms)))
        .order_by(func.bm25(literal_column("search_fts"), *BM25_WEIGHTS), Comparison.created_at.desc())
    )


def _containing(term: str) -> ColumnElement[bool]:
    """The comparison has the term in its prompt, system prompt or an answer: a union of two
    index-answerable selects rather than one OR over a join (which would scan)."""
    pattern = _like(term)
    in_prompts = select(Comparison.id).where(
        or_(
            Comparison.prompt.ilike(pattern, escape="\\"),
            Comparison.system_prompt.ilike(pattern, escape="\\"),
        )
    )
    in_answers = select(Run.comparison_id).where(Run.output_text.ilike(pattern, escape="\\"))
    return Comparison.id.in_(union(in_prompts, in_answers))


def _postgresql(terms: list[str], query: str, readable: list[ColumnElement[bool]]) -> Select[Any]:
    score = func.greatest(
        func.word_similarity(query, Comparison.prompt), func.word_similarity(query, Comparison.system_prompt)
    )
    return (
        select(Comparison.id)
        .where(*readable, *(_containing(term) for term in terms))
        .order_by(score.desc(), Comparison.created_at.desc())
    )


async def keyword_ids(
    session: AsyncSession, user_id: str, project_ids: Sequence[str], query: str, limit: int
) -> list[str]:
    """Best first: comparisons containing every word of the query."""
    terms = terms_of(query)
    if not terms:
        return []
    readable = _readable(user_id, project_ids)
    dialect = session.get_bind().dialect.name
    # PostgreSQL is the only other engine the project runs on.
    stmt = _sqlite(terms, readable) if dialect == "sqlite" else _postgresql(terms, " ".join(terms), readable)
    return list((await session.execute(stmt.limit(limit))).scalars())


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
