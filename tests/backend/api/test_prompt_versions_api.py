"""The improved prompt over HTTP on the embedded runtime, SQLite and PostgreSQL: a LangChain
chain proposes a revision from the outputs, votes and judge rationales; accepting it runs the
next version; versions list their win rates and cost; the usual access rules and 422s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.api.app import create_api
from backend.db.models import Comparison, PromptVersion
from backend.providers.simulated_judge import IMPROVED_SUFFIX
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final
from tests.support.clock import FakeClock
from tests.support.fake_llm_server import FakeLLMServer
from tests.support.keys import fake_server, runtime_on

PREFIX = "/api/v1"
PROMPT = "Explain how a bloom filter answers membership queries"
PANES = [{"model": "simulated:terse", "temperature": 0.3}, {"model": "simulated:instant"}]


async def _finished(rt: Runtime, client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post(f"{PREFIX}/comparisons", json={"prompt": PROMPT, "panes": PANES})
    assert created.status_code == 201, created.text
    await wait_until_final(rt.comparisons, created.json()["id"])
    return dict(created.json())


async def _count(rt: Runtime, table: Any) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def _judged(rt: Runtime, client: httpx.AsyncClient, comparison_id: str) -> None:
    started = await client.post(
        f"{PREFIX}/comparisons/{comparison_id}/judgements", json={"judge_model": "simulated:judge"}
    )
    assert started.status_code == 202, started.text
    for _ in range(300):
        judgements = (await client.get(f"{PREFIX}/comparisons/{comparison_id}/judgements")).json()
        if all(j["finished"] for j in judgements):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(judgements)


def test_prompt_version_routes_are_in_the_openapi_document() -> None:
    paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
    assert set(paths[f"{PREFIX}/comparisons/{{comparison_id}}/improvements"]) == {"post"}
    assert set(paths[f"{PREFIX}/comparisons/{{comparison_id}}/versions"]) == {"get", "post"}


async def test_propose_accept_and_list_versions(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        v1 = await _finished(rt, ada)
        await ada.post(f"{PREFIX}/comparisons/{v1['id']}/votes", json={"best": 1, "comment": "more detail"})
        await _judged(rt, ada, v1["id"])
        assert (await ada.get(f"{PREFIX}/comparisons/{v1['id']}/versions")).json() == []

        proposed = await ada.post(
            f"{PREFIX}/comparisons/{v1['id']}/improvements", json={"model": "simulated:judge"}
        )
        assert proposed.status_code == 200, proposed.text
        proposal = proposed.json()
        assert proposal["prompt"] == f"{PROMPT}\n\n{IMPROVED_SUFFIX}" and proposal["system_prompt"]
        assert proposal["reason"] and proposal["proposed_by"] == "simulated:judge"
        assert await _count(rt, PromptVersion) == 0  # a proposal saves nothing

        accepted = await ada.post(f"{PREFIX}/comparisons/{v1['id']}/versions", json=proposal)
        assert accepted.status_code == 201, accepted.text
        body = accepted.json()
        assert (body["lineage_id"], body["version"]) == (v1["id"], 2)
        v2 = body["comparison"]
        assert v2["prompt"] == proposal["prompt"] and v2["system_prompt"] == proposal["system_prompt"]
        assert [(r["model"], r["params"]["temperature"]) for r in v2["runs"]] == [
            ("simulated:terse", 0.3),
            ("simulated:instant", 0.7),
        ]
        await wait_until_final(rt.comparisons, v2["id"])

        versions = (await ada.get(f"{PREFIX}/comparisons/{v2['id']}/versions")).json()
        assert [(v["version"], v["comparison_id"]) for v in versions] == [(1, v1["id"]), (2, v2["id"])]
        first, second = versions
        assert first["votes"] == 1 and first["vote_win_rates"] == {
            "simulated:terse": 0.0,
            "simulated:instant": 1.0,
        }
        assert first["judge_win_rates"] == {"simulated:terse": 0.0, "simulated:instant": 1.0}
        assert second["reason"] == proposal["reason"] and second["proposed_by"] == "simulated:judge"
        assert second["votes"] == 0 and second["vote_win_rates"] == {} and second["cost_usd"] == 0.0
        assert (await ada.get(f"{PREFIX}/comparisons/{v1['id']}/versions")).json() == versions

        third = await ada.post(
            f"{PREFIX}/comparisons/{v2['id']}/versions", json={"prompt": "Bloom filters, briefly"}
        )
        assert (
            third.status_code == 201
            and third.json()["version"] == 3
            and third.json()["lineage_id"] == v1["id"]
        )
        await wait_until_final(rt.comparisons, third.json()["comparison"]["id"])


async def test_who_may_improve_and_bad_input(rt: Runtime) -> None:
    async with (
        api_client(rt) as ada,
        api_client(rt, "vic@example.org") as vic,
        api_client(rt, "eve@example.org") as eve,
    ):
        v1 = await _finished(rt, ada)
        await rt.projects.set_member(await owner(rt), str(v1["project_id"]), "vic@example.org", "viewer")
        improve = f"{PREFIX}/comparisons/{v1['id']}/improvements"
        versions = f"{PREFIX}/comparisons/{v1['id']}/versions"
        before = await _count(rt, Comparison)
        assert (await vic.post(improve, json={"model": "simulated:judge"})).status_code == 403
        assert (await vic.post(versions, json={"prompt": "x"})).status_code == 403
        assert (await vic.get(versions)).status_code == 200
        for method, path, body in (
            ("POST", improve, {"model": "simulated:judge"}),
            ("POST", versions, {"prompt": "x"}),
            ("GET", versions, None),
        ):
            assert (await eve.request(method, path, json=body)).status_code == 404, (method, path)
        for path, bad, field in (
            (improve, {"model": "simulated:nope"}, "model"),
            (improve, {"model": "openai:gpt-4o"}, "model"),
            (improve, {}, "model"),
            (versions, {"prompt": ""}, "prompt"),
            (versions, {"prompt": "x", "extra": 1}, "extra"),
        ):
            response = await ada.post(path, json=bad)
            assert response.status_code == 422 and field in response.json()["errors"], (bad, response.text)
        assert await _count(rt, Comparison) == before and await _count(rt, PromptVersion) == 0


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_server() as fake:
        yield fake


async def test_the_chain_sends_outputs_and_feedback_and_refuses_a_non_proposal(
    server: FakeLLMServer, runtime_database_url: str, tmp_path: Path
) -> None:
    endpoints = {"lab": {"base_url": f"{server.url}/v1", "models": "editor"}}
    async with (
        runtime_on(server, runtime_database_url, tmp_path, openai_compatible_endpoints=endpoints) as rt,
        api_client(rt) as ada,
    ):
        v1 = await _finished(rt, ada)
        await ada.post(
            f"{PREFIX}/comparisons/{v1['id']}/votes", json={"best": 1, "comment": "needs an example"}
        )
        improve = f"{PREFIX}/comparisons/{v1['id']}/improvements"
        model = {"model": "openai-compatible:lab/editor"}
        server.reply = [
            '```json\n{"prompt": "Explain bloom filters with an example",',
            ' "reason": "Voters asked for one."}\n```',
        ]
        proposal = await ada.post(improve, json=model)
        assert proposal.status_code == 200, proposal.text
        assert (
            proposal.json()["prompt"] == "Explain bloom filters with an example"
            and proposal.json()["system_prompt"] == ""
        )
        sent = server.last_body("/v1/chat/completions")
        system, human = sent["messages"][0]["content"], sent["messages"][-1]["content"]
        assert '"reason"' in system  # the parser's format instructions
        assert PROMPT in human and "needs an example" in human and "answer 1 best" in human
        outputs = [
            r["output_text"] for r in (await ada.get(f"{PREFIX}/comparisons/{v1['id']}")).json()["runs"]
        ]
        assert all(text[:100] in human for text in outputs)

        server.reply = ["Try adding an example."]
        refused = await ada.post(improve, json=model)
        assert refused.status_code == 422 and "not a proposal" in refused.json()["errors"]["model"]


async def test_a_proposal_counts_against_the_rate_limit(
    server: FakeLLMServer, runtime_database_url: str, tmp_path: Path
) -> None:
    async with (
        runtime_on(
            server, runtime_database_url, tmp_path, FakeClock(), rate_limit_requests_per_minute=3
        ) as rt,
        api_client(rt) as ada,
    ):
        v1 = await _finished(rt, ada)  # 2 of the 3 requests this minute
        improve = f"{PREFIX}/comparisons/{v1['id']}/improvements"
        assert (await ada.post(improve, json={"model": "simulated:judge"})).status_code == 200
        refused = await ada.post(improve, json={"model": "simulated:judge"})
        assert refused.status_code == 429 and refused.headers["Retry-After"]
