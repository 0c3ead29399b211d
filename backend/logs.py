"""Logs as JSON lines (one object per event) with the ids of what the event is about, or readable
text in development.

The ids travel in context variables, set where they become known: the API's request id (from
X-Request-ID when it looks like one, else a new one; echoed in the answer), the user id once a
token is checked (never the email), and a run's id, attempt and comparison while a worker runs
it. Every log record of that task carries them, whichever module logs.  While a span is current
(tracing on: backend/tracing.py) a line also carries its trace_id and span_id, as OpenTelemetry
writes them (32 and 16 hex digits), so a log line leads to its trace and back.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
USER_ID: contextvars.ContextVar[str] = contextvars.ContextVar("user_id", default="")
RUN_ID: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="")
COMPARISON_ID: contextvars.ContextVar[str] = contextvars.ContextVar("comparison_id", default="")
CONTEXT = {"request_id": REQUEST_ID, "user_id": USER_ID, "run_id": RUN_ID, "comparison_id": COMPARISON_ID}
REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context's ids, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: value for name, var in CONTEXT.items() if (value := var.get())})
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = trace.format_trace_id(span.trace_id)
            entry["span_id"] = trace.format_span_id(span.span_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """The root logger's one handler on stderr: JSON lines, or readable text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def request_id_from(header: str) -> str:
    """The client's X-Request-ID when it is a plausible id (no spaces, quotes or newlines to
    forge log lines with), else a new one."""
    return header if _SANE_ID.fullmatch(header) else uuid.uuid4().hex


@contextmanager
def run_context(run_id: str, comparison_id: str) -> Iterator[None]:
    tokens = [(RUN_ID, RUN_ID.set(run_id)), (COMPARISON_ID, COMPARISON_ID.set(comparison_id))]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class RequestContext:
    """ASGI middleware: a request id for every API request, in the logs and the answer's header."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1"))
        token = REQUEST_ID.set(request_id)

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            REQUEST_ID.reset(token)
