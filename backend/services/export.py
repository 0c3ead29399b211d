"""Taking data out: finished runs as CSV or JSON Lines (streamed), a comparison as Markdown or JSON.

Runs are read in chunks (backend/db/run_export.py) and encoded chunk by chunk, so an export of
any size holds one chunk. A blind run the reader has not revealed is exported as the page shows
it (its pane label, no provider, cost, input tokens or error text). CSV text cells that a
spreadsheet would take for a formula (starting with = + - @, a tab or a carriage return) get a
leading apostrophe (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, Literal

from backend.auth.permissions import Principal
from backend.db.engine import Database
from backend.db.records import ComparisonRecord, RunRecord
from backend.db.run_export import CHUNK_ROWS, ExportFilter, export_chunks
from backend.runs_model import tokens_per_second
from backend.services.blind import HIDDEN_ERROR, pane_label
from backend.services.usage import InvalidUsageQuery, UsageService, usage_window

RunFormat = Literal["csv", "jsonl"]
COLUMNS = (
    "run_id",
    "comparison_id",
    "project_id",
    "position",
    "model",
    "provider",
    "status",
    "error_kind",
    "error",
    "created_at",
    "finished_at",
    "ttft_ms",
    "total_ms",
    "tokens_per_second",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cache_hit",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def neutralised(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """One run as exported (masked when its comparison is blind and unrevealed to the reader)."""
    hidden = bool(row["hidden"])
    return {
        "run_id": row["id"],
        "comparison_id": row["comparison_id"],
        "project_id": row["project_id"],
        "position": row["position"],
        "model": pane_label(row["position"]) if hidden else row["model"],
        "provider": "" if hidden else row["provider"],
        "status": row["status"],
        "error_kind": row["error_kind"],
        "error": (HIDDEN_ERROR if row["error"] else "") if hidden else row["error"],
        "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]),
        "ttft_ms": row["ttft_ms"],
        "total_ms": row["total_ms"],
        "tokens_per_second": tokens_per_second(row["ttft_ms"], row["total_ms"], row["output_tokens"]),
        "input_tokens": 0 if hidden else row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cost_usd": 0.0 if hidden else row["cost_usd"],
        "cache_hit": bool(row["cache_hit"]),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def csv_lines(rows: Iterable[dict[str, Any]], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else neutralised(row[c]) for c in COLUMNS])
    return buffer.getvalue()


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


class ExportService:
    def __init__(self, db: Database, usage: UsageService) -> None:
        self._db = db
        self._usage = usage

    async def runs(
        self,
        principal: Principal,
        *,
        format: str,
        project_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        model: str | None = None,
        everyone: bool = False,
        chunk_rows: int = CHUNK_ROWS,
    ) -> AsyncIterator[bytes]:
        """Checks access and the filters now (raising before any byte is sent), then returns the
        export's body as an iterator of encoded chunks."""
        if format not in MEDIA_TYPES:
            raise InvalidUsageQuery({"format": "format must be csv or jsonl."})
        if model and "\x00" in model:  # checked now: PostgreSQL would refuse it after the first byte
            raise InvalidUsageQuery({"model": "A model id has no NUL character."})
        window = usage_window(since, until)
        scope = await self._usage.scope(principal, project_id, everyone)
        filters = ExportFilter(scope, window.since, window.until, model or None)
        return self._encoded(filters, format, chunk_rows)

    async def _encoded(self, filters: ExportFilter, format: str, chunk_rows: int) -> AsyncIterator[bytes]:
        if format == "csv":
            yield csv_lines((), header=True).encode()
        async for chunk in export_chunks(self._db, filters, chunk_rows):
            rows = [export_row(r) for r in chunk]
            text = csv_lines(rows, header=False) if format == "csv" else jsonl_lines(rows)
            yield text.encode()


def comparison_markdown(record: ComparisonRecord) -> str:
    """A comparison as a Markdown document: the prompt, then each pane's model, figures and answer;
    a conversation's follow-ups after it, each with the answers of the panes it went to."""
    lines = [f"# Comparison {record.id}", "", f"Created: {record.created_at.isoformat()}", ""]
    if record.system_prompt:
        lines += ["## System prompt", "", _fenced(record.system_prompt), ""]
    lines += ["## Prompt", "", _fenced(record.prompt), ""]
    runs = sorted((*record.past_runs, *record.runs), key=lambda r: (r.turn, r.position))
    lines += _answers([r for r in runs if r.turn == 1])
    for turn in record.turns:
        lines += [f"## Turn {turn.turn}", "", _fenced(turn.message), ""]
        lines += _answers([r for r in runs if r.turn == turn.turn])
    return "\n".join(lines)


def _answers(runs: list[RunRecord]) -> list[str]:
    lines: list[str] = []
    for run in runs:
        rate = tokens_per_second(run.ttft_ms, run.total_ms, run.output_tokens)
        figures = [
            f"status {run.status}",
            f"TTFT {run.ttft_ms:.0f} ms" if run.ttft_ms is not None else "TTFT –",
            f"{rate:.1f} tok/s" if rate is not None else "tok/s –",
            f"{run.input_tokens} in / {run.output_tokens} out tokens",
            f"${run.cost_usd:.6f}",
        ]
        lines += [f"## Pane {run.position + 1}: {run.model}", "", " · ".join(figures), ""]
        if run.error:
            lines += [f"Error: {run.error}", ""]
        lines += [run.output_text or "_(no output)_", ""]
    return lines


def _fenced(text: str) -> str:
    """Text in a code fence longer than any run of backticks inside it (nothing is rendered)."""
    longest, current = 0, 0
    for ch in text:
        current = current + 1 if ch == "`" else 0
        longest = max(longest, current)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
