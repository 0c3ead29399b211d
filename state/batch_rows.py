"""Typed rows the batches page sends to the browser, built from the batch service's views."""

from __future__ import annotations

import dataclasses

from backend.i18n import N_, Message, format_usd, in_every_language
from backend.run_errors import run_error_message
from backend.services.batch_results import BatchView, CellView, ModelSummary, ResultRow
from backend.services.metrics import format_cost, format_ms

CELL_PREVIEW_CHARS = 240


@dataclasses.dataclass
class Choice:
    id: str
    label: str


@dataclasses.dataclass
class AssertionRow:
    kind: str
    value: str
    label: str


@dataclasses.dataclass
class BatchListRow:
    id: str
    title: str
    status: str
    progress: str


@dataclasses.dataclass
class GridCell:
    status: str
    text: str
    metrics: str
    verdict: str  # "pass" | "fail" | "" (no verdict yet)
    failed: str


@dataclasses.dataclass
class GridRow:
    number: str
    variables: str
    cells: list[GridCell]


@dataclasses.dataclass
class SummaryRow:
    model: str
    finished: int
    passed: int
    failed: int
    mean_latency: str
    cost: str


def progress_text(view: BatchView) -> str:
    p = view.progress
    return f"{p.finished:,} / {p.cells:,}"


def list_row(view: BatchView) -> BatchListRow:
    b = view.batch
    title = b.name or (b.prompt.strip().splitlines() or [""])[0][:60]
    return BatchListRow(
        id=b.id,
        title=f"{title} · {b.created_at:%Y-%m-%d %H:%M}",
        status=b.status,
        progress=progress_text(view),
    )


def _preview(text: str) -> str:
    return text[:CELL_PREVIEW_CHARS] + ("…" if len(text) > CELL_PREVIEW_CHARS else "")


def _error(stored: str) -> str:
    """A failed cell's error (stored in English), kept in every language, fixed sentences too:
    the cell is shown through `said` (it otherwise holds a model's answer, which is never looked
    up in the catalogs), so the page shows it in its language and again on a switch."""
    message = run_error_message(stored)
    return in_every_language(message if isinstance(message, Message) else Message(message))


def grid_cell(view: CellView) -> GridCell:
    cell = view.cell
    if cell is None:
        return GridCell(status=N_("not sent"), text="", metrics="", verdict="", failed="")
    text = _preview(cell.output_text) if cell.status != "error" else _error(_preview(cell.error))
    tokens = f"{cell.input_tokens}→{cell.output_tokens} tok"
    metrics = (
        f"{format_ms(cell.total_ms)} · {tokens} · {format_cost(cell.cost_usd)}"
        if cell.status == "done"
        else ""
    )
    verdict = "" if view.failed is None else ("fail" if view.failed else "pass")
    return GridCell(
        status=cell.status,
        text=text,
        metrics=metrics,
        verdict=verdict,
        failed=", ".join(view.failed or []),
    )


def grid_row(row: ResultRow) -> GridRow:
    variables = ", ".join(f"{k}={v}" for k, v in row.variables.items())
    return GridRow(
        number=str(row.row_index + 1),
        variables=variables[:CELL_PREVIEW_CHARS],
        cells=[grid_cell(c) for c in row.cells],
    )


def summary_row(s: ModelSummary) -> SummaryRow:
    return SummaryRow(
        model=s.model,
        finished=s.finished,
        passed=s.passed,
        failed=s.failed,
        mean_latency=format_ms(s.mean_total_ms),
        cost=format_usd(s.cost_usd, None),
    )
