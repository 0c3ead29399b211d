"""Over budget or over a rate limit (issue 5, item 8): 429 with Retry-After from the API, a
clear message on the page, and no provider call at all (the cost abuse class: a refused
request that still reaches the provider is still billed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.runtime import Runtime
from state.compare import CompareState
from state.rows import PaneRow
from tests.backend.runtime_support import api_client, owner, wait_until_final
from tests.state.support import in_tree, sign_in
from tests.support.clock import FakeClock
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import fake_server, runtime_on

PRICED = {"model": "openai:gpt-4o", "max_tokens": 2000}
CHAT = "/v1/chat/completions"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server() as fake:
        yield fake


@pytest.fixture
async def lrt(server: FakeLLMServer, runtime_database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with runtime_on(
        server,
        runtime_database_url,
        tmp_path,
        FakeClock(),  # the limits' window stays put while the test runs
        openai_api_key="sk-env-key-1234",
        rate_limit_requests_per_minute=2,
    ) as rt:
        yield rt


def chat_calls(server: FakeLLMServer) -> int:
    return sum(1 for r in server.requests if r.path == CHAT)


async def test_over_budget_is_429_with_retry_after_and_no_provider_call(
    lrt: Runtime, server: FakeLLMServer
) -> None:
    await lrt.accounts.set_budget(await owner(lrt), 0.001)
    async with api_client(lrt) as client:
        response = await client.post("/api/v1/comparisons", json={"prompt": "hi", "panes": [PRICED]})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "budget" in response.json()["detail"]
    assert chat_calls(server) == 0
    assert (await lrt.comparisons.history(await owner(lrt))).total == 0


async def test_over_the_rate_limit_is_429_and_no_provider_call(lrt: Runtime, server: FakeLLMServer) -> None:
    async with api_client(lrt) as client:
        ok = await client.post("/api/v1/comparisons", json={"prompt": "hi", "panes": [PRICED, PRICED]})
        assert ok.status_code == 201
        await wait_until_final(lrt.comparisons, ok.json()["id"])
        calls_before = chat_calls(server)
        refused = await client.post("/api/v1/comparisons", json={"prompt": "again", "panes": [PRICED]})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert chat_calls(server) == calls_before == 2


async def test_the_page_says_why_and_calls_nothing(lrt: Runtime, server: FakeLLMServer) -> None:
    user = await owner(lrt)
    await lrt.accounts.set_budget(user, 0.001)
    tab = in_tree(CompareState)
    await sign_in(tab, lrt)
    tab.panes = [PaneRow(pane_id="p0", model="openai:gpt-4o", label="GPT-4o", max_tokens=2000)]
    tab.prompt = "Explain bloom filters"
    assert await CompareState.run.fn(tab) is None
    assert "monthly budget" in tab.limit_error
    assert tab.comparison_id == ""
    assert chat_calls(server) == 0
