"""A table of variable values from CSV text (pasted or uploaded), with messages that say what
is wrong and where: the first line names the columns, each further line is one batch row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from backend.i18n import Message

MAX_ROWS = 1_000
MAX_COLUMNS = 50
MAX_CSV_BYTES = 2_000_000
MAX_CELL_CHARS = 20_000


class InvalidTable(ValueError):
    """The CSV cannot be used; ``message`` says why (shown as is, and as the API's 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Table:
    columns: list[str]
    rows: list[dict[str, str]]


def parse_csv(text: str) -> Table:
    """The table in ``text``; raises InvalidTable for an empty or malformed CSV, a bad header,
    a row of the wrong width, or more than MAX_ROWS rows."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CSV_BYTES:
        raise InvalidTable(Message("The CSV is larger than {size:,} bytes.", size=MAX_CSV_BYTES))
    if "\x00" in text:
        raise InvalidTable(Message("The CSV must not contain NUL (\\x00) characters."))
    text = text.removeprefix("\ufeff")  # a byte order mark from spreadsheet exports
    if not text.strip():
        raise InvalidTable(Message("The CSV is empty: its first line must name the columns."))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        lines = [line for line in reader if any(cell.strip() for cell in line)]
    except csv.Error as exc:
        raise InvalidTable(
            Message("The CSV is malformed near line {line}: {error}.", line=reader.line_num, error=str(exc))
        ) from exc
    header = [name.strip() for name in lines[0]]
    if any(not name for name in header):
        raise InvalidTable(Message("Every column in the first line needs a name."))
    if len(header) > MAX_COLUMNS:
        raise InvalidTable(
            Message("The CSV has {n} columns; at most {limit} are allowed.", n=len(header), limit=MAX_COLUMNS)
        )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InvalidTable(Message("Column names must differ: {names} repeat.", names=", ".join(duplicates)))
    body = lines[1:]
    if not body:
        raise InvalidTable(Message("The CSV has a header but no rows."))
    if len(body) > MAX_ROWS:
        raise InvalidTable(
            Message("The CSV has {n:,} rows; a batch runs at most {limit:,}.", n=len(body), limit=MAX_ROWS)
        )
    rows: list[dict[str, str]] = []
    for number, line in enumerate(body, start=1):
        if len(line) != len(header):
            raise InvalidTable(
                Message(
                    "Row {row} has {n} values, but the header names {columns} columns.",
                    row=number,
                    n=len(line),
                    columns=len(header),
                )
            )
        if any(len(cell) > MAX_CELL_CHARS for cell in line):
            raise InvalidTable(
                Message(
                    "Row {row} has a value longer than {limit:,} characters.",
                    row=number,
                    limit=MAX_CELL_CHARS,
                )
            )
        rows.append(dict(zip(header, line, strict=True)))
    return Table(columns=header, rows=rows)


def table_of_rows(columns: list[str], rows: list[dict[str, str]]) -> Table:
    """A table given as JSON (the API), checked as a CSV would be."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([str(row.get(c, "")) for c in columns])
    return parse_csv(buffer.getvalue())
