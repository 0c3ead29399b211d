"""Tab tokens (UUIDs) are redacted from every log record, whoever logs it and however."""

from __future__ import annotations

import logging
import uuid

import pytest

from backend import log_redaction


@pytest.fixture
def redacting() -> object:
    before = logging.getLogRecordFactory()
    log_redaction._installed = False
    log_redaction.install()
    yield
    logging.setLogRecordFactory(before)
    log_redaction._installed = False


def test_a_token_in_an_f_string_or_in_arguments_is_redacted(
    redacting: object, caplog: pytest.LogCaptureFixture
) -> None:
    token = str(uuid.uuid4())
    caplog.set_level(logging.INFO)
    library = logging.getLogger("reflex.app")  # a logger this app does not configure
    library.warning(f"Attempting to send delta to disconnected client {token!r}")
    library.error("Error processing event %s for %s", {"token": token}, token.upper())
    logging.getLogger("backend.x").info("run %s ended", "0e31110544fe48c5878ed2d3171c50eb")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in text.lower()
    assert text.count(log_redaction.REDACTED) == 3
    assert "0e31110544fe48c5878ed2d3171c50eb" in text  # run ids (no dashes) stay readable


def test_installing_twice_wraps_once(redacting: object) -> None:
    factory = logging.getLogRecordFactory()
    log_redaction.install()
    assert logging.getLogRecordFactory() is factory
