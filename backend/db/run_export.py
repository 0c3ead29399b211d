"""Finished runs for export, read in keyset-paged chunks.

Each chunk is its own short query (``finished_at, id`` after the last row of the previous
chunk), so an export of any size holds one chunk in memory and no connection or transaction
stays open while a slow client reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from backend.db.engine import Database
from backend.db.models import Comparison, Run
from backend.db.usage import Scope, hidden_from, scope_filter

CHUNK_ROWS = 1000


@dataclass(frozen=True, slots=True)
class ExportFilter:
    scope: Scope
    since: datetime
    until: datetime
    model: str | None = None


def _page(filters: ExportFilter, after: tuple[datetime, str] | None, limit: int) -> Any:
    stmt = (
        select(
            Run.id,
            Run.comparison_id,
            Comparison.project_id,
            Run.position,
            Run.provider,
            Run.model,
            Run.status,
            Run.error_kind,
            Run.error,
            Run.created_at,
            Run.finished_at,
            Run.ttft_ms,
            Run.total_ms,
            Run.input_tokens,
            Run.output_tokens,
            Run.cost_usd,
            Run.cache_hit,
            hidden_from(filters.scope.reader_id).label("hidden"),
        )
        .join(Comparison, Comparison.id == Run.comparison_id)
        .where(
            Run.finished_at >= filters.since,
            Run.finished_at < filters.until,
            scope_filter(filters.scope),
        )
        .order_by(Run.finished_at, Run.id)
        .limit(limit)
    )
    if filters.model:
        # A blind run the reader has not revealed never matches a model filter: it would name it.
        stmt = stmt.where(Run.model == filters.model, ~hidden_from(filters.scope.reader_id))
    if after is not None:
        finished, run_id = after
        stmt = stmt.where(or_(Run.finished_at > finished, and_(Run.finished_at == finished, Run.id > run_id)))
    return stmt


async def export_chunks(
    db: Database, filters: ExportFilter, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[dict[str, Any]]]:
    """The filtered finished runs, oldest first, ``chunk_rows`` at a time (as column dicts)."""
    after: tuple[datetime, str] | None = None
    while True:
        async with db.session() as session:
            result = await session.execute(_page(filters, after, chunk_rows))
            rows = [dict(row._mapping) for row in result]
        if not rows:
            return
        yield rows
        if len(rows) < chunk_rows:
            return
        after = (rows[-1]["finished_at"], rows[-1]["id"])
