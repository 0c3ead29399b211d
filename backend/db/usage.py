"""Usage aggregates over finished runs, computed in SQL (never by loading runs into Python).

A run counts when it finishes (``finished_at``), as the monthly budget counts spend. The scope
is a set of projects (one, every project of a member, or every project for an admin). A run of
a blind comparison the reader has neither voted on nor revealed is counted under
``BLIND_MODEL``, never under its model: usage by model must not tell which models answered.

Percentiles are nearest-rank (the smallest value with at least p% of the values at or below
it), the definition of PostgreSQL's ``percentile_disc``. SQLite has no percentile function, so
both engines compute it the same way with window functions: each value's ``row_number`` in its
group and the group's ``count``, then the smallest value whose rank r has ``r * 100 >= p * n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, String, and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from backend.db.models import Comparison, ProjectMember, Reveal, Run, Vote
from backend.db.records import RunStatus

BLIND_MODEL = "(blind, not revealed)"
GroupBy = Literal["model", "day", "week"]


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp as 'YYYY-MM-DD'."""

    type = String()
    inherit_cache = True


class utc_week(FunctionElement[str]):
    """The Monday (UTC) of a timestamp's ISO week as 'YYYY-MM-DD'."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the UTC time as text 'YYYY-MM-DD HH:MM:SS.ffffff' (backend/db/models.py).
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _day_pg(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_week, "sqlite")
def _week_sqlite(element: utc_week, compiler: SQLCompiler, **kw: Any) -> str:
    # Back six days, then forward to the next Monday (or the same day if it is one).
    return f"date({compiler.process(element.clauses, **kw)}, '-6 days', 'weekday 1')"


@compiles(utc_week, "postgresql")
def _week_pg(element: utc_week, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('week', ({column}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose runs: ``project_id`` alone, else every project ``member_id`` is in, else (both None,
    an admin's "everyone") all. ``reader_id`` is who reads: their reveals unmask blind runs."""

    reader_id: str
    project_id: str | None = None
    member_id: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRow:
    bucket: str  # 'YYYY-MM-DD' (the day, or the Monday of the week); '' when grouped by model only
    model: str
    runs: int  # finished runs: done, error or cancelled
    errors: int
    cancelled: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tokens_per_s_p50: float | None
    tokens_per_s_p95: float | None

    @property
    def error_rate(self) -> float | None:
        """Errors among the runs that were not stopped by their user (None: no such run)."""
        ended = self.runs - self.cancelled
        return self.errors / ended if ended else None


def scope_filter(scope: Scope) -> ColumnElement[bool]:
    if scope.project_id is not None:
        return Comparison.project_id == scope.project_id
    if scope.member_id is not None:
        return Comparison.project_id.in_(
            select(ProjectMember.project_id).where(ProjectMember.user_id == scope.member_id)
        )
    return literal(True)


def hidden_from(reader_id: str) -> ColumnElement[bool]:
    """True for a run of a blind comparison ``reader_id`` has neither voted on nor revealed."""
    revealed = or_(
        exists().where(Reveal.comparison_id == Comparison.id, Reveal.user_id == reader_id),
        exists().where(Vote.comparison_id == Comparison.id, Vote.user_id == reader_id),
    )
    blind = func.coalesce(Comparison.settings["blind"].as_boolean(), False)
    return and_(blind, not_(revealed))


def visible_model(reader_id: str) -> ColumnElement[str]:
    return case((hidden_from(reader_id), literal(BLIND_MODEL)), else_=Run.model)


def _ttft() -> ColumnElement[Any]:
    """A successful run's time to first token; a cache replay counts with the call it replays
    (its own near-zero time says nothing about the model), as on the leaderboard."""
    return case((Run.status == RunStatus.DONE, func.coalesce(Run.original_ttft_ms, Run.ttft_ms)), else_=None)


def _tokens_per_second() -> ColumnElement[Any]:
    """Output speed after the first token (backend.runs_model.tokens_per_second, in SQL)."""
    ttft = func.coalesce(Run.original_ttft_ms, Run.ttft_ms)
    total = func.coalesce(Run.original_total_ms, Run.total_ms)
    return case(
        (
            and_(Run.status == RunStatus.DONE, Run.output_tokens > 1, total > ttft),
            (Run.output_tokens - 1) * 1000.0 / (total - ttft),
        ),
        else_=None,
    )


