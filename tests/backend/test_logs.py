"""JSON-lines logs: one object a line with the request, user, run and comparison ids where they
are known, the request id echoed to the client (a forged one replaced), and no email anywhere."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from backend.logs import USER_ID, RequestContext, request_id_from
from backend.runtime import Runtime, running
from tests.backend.runtime_support import OWNER_EMAIL, api_client, make_settings, wait_until_final
from tests.support.log_lines import LogLines


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(f"sqlite:///{tmp_path / 'logs.db'}", tmp_path)) as rt:
        yield rt


async def test_a_run_logs_its_ids_and_no_email(runtime: Runtime, captured: LogLines) -> None:
    async with api_client(runtime) as ada:
        answer = await ada.post(
            "/api/v1/comparisons",
            json={"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": "simulated:instant"}]},
            headers={"X-Request-ID": "req-12345678"},
        )
        assert answer.headers["x-request-id"] == "req-12345678"
        created = answer.json()
        await wait_until_final(runtime.comparisons, created["id"])
        forged = await ada.get("/api/v1/models", headers={"X-Request-ID": 'x" \\n{"level": "CRITICAL"}'})
        assert len(forged.headers["x-request-id"]) == 32  # replaced by a fresh id
    entries = [json.loads(line) for line in captured.lines]  # every line is one JSON object
    run_id = created["runs"][0]["id"]
    mine = [e for e in entries if e.get("run_id") == run_id]
    assert mine and all(e["comparison_id"] == created["id"] for e in mine)
    assert any("ended" in e["message"] for e in mine)
    assert all(OWNER_EMAIL not in line for line in captured.lines)


async def test_the_request_context_reaches_every_record_of_the_request(captured: LogLines) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        USER_ID.set("user-1")
        logging.getLogger("tests.app").warning("inside")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/api/v1/x", "headers": [(b"x-request-id", b"abcdef-123456")]}
    await RequestContext(app, "/api/v1/")(scope, None, send)
    (entry,) = [json.loads(line) for line in captured.lines if "inside" in line]
    assert (entry["request_id"], entry["user_id"], entry["level"]) == ("abcdef-123456", "user-1", "WARNING")
    assert (b"x-request-id", b"abcdef-123456") in sent[0]["headers"]
    assert request_id_from("short") != "short" and request_id_from("a" * 65) != "a" * 65
