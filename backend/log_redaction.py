"""Tab tokens out of every log line.

A tab's client token (a UUID the browser keeps in sessionStorage) is a bearer credential for
the tab's server-side state, and Reflex writes it into log lines of its own: the event it
failed to process (with its router data), a state lock held too long, an update for a
disconnected client. Those lines come from libraries this app does not control, so the
redaction happens where every log record is made: a record factory that rewrites the
message once formatted. Session and API tokens never reach a log (tests/security scans the
logs for all three).
"""

from __future__ import annotations

import logging
import re
from typing import Any

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
REDACTED = "<token>"

_installed = False


def redact(text: str) -> str:
    return UUID.sub(REDACTED, text)


def install() -> None:
    """Make every log record of this process carry its message with UUIDs redacted (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return record
        if UUID.search(message):
            record.msg, record.args = redact(message), None
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True
