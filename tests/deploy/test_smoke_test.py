"""deploy/smoke_test.py, the deploy workflow's check of a new revision, against a started runtime's
HTTP API in-process (the deployed one differs only by Kafka and the workers behind the same API)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backend.runtime import running
from deploy.smoke_test import PANES, SmokeFailure, check_api
from tests.backend.runtime_support import api_client, make_settings


async def test_a_healthy_app_passes_and_the_comparison_is_deleted(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'app.db'}", tmp_path)
    async with running(settings) as rt, api_client(rt) as client:
        summary = await check_api(client)
        assert summary.startswith("health ok; comparison ")
        assert summary.endswith(f"{len(PANES)} simulated runs done")
        listed = (await client.get("/api/v1/comparisons")).json()
        assert listed["items"] == []  # the smoke test's comparison is gone


async def test_a_failing_model_fails_the_smoke_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deploy.smoke_test.PROMPT", "[[simulate:fail@2]] this model fails after two tokens")
    settings = make_settings(f"sqlite:///{tmp_path / 'app.db'}", tmp_path)
    async with running(settings) as rt, api_client(rt) as client:
        with pytest.raises(SmokeFailure, match="ended badly"):
            await check_api(client)


async def test_a_bad_token_fails_the_smoke_test(tmp_path: Path) -> None:
    from backend.api.app import create_api

    async with running(make_settings(f"sqlite:///{tmp_path / 'app.db'}", tmp_path)) as rt:
        transport = httpx.ASGITransport(app=create_api(lambda: rt))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"Authorization": "Bearer nope"}
        ) as client:
            with pytest.raises(SmokeFailure, match="create comparison: 401"):
                await check_api(client)
