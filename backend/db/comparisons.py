"""Comparisons and the runs saved with them: create (through ``Database.write``, on the path to
the first token), read, page through, delete; as async functions over an ``AsyncSession``.

Functions that write commit their own single transaction (on failure the session is rolled back
and the error re-raised). They return frozen records from :mod:`backend.db.records`, never ORM
objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Integer, Select, Table, bindparam, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import Database
from backend.db.judgements import judge_comparison_ids, judged_children
from backend.db.models import (
    BatchRow,
    Comparison,
    ComparisonTurn,
    Judgement,
    JudgeRun,
    Run,
    RunAttempt,
    Share,
    new_id,
    utcnow,
)
from backend.db.projects import member_projects
from backend.db.records import (
    ACTIVE_STATUSES,
    ComparisonRecord,
    ComparisonSummary,
    HistoryPage,
    NewRun,
    RunRecord,
    RunStatus,
    TurnRecord,
    comparison_record,
    prompt_first_line,
)
from backend.db.turns import turns_statement
from backend.runs_model import UNSTARTED_OUTCOME, RunParams

MAX_PAGE_SIZE = 100
_PROMPT_HEAD_CHARS = 2000  # enough of each prompt to find its first non-blank line


_comparisons = cast(Table, Comparison.__table__)
_runs = cast(Table, Run.__table__)
# Core statements built once (see backend/db/leases.py): on the path of every Run.
_INSERT_COMPARISON = insert(_comparisons)
_INSERT_RUNS = insert(_runs)


class TooManyActive(Exception):
    """The user already has `limit` comparisons with runs queued or running."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


# A run before its attempt starts: how it is created, and how a retry leaves it.
UNSTARTED: dict[str, Any] = {**UNSTARTED_OUTCOME.columns(), "finished_at": None}


async def create_comparison(
    db: Database,
    *,
    user_id: str,
    project_id: str,
    prompt: str,
    system_prompt: str = "",
    settings: dict[str, Any] | None = None,
    runs: Sequence[NewRun],
    active_limit: int = 0,
) -> ComparisonRecord:
    """Insert a comparison and one queued run per pane (positions 0..n-1), in one transaction.

    With `active_limit`, the user's comparisons still running are counted in the same
    transaction first (one thread hop on the path to the first token, not two), and
    TooManyActive is raised, with nothing written, once they reach it."""
    if not runs:
        raise ValueError("a comparison needs at least one run")
    now = utcnow()
    comparison_id = new_id()
    comparison_row: dict[str, Any] = {
        "id": comparison_id,
        "project_id": project_id,
        "user_id": user_id,
        "prompt": prompt,
        "system_prompt": system_prompt,
        "settings": dict(settings or {}),
        "created_at": now,
    }
    run_records = tuple(
        RunRecord(
            id=new_id(),
            comparison_id=comparison_id,
            position=i,
            provider=r.provider,
            model=r.model,
            params=RunParams.of(r.params),
            attempt=0,
            created_at=now,
            **UNSTARTED,
        )
        for i, r in enumerate(runs)
    )
    run_rows = [
        {
            "id": r.id,
            "comparison_id": comparison_id,
            "position": r.position,
            "provider": r.provider,
            "model": r.model,
            "params": r.params.stored(),
            "status": r.status,
            "created_at": now,
        }
        for r in run_records
    ]

    # Core inserts through Database.write, not ORM objects in a session: this sits on the path
    # to a run's first token, where the unit of work and aiosqlite's thread hops cost more than
    # the two statements themselves.
    def insert_rows(connection: Connection) -> None:
        if active_limit and count_active_comparisons(connection, user_id, active_limit) >= active_limit:
            raise TooManyActive(active_limit)
        connection.execute(_INSERT_COMPARISON, [comparison_row])
        connection.execute(_INSERT_RUNS, run_rows)

    await db.write(insert_rows)
    return ComparisonRecord(**comparison_row, runs=run_records)


def _active_comparisons_count() -> Select[int]:
    in_batches = select(BatchRow.comparison_id).where(BatchRow.comparison_id.is_not(None))
    active = (
        select(Comparison.id)
        .join(Run, Run.comparison_id == Comparison.id)
        .where(
            Comparison.user_id == bindparam("user_id"),
            Run.status.in_(sorted(ACTIVE_STATUSES)),
            Comparison.id.not_in(in_batches),
        )
        .distinct()
        .limit(bindparam("at_most", type_=Integer()))
        .subquery()
    )
    return select(func.count()).select_from(active)


# Built once, not per Run (see backend/db/leases.py): every new comparison is counted first.
_ACTIVE_COMPARISONS_COUNT = _active_comparisons_count()


def count_active_comparisons(connection: Connection, user_id: str, at_most: int) -> int:
    """How many of the user's comparisons have a run queued or running, counted up to `at_most`
    (the runs are found through ix_runs_status: few are ever active at once). A batch's rows do not
    count: a batch bounds its own cells in flight, and one must not lock its owner out of the page.
    Sync Core, for `Database.read`: it sits on the path to a run's first token, where an async
    session's thread hops cost more than the statement."""
    params = {"user_id": user_id, "at_most": at_most}
    return int(connection.execute(_ACTIVE_COMPARISONS_COUNT, params).scalar_one())


_COMPARISON = select(_comparisons).where(_comparisons.c.id == bindparam("comparison_id"))
_COMPARISON_RUNS = select(_runs).where(_runs.c.comparison_id == bindparam("comparison_id"))
_COMPARISON_TURNS = turns_statement(bindparam("comparison_id"))


