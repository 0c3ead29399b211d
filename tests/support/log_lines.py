"""The root logger's records as the app writes them in production: one JSON line each (backend/logs.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from backend.logs import JsonLines


class LogLines(logging.Handler):
    """Keeps every record it is handed, formatted as a JSON line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonLines())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_log_lines(level: int = logging.INFO) -> Iterator[LogLines]:
    """The root logger's records from `level` on, while inside; its handlers and level restored after."""
    handler, root = LogLines(), logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
