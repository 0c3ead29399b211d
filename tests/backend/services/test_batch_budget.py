"""A batch whose most possible cost would pass the monthly budget is refused before anything is
saved or called, on SQLite and PostgreSQL; a cheaper one runs, each row checked again before
it is sent (a batch that would pass the budget midway stops, saying why)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from backend.db.models import Batch, Comparison
from backend.runtime import Runtime
from backend.services.batch_results import BatchView
from backend.services.budgets import BudgetExceeded, max_cost_usd
from tests.backend.runtime_support import owner
from tests.backend.services.test_budgets import spend
from tests.support.clock import FakeClock
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import fake_server, runtime_on

PRICED = "openai:gpt-4o"
PROMPT = "Explain {{topic}} briefly"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server() as fake:
        yield fake


@pytest.fixture
async def brt(server: FakeLLMServer, runtime_database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with runtime_on(server, runtime_database_url, tmp_path, openai_api_key="sk-env-key-1234") as rt:
        yield rt


async def _count(rt: Runtime, table: object) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_batch_that_could_pass_the_budget_is_refused_and_nothing_is_saved(
    brt: Runtime, server: FakeLLMServer
) -> None:
    ada = await owner(brt)
    await brt.accounts.set_budget(ada, 1.00)
    await spend(brt, ada, 0.95)
    row_cost = max_cost_usd("", "Explain bloom filters briefly", [(PRICED, 2000)])
    assert 0.01 < row_cost < 0.03
    comparisons = await _count(brt, Comparison)
    requests = len(server.requests)
    with pytest.raises(BudgetExceeded) as refused:
        await brt.batches.create(
            ada,
            {
                "prompt": PROMPT,
                "csv": "topic\n" + "bloom filters\n" * 10,  # ten rows: about $0.2 at most
                "models": [PRICED],
                "max_tokens": 2000,
            },
        )
    assert "This batch could cost up to" in refused.value.message
    assert await _count(brt, Batch) == 0 and await _count(brt, Comparison) == comparisons
    assert len(server.requests) == requests  # no provider was called


async def test_spend_that_grows_meanwhile_stops_a_batch_before_its_next_row(
    server: FakeLLMServer, runtime_database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with runtime_on(
        server,
        runtime_database_url,
        tmp_path,
        clock,
        openai_api_key="sk-env-key-1234",
        rate_limit_requests_per_minute=1,  # one row a minute: the test spends between rows
    ) as rt:
        ada = await owner(rt)
        await rt.accounts.set_budget(ada, 1.00)
        created = await rt.batches.create(
            ada, {"prompt": PROMPT, "csv": "topic\n" + "x\n" * 3, "models": [PRICED], "max_tokens": 2000}
        )
        batch_id = created.batch.id
        view = await _until(rt, batch_id, lambda v: v.progress.done == 1 and "Rate limit" in v.batch.note)
        assert view.progress.unsent == 2
        # The minute passes and someone spends (another tab, say) before the batch's next row:
        # the budget is checked before the rate limit, so that row is refused for the budget.
        clock.advance(60)
        await spend(rt, ada, 0.99)
        async with rt.db.session() as session:
            await session.execute(update(Batch).where(Batch.id == batch_id).values(not_before=None))
            await session.commit()
        rt.batch_dispatcher.wake()
        view = await _until(rt, batch_id, lambda v: v.batch.status != "running")
        assert view.batch.status == "stopped"
        assert "would pass your monthly budget" in view.batch.note
        assert view.progress.unsent == 2 and view.progress.done == 1
        assert sum(1 for r in server.requests if r.path == "/v1/chat/completions") == 1


async def _until(rt: Runtime, batch_id: str, ok: Callable[[BatchView], bool]) -> BatchView:
    ada = await owner(rt)
    deadline = asyncio.get_running_loop().time() + 20
    while not ok(view := await rt.batches.get(ada, batch_id)):
        assert asyncio.get_running_loop().time() < deadline, view
        await asyncio.sleep(0.1)
    return view