def _bucket(group_by: GroupBy) -> ColumnElement[str]:
    if group_by == "day":
        return utc_day(Run.finished_at)
    if group_by == "week":
        return utc_week(Run.finished_at)
    return literal("", String)


def _percentile(value: Any, rank: Any, count: Any, percent: int) -> ColumnElement[Any]:
    return func.min(case((and_(value.is_not(None), rank * 100 >= count * percent), value), else_=None))


def usage_query(scope: Scope, group_by: GroupBy, since: datetime, until: datetime) -> Select[Any]:
    finished = (
        select(
            _bucket(group_by).label("bucket"),
            visible_model(scope.reader_id).label("model"),
            Run.status.label("status"),
            Run.input_tokens.label("input_tokens"),
            Run.output_tokens.label("output_tokens"),
            Run.cost_usd.label("cost_usd"),
            _ttft().label("ttft"),
            _tokens_per_second().label("tps"),
        )
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(Run.finished_at >= since, Run.finished_at < until, scope_filter(scope))
        .subquery("finished")
    )
    group = (finished.c.bucket, finished.c.model)
    # NULLs sort first on SQLite and last on PostgreSQL: rank the non-NULL values on their own.
    ranked = select(
        finished,
        func.row_number()
        .over(partition_by=(*group, finished.c.ttft.is_(None)), order_by=finished.c.ttft)
        .label("ttft_rank"),
        func.count(finished.c.ttft).over(partition_by=group).label("ttft_n"),
        func.row_number()
        .over(partition_by=(*group, finished.c.tps.is_(None)), order_by=finished.c.tps)
        .label("tps_rank"),
        func.count(finished.c.tps).over(partition_by=group).label("tps_n"),
    ).subquery("ranked")
    r = ranked.c
    return (
        select(
            r.bucket,
            r.model,
            func.count().label("runs"),
            func.sum(case((r.status == RunStatus.ERROR, 1), else_=0)).label("errors"),
            func.sum(case((r.status == RunStatus.CANCELLED, 1), else_=0)).label("cancelled"),
            func.coalesce(func.sum(r.input_tokens), 0).cast(Integer).label("input_tokens"),
            func.coalesce(func.sum(r.output_tokens), 0).cast(Integer).label("output_tokens"),
            func.coalesce(func.sum(r.cost_usd), 0.0).label("cost_usd"),
            _percentile(r.ttft, r.ttft_rank, r.ttft_n, 50),
            _percentile(r.ttft, r.ttft_rank, r.ttft_n, 95),
            _percentile(r.tps, r.tps_rank, r.tps_n, 50),
            _percentile(r.tps, r.tps_rank, r.tps_n, 95),
        )
        .group_by(r.bucket, r.model)
        .order_by(r.bucket, r.model)
    )


async def usage_rows(
    session: AsyncSession, scope: Scope, group_by: GroupBy, since: datetime, until: datetime
) -> list[UsageRow]:
    rows = (await session.execute(usage_query(scope, group_by, since, until))).all()
    return [
        UsageRow(
            bucket, model, int(runs), int(errors), int(cancelled), int(tin), int(tout), float(cost), *pcts
        )
        for bucket, model, runs, errors, cancelled, tin, tout, cost, *pcts in rows
    ]


async def daily_spend(
    session: AsyncSession, user_id: str, since: datetime, until: datetime
) -> dict[str, float]:
    """What the user's runs cost per UTC day (runs of every project they started comparisons in,
    as backend/db/spend.py counts a budget's spend)."""
    day = utc_day(Run.finished_at).label("day")
    stmt = (
        select(day, func.sum(Run.cost_usd))
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(Comparison.user_id == user_id, Run.finished_at >= since, Run.finished_at < until)
        .group_by(day)
    )
    return {str(d): float(cost or 0.0) for d, cost in (await session.execute(stmt)).all()}
