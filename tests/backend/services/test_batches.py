"""Batches through the whole runtime (embedded queue and worker), on SQLite and PostgreSQL:
a template over a table runs across simulated models, each cell once, and is browsable."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Batch, BatchRow, Comparison, Dataset, PromptTemplate, Run
from backend.providers.base import ChatRequest
from backend.providers.simulated import simulated_text
from backend.runtime import Runtime
from backend.services.batch_results import BatchView
from backend.services.comparisons import InvalidComparison
from tests.backend.runtime_support import ProviderCalls, owner, running_on
from tests.support.clock import FakeClock

MODELS = ["simulated:instant", "simulated:swift", "simulated:steady", "simulated:terse"]
TEMPLATE = "[[simulate:tokens=4]] Describe {{city}} in {{lang}}."


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> ProviderCalls:
    return ProviderCalls(monkeypatch)


@pytest.fixture
async def brt(runtime_database_url: str, tmp_path: Path, calls: ProviderCalls) -> AsyncIterator[Runtime]:
    async with running_on(
        "memory",
        runtime_database_url,
        tmp_path,
        embedded_workers=32,
        rate_limit_requests_per_minute=0,  # the 200-row batch: limits are tested below
        rate_limit_tokens_per_day=0,
    ) as runtime:
        yield runtime


def csv_of(rows: int) -> str:
    return "city,lang\n" + "".join(f"City {i},{'French' if i % 2 else 'Japanese'}\n" for i in range(rows))


async def wait_until_ended(rt: Runtime, batch_id: str, timeout: float = 120.0) -> BatchView:
    user = await owner(rt)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await rt.batches.get(user, batch_id)
        if view.batch.status != "running":
            return view
        assert asyncio.get_running_loop().time() < deadline, f"batch not finished: {view.progress}"
        await asyncio.sleep(0.1)


def expected(model: str, prompt: str, max_tokens: int = 64) -> str:
    name = model.split(":", 1)[1]
    request = ChatRequest(model=name, prompt=prompt, temperature=0.7, max_tokens=max_tokens)
    return "".join(simulated_text(name, request))


async def test_200_rows_across_4_models_finish_each_cell_once_and_are_browsable(
    brt: Runtime, calls: ProviderCalls
) -> None:
    ada = await owner(brt)
    template = await brt.batches.save_template(
        ada, {"project_id": await default_project(brt), "name": "Cities", "prompt": TEMPLATE}
    )
    assert template.variables == ["city", "lang"] and template.version == 1
    created = await brt.batches.create(
        ada,
        {
            "template_id": template.id,
            "csv": csv_of(200),
            "models": MODELS,
            "max_tokens": 64,
            "assertions": [
                {"kind": "contains", "value": "{{city}}"},
                {"kind": "max_latency_ms", "value": "60000"},
            ],
        },
    )
    assert created.progress.cells == 800
    view = await wait_until_ended(brt, created.batch.id)
    assert view.batch.status == "done"
    assert (view.progress.done, view.progress.error, view.progress.active, view.progress.unsent) == (
        800,
        0,
        0,
        0,
    )
    # Each cell called its provider once: 200 calls per model, none repeated.
    assert Counter(calls.calls) == {m.split(":", 1)[1]: 200 for m in MODELS}

    _, page = await brt.batches.results(ada, created.batch.id, offset=190, limit=50)
    assert [r.row_index for r in page] == list(range(190, 200))
    row = page[-1]
    assert row.variables == {"city": "City 199", "lang": "French"}
    prompt = "[[simulate:tokens=4]] Describe City 199 in French."
    for model, view_cell in zip(MODELS, row.cells, strict=True):
        assert view_cell.cell is not None and view_cell.cell.status == "done"
        assert view_cell.cell.output_text == expected(model, prompt)
        assert view_cell.cell.total_ms is not None and view_cell.cell.output_tokens == 4
        # The simulated text does not name the city: "contains {{city}}" fails, latency passes.
        assert view_cell.failed == ["contains {{city}}"]
    summary = await brt.batches.summary(ada, created.batch.id)
    assert [(s.model, s.finished, s.failed) for s in summary] == [(m, 200, 200) for m in MODELS]

    async with brt.db.session() as session:
        runs = (await session.execute(select(func.count()).select_from(Run))).scalar_one()
    assert runs == 800
    history = await brt.comparisons.history(ada)
    assert history.total == 0, "a batch's rows are shown with the batch, not in History"

    lines = [json.loads(x) async for x in _lines(await brt.batches.export(ada, created.batch.id, "jsonl"))]
    assert (
        len(lines) == 800
        and lines[0]["row"] == 1
        and lines[0]["variables"] == {"city": "City 0", "lang": "Japanese"}
    )


async def _lines(body: AsyncIterator[bytes]) -> AsyncIterator[str]:
    text = b"".join([chunk async for chunk in body]).decode()
    for line in text.splitlines():
        yield line


async def default_project(rt: Runtime) -> str:
    return (await rt.projects.list_for(await owner(rt)))[0].id


async def test_a_bad_batch_is_refused_with_its_reason_and_nothing_is_saved(brt: Runtime) -> None:
    ada = await owner(brt)
    cases = [
        (
            {"prompt": "Hi {{name}}", "csv": "city\nParis\n"},
            "table",
            "{{name}}, but the table has no such column",
        ),
        ({"prompt": "Hi {{city}}", "csv": "city,x\nParis\n"}, "table", "Row 1 has 1 values"),
        ({"prompt": "Hi {{city}}", "csv": "city\n" + "x\n" * 1001}, "table", "at most 1,000"),
        ({"prompt": "Hi {{city}}", "csv": "city\n\n"}, "table", "a header but no rows"),
        ({"prompt": "Hi {{city}}", "csv": " \n"}, "table", "The CSV is empty"),
        ({"prompt": "", "csv": "city\nParis\n"}, "prompt", "Pick a template or enter a prompt"),
        ({"prompt": "{{city}}", "csv": "city\nParis\n \n"}, "table", ""),  # blank lines are skipped: valid
        ({"prompt": "{{city}}", "csv": "city,n\nParis,1\n,2\n"}, "rows.2.prompt", "Enter a prompt"),
    ]
    for extra, field, message in cases:
        payload = {"models": MODELS[:1], **extra}
        if not message:
            await brt.batches.create(ada, payload)
            continue
        with pytest.raises(InvalidComparison) as refused:
            await brt.batches.create(ada, payload)
        assert message in refused.value.errors[field], (extra, refused.value.errors)
    with pytest.raises(InvalidComparison) as refused:
        await brt.batches.create(ada, {"prompt": "x", "csv": "a\n1\n", "models": ["simulated:nope"]})
    assert "unknown simulated model 'simulated:nope'" in refused.value.errors["models.0"]
    async with brt.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Batch))).scalar_one() == 1


async def test_a_cancelled_batch_sends_no_more_rows_and_stops_its_runs(
    brt: Runtime, calls: ProviderCalls
) -> None:
    ada = await owner(brt)
    created = await brt.batches.create(
        ada,
        {
            "prompt": "[[simulate:tokens=40]] {{city}}",
            "csv": csv_of(100),
            "models": ["simulated:ponder", "simulated:ponder"],  # ~2.5 s a run
        },
    )
    await asyncio.sleep(1.0)
    view = await brt.batches.cancel(ada, created.batch.id)
    assert view.batch.status == "cancelled"
    await asyncio.sleep(1.5)
    await brt.pump.drain()
    view = await brt.batches.get(ada, created.batch.id)
    assert view.progress.active == 0
    assert view.progress.unsent > 0, "rows beyond the first window were never sent"
    assert view.progress.cancelled > 0
    sent = view.progress.cells - view.progress.unsent
    assert len(calls.calls) <= sent
    async with brt.db.session() as session:
        comparisons = (await session.execute(select(func.count()).select_from(Comparison))).scalar_one()
    assert comparisons * 2 == sent


async def test_rate_limits_pace_a_batch_before_any_call(
    runtime_database_url: str, tmp_path: Path, calls: ProviderCalls
) -> None:
    async with running_on(
        "memory", runtime_database_url, tmp_path, rate_limit_requests_per_minute=4, clock=FakeClock()
    ) as rt:
        ada = await owner(rt)
        created = await rt.batches.create(
            ada, {"prompt": "[[simulate:tokens=2]] {{city}}", "csv": csv_of(5), "models": MODELS[:2]}
        )
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            view = await rt.batches.get(ada, created.batch.id)
            if view.progress.done == 4 and view.batch.note:
                break
            assert asyncio.get_running_loop().time() < deadline, view
            await asyncio.sleep(0.1)
        assert view.batch.status == "running"
        assert "at most 4 model requests a minute" in view.batch.note
        assert view.progress.unsent == 6 and len(calls.calls) == 4
        await rt.batches.cancel(ada, created.batch.id)
        with pytest.raises(InvalidComparison) as refused:
            await rt.batches.create(
                ada, {"prompt": "{{city}}", "csv": csv_of(1), "models": MODELS + MODELS[:1]}
            )
        assert "Each row needs 5 model requests" in refused.value.errors["models"]


async def test_deleting_a_project_deletes_its_templates_datasets_and_batches(brt: Runtime) -> None:
    ada = await owner(brt)
    project = await brt.projects.create(ada, "Evals")
    await brt.batches.save_template(ada, {"project_id": project, "name": "T", "prompt": "{{city}}"})
    await brt.batches.save_dataset(ada, {"project_id": project, "name": "D", "csv": csv_of(2)})
    created = await brt.batches.create(
        ada,
        {
            "project_id": project,
            "prompt": "[[simulate:tokens=2]] {{city}}",
            "csv": csv_of(3),
            "models": MODELS,
        },
    )
    await wait_until_ended(brt, created.batch.id)
    await brt.projects.delete(ada, project)
    async with brt.db.session() as session:
        for table in (Batch, BatchRow, PromptTemplate, Dataset, Comparison):
            assert (await session.execute(select(func.count()).select_from(table))).scalar_one() == 0, table
