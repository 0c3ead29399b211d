"""A batch's results as CSV or JSON Lines: one line per cell (row x model), streamed a page of
rows at a time. CSV text cells a spreadsheet would run as a formula are neutralised as in the
runs export (backend/services/export.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from backend.services.batch_results import ResultRow
from backend.services.export import neutralised

BatchFormat = Literal["csv", "jsonl"]
CELL_COLUMNS = (
    "model",
    "status",
    "output",
    "error",
    "ttft_ms",
    "total_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "passed",
    "failed_assertions",
)


def cell_lines(models: list[str], rows: list[ResultRow]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for row in rows:
        for model, view in zip(models, row.cells, strict=True):
            cell = view.cell
            lines.append(
                {
                    "row": row.row_index + 1,
                    "variables": row.variables,
                    "model": model,
                    "status": "not sent" if cell is None else cell.status,
                    "output": "" if cell is None else cell.output_text,
                    "error": "" if cell is None else cell.error,
                    "ttft_ms": None if cell is None else cell.ttft_ms,
                    "total_ms": None if cell is None else cell.total_ms,
                    "input_tokens": 0 if cell is None else cell.input_tokens,
                    "output_tokens": 0 if cell is None else cell.output_tokens,
                    "cost_usd": 0.0 if cell is None else cell.cost_usd,
                    "passed": None if view.failed is None else not view.failed,
                    "failed_assertions": view.failed or [],
                }
            )
    return lines


def csv_chunk(variables: list[str], lines: list[dict[str, Any]], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(["row", *variables, *CELL_COLUMNS])
    for line in lines:
        values: list[object] = [line["row"], *(line["variables"].get(v, "") for v in variables)]
        for column in CELL_COLUMNS:
            value = line[column]
            if column == "failed_assertions":
                value = "; ".join(value)
            values.append("" if value is None else value)
        writer.writerow([neutralised(v) for v in values])
    return buffer.getvalue()


def jsonl_chunk(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


async def encode(
    models: list[str], variables: list[str], pages: AsyncIterator[list[ResultRow]], format: BatchFormat
) -> AsyncIterator[bytes]:
    first = True
    async for page in pages:
        lines = cell_lines(models, page)
        text = csv_chunk(variables, lines, first) if format == "csv" else jsonl_chunk(lines)
        first = False
        yield text.encode()
    if first and format == "csv":
        yield csv_chunk(variables, [], True).encode()
