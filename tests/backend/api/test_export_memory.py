"""A runs export streams: the process's peak memory while the API answers 100,000 runs stays
about what it is for 1,000 (one chunk of rows at a time), measured with tracemalloc.

The app is called as ASGI directly, with a `send` that counts the body and drops it, as a
socket would: an in-process HTTP client would collect the whole body in memory itself.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.api.app import create_api
from backend.runtime import Runtime, running
from tests.backend.runtime_support import make_settings, owner
from tests.backend.usage_support import T0, R, personal_project, save_runs

SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=1)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(f"sqlite:///{tmp_path / 'export.db'}", tmp_path)) as rt:
        yield rt


async def _export(rt: Runtime, token: str, format: str) -> tuple[int, int, int]:
    """(status, body lines, peak bytes allocated while the export ran)."""
    app = create_api(lambda: rt)
    query = f"format={format}&since={SINCE.isoformat()}&until={UNTIL.isoformat()}".replace("+", "%2B")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/runs/export",
        "raw_path": b"/api/v1/runs/export",
        "query_string": query.encode(),
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    status, lines = 0, 0
    requested, finished = False, asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the whole body is sent
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, lines
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            lines += message.get("body", b"").count(b"\n")
            if not message.get("more_body", False):
                finished.set()

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await app(scope, receive, send)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return status, lines, peak


async def test_peak_memory_is_flat_from_1000_to_100000_runs(runtime: Runtime) -> None:
    ada = await owner(runtime)
    project = await personal_project(runtime, ada)
    token = await runtime.accounts.create_api_token(ada, "export")
    runs = [R(at=T0 + timedelta(milliseconds=i), error="x" * 40) for i in range(1_000)]
    await save_runs(runtime, ada, project, runs)
    await _export(runtime, token, "jsonl")  # warm up: imports, caches, the first connection
    status, lines, small = await _export(runtime, token, "csv")
    assert (status, lines) == (200, 1_001)  # the header and 1,000 runs

    more = [R(at=T0 + timedelta(milliseconds=i), error="x" * 40) for i in range(1_000, 100_000)]
    await save_runs(runtime, ada, project, more)
    status, lines, large = await _export(runtime, token, "csv")
    assert (status, lines) == (200, 100_001)
    # 100 times the rows; holding them would take well over 100 MB here.
    assert large < small * 1.5 + 1_000_000, (small, large)
