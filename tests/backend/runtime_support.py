"""Helpers for tests that drive a whole started `Runtime` (service, pump, worker, database)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from backend.db.records import ComparisonRecord, RunRecord
from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.services.comparisons import ComparisonService
from backend.settings import Settings


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings that ignore the developer's environment and `.env`: no keys, nothing remote."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "openai_api_key": "",
        "openai_base_url": "",
        "anthropic_api_key": "",
        "anthropic_base_url": "",
        "google_cloud_project": "",
        "ollama_base_url": "http://127.0.0.1:9",  # nothing listens: Ollama counts as unavailable
        "openai_compatible_endpoints": {},
        "simulated_enabled": True,
        "embedded_workers": 16,
        "provider_timeout_seconds": 30.0,
        "provider_probe_timeout_seconds": 0.3,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def expected_output(run: RunRecord, prompt: str, system_prompt: str = "") -> str:
    """The exact text the simulated model of `run` streams for this comparison."""
    name = run.model.split(":", 1)[1]
    request = ChatRequest(
        model=name,
        prompt=prompt,
        system_prompt=system_prompt,
        temperature=float(run.params.get("temperature", 0.7)),
        max_tokens=int(run.params.get("max_tokens", 1024)),
        seed=run.params.get("seed"),
    )
    return "".join(simulated_text(name, request))


async def wait_until_final(
    service: ComparisonService,
    comparison_id: str,
    timeout: float = 10.0,
    attempt: dict[str, int] | None = None,
) -> ComparisonRecord:
    """Poll the database until every run is final (at the given attempts, if any)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        record = await service.get(comparison_id)
        if all(
            run.is_final and (attempt is None or run.attempt == attempt.get(run.id, run.attempt))
            for run in record.runs
        ):
            return record
        if loop.time() > deadline:
            states = [(r.model, r.attempt, r.status) for r in record.runs]
            raise AssertionError(f"runs not final after {timeout} s: {states}")
        await asyncio.sleep(0.02)


async def wait_for_live_text(
    service: ComparisonService, comparison_id: str, run_id: str, timeout: float = 5.0
) -> str:
    """Wait until the run has streamed some text (as the page would see it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        record = service.with_live_output(await service.get(comparison_id))
        run = next(r for r in record.runs if r.id == run_id)
        if run.output_text:
            return run.output_text
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} produced no text in {timeout} s (status {run.status})")
        await asyncio.sleep(0.02)
