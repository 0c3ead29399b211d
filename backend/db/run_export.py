"""Finished runs for export, read through a server-side cursor in chunks.

One query, sorted once by the database (a keyset page per chunk would have it sort the whole
window again for every chunk), read ``CHUNK_ROWS`` at a time: an export of any size holds one
chunk in memory. The connection stays open while the client reads the export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

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


def export_query(filters: ExportFilter) -> Any:
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
    )
    if filters.model:
        # A blind run the reader has not revealed never matches a model filter: it would name it.
        stmt = stmt.where(Run.model == filters.model, ~hidden_from(filters.scope.reader_id))
    return stmt


async def export_chunks(
    db: Database, filters: ExportFilter, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[dict[str, Any]]]:
    """The filtered finished runs, oldest first, ``chunk_rows`` at a time (as column dicts)."""
    async with db.session() as session:
        result = await session.stream(export_query(filters).execution_options(yield_per=chunk_rows))
        async for partition in result.partitions(chunk_rows):
            yield [dict(row._mapping) for row in partition]
