"""What a batch shows: its progress, and its results grid with each cell's assertion verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from backend.batching.assertions import AssertionSpec, CellFacts, failed_assertions
from backend.db import batches as repo


@dataclass(frozen=True, slots=True)
class Progress:
    cells: int  # rows x models
    done: int
    error: int
    cancelled: int
    active: int  # queued or running
    unsent: int  # cells of rows not sent (yet)

    @property
    def finished(self) -> int:
        return self.done + self.error + self.cancelled


@dataclass(frozen=True, slots=True)
class BatchView:
    batch: repo.BatchRecord
    progress: Progress


@dataclass(frozen=True, slots=True)
class CellView:
    cell: repo.Cell | None  # None: the row was not sent
    failed: list[str] | None  # assertion labels failed (empty: passed); None: no verdict yet


@dataclass(frozen=True, slots=True)
class ResultRow:
    row_index: int
    variables: dict[str, Any]
    cells: list[CellView]  # one per model, in the batch's model order


@dataclass(frozen=True, slots=True)
class ModelSummary:
    model: str
    finished: int
    passed: int
    failed: int
    mean_total_ms: float | None
    cost_usd: float


def specs_of(batch: repo.BatchRecord) -> list[AssertionSpec]:
    return [AssertionSpec.model_validate(a) for a in batch.assertions]


def result_rows(batch: repo.BatchRecord, rows: list[repo.GridRow]) -> list[ResultRow]:
    specs = specs_of(batch)
    out: list[ResultRow] = []
    for row in rows:
        by_position = {c.position: c for c in row.cells}
        cells: list[CellView] = []
        for position in range(len(batch.models)):
            cell = by_position.get(position)
            if cell is None:
                cells.append(CellView(None, None))
                continue
            facts = CellFacts(cell.status, cell.output_text, cell.total_ms, cell.cost_usd)
            cells.append(CellView(cell, failed_assertions(specs, facts, row.variables)))
        out.append(ResultRow(row.row_index, row.variables, cells))
    return out


def progress_of(batch: repo.BatchRecord, counts: Counter[str], unsent_rows: int) -> Progress:
    width = len(batch.models)
    return Progress(
        cells=batch.total_rows * width,
        done=counts.get("done", 0),
        error=counts.get("error", 0),
        cancelled=counts.get("cancelled", 0),
        active=counts.get("queued", 0) + counts.get("running", 0),
        unsent=unsent_rows * width,
    )