def load_comparison(connection: Connection, comparison_id: str) -> ComparisonRecord | None:
    """A comparison with its runs and turns, sync, for `Database.read` (a page's stream and the
    API's reads start here: one thread hop instead of an async session's several). Core rows,
    not ORM objects: through an ORM session with the runs loaded alongside, a read of a
    comparison of four runs cost about four times the CPU (bench/RESULTS.md, 2026-12-05 burst22i)."""
    params = {"comparison_id": comparison_id}
    comparison = connection.execute(_COMPARISON, params).one_or_none()
    if comparison is None:
        return None
    runs = connection.execute(_COMPARISON_RUNS, params).all()
    turns = tuple(TurnRecord(*row) for row in connection.execute(_COMPARISON_TURNS, params).all())
    return comparison_record(comparison, runs, turns)


async def get_comparison(session: AsyncSession, comparison_id: str) -> ComparisonRecord | None:
    return await session.run_sync(lambda sync: load_comparison(sync.connection(), comparison_id))


def batch_row_ids() -> Any:
    """A subquery of every comparison that is a batch's row: shown with its batch (the results
    grid), never in History, search or "Similar comparisons" (a batch of 1,000 rows of one
    template would bury everything else)."""
    return select(BatchRow.comparison_id).where(BatchRow.comparison_id.is_not(None))


async def list_comparisons(
    session: AsyncSession,
    *,
    project_id: str | None = None,
    user_id: str | None = None,
    member_id: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> HistoryPage:
    """Newest first; ``page`` is 1-based and clamped, ``page_size`` to 1..100. Three queries.

    ``member_id`` keeps only comparisons in projects that user is a member of. Comparisons that
    hold an LLM judge's runs are shown with the comparison they judge, not here, and so are the
    rows of a batch (with their batch).
    """
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    filters: list[ColumnElement[bool]] = [
        Comparison.id.not_in(judge_comparison_ids()),
        Comparison.id.not_in(batch_row_ids()),
    ]
    if project_id is not None:
        filters.append(Comparison.project_id == project_id)
    if user_id is not None:
        filters.append(Comparison.user_id == user_id)
    if member_id is not None:
        filters.append(Comparison.project_id.in_(member_projects(member_id)))

    total = (await session.execute(select(func.count(Comparison.id)).where(*filters))).scalar_one()
    rows = (
        await session.execute(
            select(
                Comparison.id,
                Comparison.project_id,
                func.substr(Comparison.prompt, 1, _PROMPT_HEAD_CHARS),
                Comparison.created_at,
                Comparison.settings,
            )
            .where(*filters)
            .order_by(Comparison.created_at.desc(), Comparison.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()

    # Each pane's latest run (a later turn's run replaces its pane's earlier one), and turns.
    runs_by_comparison: dict[str, dict[int, tuple[str, str]]] = {row[0]: {} for row in rows}
    n_turns: dict[str, int] = {}
    if rows:
        run_rows = await session.execute(
            select(Run.comparison_id, Run.position, Run.turn, Run.model, Run.status)
            .where(Run.comparison_id.in_(list(runs_by_comparison)))
            .order_by(Run.comparison_id, Run.position, Run.turn)
        )
        for comparison_id, position, turn, model, status in run_rows:
            runs_by_comparison[comparison_id][position] = (model, status)
            n_turns[comparison_id] = max(n_turns.get(comparison_id, 1), turn)

    items = []
    for comparison_id, comparison_project_id, prompt_head, created_at, settings in rows:
        runs = list(runs_by_comparison[comparison_id].values())
        statuses = [status for _, status in runs]
        items.append(
            ComparisonSummary(
                id=comparison_id,
                project_id=comparison_project_id,
                prompt_first_line=prompt_first_line(prompt_head or ""),
                models=tuple(model for model, _ in runs),
                created_at=created_at,
                n_runs=len(runs),
                n_done=statuses.count(RunStatus.DONE),
                n_error=statuses.count(RunStatus.ERROR),
                n_cancelled=statuses.count(RunStatus.CANCELLED),
                n_active=sum(1 for s in statuses if s in ACTIVE_STATUSES),
                blind=bool((settings or {}).get("blind", False)),
                n_turns=n_turns.get(comparison_id, 1),
            )
        )
    return HistoryPage(items=tuple(items), total=total, page=page, page_size=page_size)


async def delete_comparison(session: AsyncSession, comparison_id: str) -> None:
    """The comparison; its runs, share links, votes and judgements go with it (ON DELETE
    CASCADE), and so do the comparisons that hold its judges' runs."""
    ids = [comparison_id, *await judged_children(session, comparison_id)]
    await session.execute(delete(JudgeRun).where(JudgeRun.run_comparison_id.in_(ids)))
    await session.execute(delete(Judgement).where(Judgement.comparison_id.in_(ids)))
    run_ids = select(Run.id).where(Run.comparison_id.in_(ids)).scalar_subquery()
    await session.execute(delete(RunAttempt).where(RunAttempt.run_id.in_(run_ids)))
    await session.execute(delete(Run).where(Run.comparison_id.in_(ids)))
    await session.execute(delete(ComparisonTurn).where(ComparisonTurn.comparison_id.in_(ids)))
    await session.execute(delete(Share).where(Share.comparison_id.in_(ids)))
    await session.execute(delete(Comparison).where(Comparison.id.in_(ids)))
    await session.commit()
