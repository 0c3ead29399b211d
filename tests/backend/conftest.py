"""Fixtures shared by the tests that start a whole runtime (services, API, runtime)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.runtime import Runtime, running
from devstack.postgres import make_migrated_database_url
from tests.backend.runtime_support import make_settings
from tests.db_support import DATABASE_KINDS
from tests.support.log_lines import LogLines, captured_log_lines


@pytest.fixture(params=DATABASE_KINDS)
def runtime_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind, already migrated (the runtime's own upgrade finds nothing
    to do), for a runtime to use."""
    with make_migrated_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def rt(runtime_database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A started runtime (migrated database, event pump, embedded worker)."""
    async with running(make_settings(runtime_database_url, tmp_path)) as runtime:
        yield runtime


@pytest.fixture
def captured() -> Iterator[LogLines]:
    """Log records (INFO and up) of the test, as JSON lines."""
    with captured_log_lines() as lines:
        yield lines


DoneResult = Callable[..., dict[str, Any]]


@pytest.fixture
def done_result() -> DoneResult:
    """The fields of a run's attempt that ended done, as a worker reports it (a one-token answer
    in 2 ms unless told otherwise): `done_result(run_id, **changes)`, for `save_run_result` (with
    `cost_usd`) or a `FinalEvent` (with `chunks`)."""

    def fields(run_id: str, **changes: Any) -> dict[str, Any]:
        done = {"attempt": 0, "status": "done", "output_text": "answer", "ttft_ms": 1.0, "total_ms": 2.0}
        return {"run_id": run_id, **done, "input_tokens": 1, "output_tokens": 1, **changes}

    return fields
