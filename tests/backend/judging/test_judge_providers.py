"""A judge on a real adapter: an OpenAI-compatible server (tests/support/fake_llm_server.py)
that answers a JSON verdict, streamed through the queue and worker; a judge that always
prefers what it read first gives ties; one that answers prose gives an error per order, not a
crash. And a judge's runs count against rate limits and budgets like any run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.db.models import Comparison, Judgement
from backend.judging.service import JudgementView
from backend.limits import RateLimitExceeded
from backend.providers.simulated_judge import judge_reply
from backend.ranking import Source
from backend.runtime import Runtime
from backend.services.budgets import BudgetExceeded
from backend.services.leaderboard import LeaderboardService
from tests.backend.runtime_support import owner, wait_until_final
from tests.support.clock import FakeClock
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import fake_server, runtime_on

JUDGE = "openai-compatible:lab/judge-1"
PANES = [{"model": "simulated:terse"}, {"model": "simulated:instant"}]
ALWAYS_FIRST = ["```json\n{", '"rationale": "Answer A is', ' clearer.", "winner"', ': "A"}\n```']


def _content_judge(body: dict[str, Any]) -> list[str]:
    """A server-side judge that answers a JSON verdict on the answers it is shown (by content, as
    the simulated judge does), cut into chunks as a streaming server would."""
    verdict = judge_reply(body["messages"][-1]["content"])
    return [verdict[i : i + 7] for i in range(0, len(verdict), 7)]


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server() as fake:
        yield fake


@pytest.fixture
async def jrt(server: FakeLLMServer, runtime_database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    endpoints = {"lab": {"base_url": f"{server.url}/v1", "models": "judge-1"}}
    async with runtime_on(
        server, runtime_database_url, tmp_path, openai_compatible_endpoints=endpoints, openai_api_key="sk-env"
    ) as rt:
        yield rt


async def _comparison(rt: Runtime, prompt: str = "Explain bloom filters") -> str:
    created = await rt.comparisons.create(await owner(rt), {"prompt": prompt, "panes": PANES})
    await wait_until_final(rt.comparisons, created.id)
    return created.id


async def _finished(rt: Runtime, comparison_id: str) -> JudgementView:
    for _ in range(300):
        (view,) = await rt.judges.judgements(await owner(rt), comparison_id)
        if view.finished:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"judgement not finished: {view}")


async def _count(rt: Runtime, table: type[object]) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_structured_verdict_from_an_openai_compatible_judge_parses(
    jrt: Runtime, server: FakeLLMServer
) -> None:
    server.responder = _content_judge
    comparison_id = await _comparison(jrt)
    await jrt.judges.start(await owner(jrt), comparison_id, JUDGE)
    view = await _finished(jrt, comparison_id)
    assert [r.winner for r in view.judgement.runs] == ["B", "A"]  # pane 1 (instant) both times
    assert all("words" in r.rationale for r in view.judgement.runs)
    assert (view.pairs[0].result, view.pairs[0].agreed) == ("b_wins", True)


async def test_a_judge_that_always_prefers_the_first_answer_gives_ties(
    jrt: Runtime, server: FakeLLMServer
) -> None:
    server.reply = ALWAYS_FIRST
    comparison_id = await _comparison(jrt)
    await jrt.judges.start(await owner(jrt), comparison_id, JUDGE)
    view = await _finished(jrt, comparison_id)
    assert [r.winner for r in view.judgement.runs] == ["A", "A"]
    assert all(
        r.rationale == "Answer A is clearer." and r.run and r.run.status == "done"
        for r in view.judgement.runs
    )
    (pair,) = view.pairs
    assert (pair.status, pair.result, pair.agreed) == ("done", "tie", False)
    # What the judge was sent: the verdict's format instructions, both answers, temperature 0.
    bodies = [r.body for r in server.requests if r.path == "/v1/chat/completions"]
    assert len(bodies) == 2 and all(b["model"] == "judge-1" and b["temperature"] == 0.0 for b in bodies)
    system = bodies[0]["messages"][0]
    assert system["role"] == "system" and '"winner"' in system["content"]
    project_id = (await jrt.comparisons.get_unchecked(comparison_id)).project_id
    judged = await LeaderboardService(jrt.db).leaderboard(
        await owner(jrt), project_id, source=Source.JUDGE, min_comparisons=1
    )
    assert judged.board.n_outcomes == 1
    assert {(r.model, r.ties, r.wins) for r in judged.board.rows} == {
        ("simulated:terse", 1, 0),
        ("simulated:instant", 1, 0),
    }


async def test_an_answer_that_is_no_verdict_is_an_error_for_its_order(
    jrt: Runtime, server: FakeLLMServer
) -> None:
    server.reply = ["I would say", " the first one."]
    comparison_id = await _comparison(jrt)
    await jrt.judges.start(await owner(jrt), comparison_id, JUDGE)
    view = await _finished(jrt, comparison_id)
    assert all(r.winner is None and "not a valid verdict" in r.error for r in view.judgement.runs)
    assert view.pairs[0].status == "error" and view.pairs[0].result is None
    project_id = (await jrt.comparisons.get_unchecked(comparison_id)).project_id
    board = await LeaderboardService(jrt.db).leaderboard(await owner(jrt), project_id, source=Source.JUDGE)
    assert board.board.n_outcomes == 0


async def test_a_judge_over_its_budget_is_refused_whole_and_its_runs_are_spent(
    jrt: Runtime, server: FakeLLMServer
) -> None:
    server.responder = _content_judge
    ada = await owner(jrt)
    comparison_id = await _comparison(jrt)
    before = await _count(jrt, Comparison)
    await jrt.accounts.set_budget(ada, 0.01)  # two gpt-4o runs of up to 1,024 tokens: about $0.02
    with pytest.raises(BudgetExceeded) as caught:
        await jrt.judges.start(ada, comparison_id, "openai:gpt-4o")
    assert "This judge's runs could cost up to" in caught.value.message
    assert await _count(jrt, Comparison) == before and await _count(jrt, Judgement) == 0

    await jrt.accounts.set_budget(ada, 1.00)
    await jrt.judges.start(ada, comparison_id, "openai:gpt-4o")
    view = await _finished(jrt, comparison_id)
    assert view.pairs[0].result == "b_wins" and view.pairs[0].agreed  # the longer answer, in both orders
    spent = (await jrt.budgets.spend(ada.user_id)).spent_usd
    assert spent > 0 and spent == pytest.approx(sum(r.run.cost_usd for r in view.judgement.runs if r.run))


async def test_a_judge_counts_against_the_rate_limit(
    server: FakeLLMServer, runtime_database_url: str, tmp_path: Path
) -> None:
    async with runtime_on(
        server, runtime_database_url, tmp_path, FakeClock(), rate_limit_requests_per_minute=3
    ) as rt:
        ada = await owner(rt)
        comparison_id = await _comparison(rt)  # 2 of the 3 requests this minute
        before = await _count(rt, Comparison)
        with pytest.raises(RateLimitExceeded):
            await rt.judges.start(ada, comparison_id, "simulated:judge")  # 2 more: refused whole
        assert await _count(rt, Comparison) == before and await _count(rt, Judgement) == 0


async def test_a_retried_judge_run_is_judged_again(jrt: Runtime, server: FakeLLMServer) -> None:
    server.mode = "401"  # the judge's provider refuses both calls
    ada = await owner(jrt)
    comparison_id = await _comparison(jrt)
    await jrt.judges.start(ada, comparison_id, JUDGE)
    failed = await _finished(jrt, comparison_id)
    assert all(r.winner is None and r.error for r in failed.judgement.runs)
    assert failed.pairs[0].status == "error"

    server.mode, server.responder = "ok", _content_judge
    for order in failed.judgement.runs:
        assert order.run is not None
        await jrt.comparisons.retry(ada, order.run_comparison_id, order.run.id)
        await wait_until_final(jrt.comparisons, order.run_comparison_id, attempt={order.run.id: 1})
    view = await _finished(jrt, comparison_id)
    assert [(r.winner, r.error) for r in view.judgement.runs] == [("B", ""), ("A", "")]
    assert (view.pairs[0].result, view.pairs[0].agreed) == ("b_wins", True)
