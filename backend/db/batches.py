"""Batches and their rows: create, send a row (its comparison and runs, once), progress, the
results grid, cancel; async functions over the Database returning frozen records.

A row is sent by one transaction that inserts its comparison and runs and sets the row's
``comparison_id`` only while it is unset and the batch is running: two dispatchers (several
backend processes) or a cancel racing a dispatch can never give a row two comparisons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.comparisons import UNSTARTED
from backend.db.engine import Database
from backend.db.models import Batch, BatchRow, Comparison, Run, new_id, utcnow
from backend.db.records import ACTIVE_STATUSES, RunRecord, run_record
from backend.runs_model import RunParams

BATCH_SETTING = "batch"  # a batch row's comparison says so in its settings


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    project_id: str
    user_id: str
    template_id: str | None
    name: str
    prompt: str
    system_prompt: str
    models: list[str]
    params: dict[str, Any]
    assertions: list[dict[str, Any]]
    status: str
    note: str
    not_before: datetime | None
    total_rows: int
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class PendingRow:
    id: str
    row_index: int
    variables: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cell:
    """One run of a sent row (its model's answer), as the results grid reads it."""

    run_id: str
    model: str
    position: int
    attempt: int
    status: str
    output_text: str
    error: str
    ttft_ms: float | None
    total_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class GridRow:
    row_index: int
    variables: dict[str, Any]
    comparison_id: str | None  # None: not sent (yet, or ever: cancelled before it was)
    cells: tuple[Cell, ...]


def _record(b: Batch) -> BatchRecord:
    return BatchRecord(
        id=b.id,
        project_id=b.project_id,
        user_id=b.user_id,
        template_id=b.template_id,
        name=b.name,
        prompt=b.prompt,
        system_prompt=b.system_prompt,
        models=list(b.models),
        params=dict(b.params),
        assertions=[dict(a) for a in b.assertions],
        status=b.status,
        note=b.note,
        not_before=b.not_before,
        total_rows=b.total_rows,
        created_at=b.created_at,
        finished_at=b.finished_at,
    )


async def create_batch(
    db: Database,
    *,
    project_id: str,
    user_id: str,
    template_id: str | None,
    name: str,
    prompt: str,
    system_prompt: str,
    models: list[str],
    params: dict[str, Any],
    assertions: list[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
) -> str:
    """The batch and its rows (none sent yet), in one transaction; its id."""
    batch_id = new_id()
    now = utcnow()

    def insert_rows(connection: Connection) -> None:
        connection.execute(
            insert(Batch),
            [
                {
                    "id": batch_id,
                    "project_id": project_id,
                    "user_id": user_id,
                    "template_id": template_id,
                    "name": name,
                    "prompt": prompt,
                    "system_prompt": system_prompt,
                    "models": models,
                    "params": params,
                    "assertions": assertions,
                    "status": "running",
                    "note": "",
                    "total_rows": len(rows),
                    "created_at": now,
                }
            ],
        )
        connection.execute(
            insert(BatchRow),
            [
                {"id": new_id(), "batch_id": batch_id, "row_index": i, "variables": dict(values)}
                for i, values in enumerate(rows)
            ],
        )

    await db.write(insert_rows)
    return batch_id


async def get_batch(session: AsyncSession, batch_id: str) -> BatchRecord | None:
    found = await session.get(Batch, batch_id, populate_existing=True)
    return None if found is None else _record(found)


async def list_batches(session: AsyncSession, project_id: str, limit: int = 50) -> list[BatchRecord]:
    stmt = (
        select(Batch)
        .where(Batch.project_id == project_id)
        .order_by(Batch.created_at.desc(), Batch.id)
        .limit(limit)
    )
    return [_record(b) for b in (await session.execute(stmt)).scalars()]


async def running_batches(session: AsyncSession) -> list[BatchRecord]:
    stmt = select(Batch).where(Batch.status == "running").order_by(Batch.created_at)
    return [_record(b) for b in (await session.execute(stmt)).scalars()]


async def unsent_rows(session: AsyncSession, batch_id: str, limit: int) -> list[PendingRow]:
    stmt = (
        select(BatchRow.id, BatchRow.row_index, BatchRow.variables)
        .where(BatchRow.batch_id == batch_id, BatchRow.comparison_id.is_(None))
        .order_by(BatchRow.row_index)
        .limit(limit)
    )
    return [PendingRow(i, n, dict(v)) for i, n, v in (await session.execute(stmt)).all()]


def _batch_runs(batch_id: str) -> Any:
    return (
        select(Run.id, Run.attempt, Run.status)
        .join(BatchRow, BatchRow.comparison_id == Run.comparison_id)
        .where(BatchRow.batch_id == batch_id)
    )


async def cell_counts(session: AsyncSession, batch_id: str) -> tuple[Counter[str], int]:
    """(runs by status, rows not sent) of the batch."""
    by_status = (
        select(Run.status, func.count())
        .join(BatchRow, BatchRow.comparison_id == Run.comparison_id)
        .where(BatchRow.batch_id == batch_id)
        .group_by(Run.status)
    )
    counts = Counter({str(s): int(n) for s, n in (await session.execute(by_status)).all()})
    unsent = (
        await session.execute(
            select(func.count()).where(BatchRow.batch_id == batch_id, BatchRow.comparison_id.is_(None))
        )
    ).scalar_one()
    return counts, int(unsent)


async def active_runs(session: AsyncSession, batch_id: str) -> list[tuple[str, int]]:
    """(run id, attempt) of the batch's runs queued or running."""
    stmt = _batch_runs(batch_id).where(Run.status.in_(ACTIVE_STATUSES))
    return [(run_id, attempt) for run_id, attempt, _ in (await session.execute(stmt)).all()]


async def send_row(
    db: Database,
    *,
    batch: BatchRecord,
    row: PendingRow,
    prompt: str,
    system_prompt: str,
) -> tuple[str, list[RunRecord]] | None:
    """The row's comparison and its runs (one per model), created and linked in one
    transaction; None if the row was sent already or the batch is no longer running."""
    now = utcnow()
    comparison_id = new_id()
    params = RunParams.of(batch.params)
    runs = [
        RunRecord(
            id=new_id(),
            comparison_id=comparison_id,
            position=i,
            provider=model.split(":", 1)[0],
            model=model,
            params=params,
            attempt=0,
            created_at=now,
            **UNSTARTED,
        )
        for i, model in enumerate(batch.models)
    ]

    def link(connection: Connection) -> bool:
        connection.execute(
            insert(Comparison),
            [
                {
                    "id": comparison_id,
                    "project_id": batch.project_id,
                    "user_id": batch.user_id,
                    "prompt": prompt,
                    "system_prompt": system_prompt,
                    "settings": {BATCH_SETTING: batch.id},
                    "created_at": now,
                }
            ],
        )
        connection.execute(
            insert(Run),
            [
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
                for r in runs
            ],
        )
        still_running = exists().where(Batch.id == batch.id, Batch.status == "running")
        linked = connection.execute(
            update(BatchRow)
            .where(BatchRow.id == row.id, BatchRow.comparison_id.is_(None), still_running)
            .values(comparison_id=comparison_id)
        )
        if linked.rowcount != 1:
            raise _NotSent
        return True

    try:
        await db.write(link)
    except _NotSent:
        return None
    return comparison_id, runs


class _NotSent(Exception):
    """Rolls the row's transaction back: sent meanwhile, or the batch stopped."""


async def set_status(
    session: AsyncSession,
    batch_id: str,
    status: str,
    *,
    note: str | None = None,
    only_if: str = "running",
) -> bool:
    values: dict[str, Any] = {"status": status}
    if note is not None:
        values["note"] = note
    if status != "running":
        values["finished_at"] = utcnow()
    result = await session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.status == only_if).values(**values)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_wait(session: AsyncSession, batch_id: str, note: str, not_before: datetime | None) -> None:
    await session.execute(update(Batch).where(Batch.id == batch_id).values(note=note, not_before=not_before))
    await session.commit()


async def grid(session: AsyncSession, batch_id: str, offset: int = 0, limit: int = 100) -> list[GridRow]:
    """Rows ``offset``..``offset+limit`` of the batch with their cells, in row order."""
    rows = (
        await session.execute(
            select(BatchRow.row_index, BatchRow.variables, BatchRow.comparison_id)
            .where(BatchRow.batch_id == batch_id)
            .order_by(BatchRow.row_index)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    sent = [cid for _, _, cid in rows if cid is not None]
    cells: dict[str, list[Cell]] = {}
    if sent:
        stmt = select(Run).where(Run.comparison_id.in_(sent)).order_by(Run.comparison_id, Run.position)
        for run in (await session.execute(stmt)).scalars():
            cells.setdefault(run.comparison_id, []).append(
                Cell(
                    run_id=run.id,
                    model=run.model,
                    position=run.position,
                    attempt=run.attempt,
                    status=run.status,
                    output_text=run.output_text,
                    error=run.error,
                    ttft_ms=run.ttft_ms,
                    total_ms=run.total_ms,
                    input_tokens=run.input_tokens,
                    output_tokens=run.output_tokens,
                    cost_usd=run.cost_usd,
                )
            )
    return [
        GridRow(index, dict(variables), cid, tuple(cells.get(cid, ())) if cid else ())
        for index, variables, cid in rows
    ]


async def batch_of_comparison(session: AsyncSession, comparison_id: str) -> str | None:
    stmt = select(BatchRow.batch_id).where(BatchRow.comparison_id == comparison_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def row_comparisons(session: AsyncSession, batch_id: str) -> list[str]:
    stmt = select(BatchRow.comparison_id).where(
        BatchRow.batch_id == batch_id, BatchRow.comparison_id.is_not(None)
    )
    return [str(c) for c in (await session.execute(stmt)).scalars()]


async def delete_batch(session: AsyncSession, batch_id: str) -> None:
    await session.execute(delete(Batch).where(Batch.id == batch_id))
    await session.commit()


async def queued_run_tasks(session: AsyncSession, batch_id: str) -> list[tuple[RunRecord, str, str]]:
    """(run, prompt, system prompt) of the batch's runs still queued and unclaimed."""
    stmt = (
        select(Run, Comparison.prompt, Comparison.system_prompt)
        .join(Comparison, Comparison.id == Run.comparison_id)
        .join(BatchRow, BatchRow.comparison_id == Run.comparison_id)
        .where(BatchRow.batch_id == batch_id, Run.status == "queued", Run.claimed_by.is_(None))
    )
    return [(run_record(run), prompt, system) for run, prompt, system in (await session.execute(stmt)).all()]
