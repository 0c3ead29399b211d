"""LLM-as-judge over HTTP on the embedded runtime (real queue, worker and pump), SQLite and
PostgreSQL: a judge's runs are queued, streamed and saved like any run, their verdicts are
parsed and feed the judge leaderboard (never the human one), under the usual access rules."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select, update

from backend.api.app import create_api
from backend.db.models import Comparison, Judgement, JudgeRun, Rubric, Run
from backend.judging.prompts import DEFAULT_RUBRIC
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final

PREFIX = "/api/v1"
PROMPT = "Explain how a bloom filter answers membership queries"
JUDGE = {"judge_model": "simulated:judge"}


async def _finished(rt: Runtime, client: httpx.AsyncClient, models: list[str]) -> dict[str, Any]:
    body = {"prompt": PROMPT, "panes": [{"model": m} for m in models]}
    created = await client.post(f"{PREFIX}/comparisons", json=body)
    assert created.status_code == 201, created.text
    await wait_until_final(rt.comparisons, created.json()["id"])
    return dict(created.json())


async def _judged(client: httpx.AsyncClient, comparison_id: str, timeout: float = 15.0) -> list[Any]:
    """GET the judgements until every one is finished."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"{PREFIX}/comparisons/{comparison_id}/judgements")
        assert response.status_code == 200, response.text
        judgements = response.json()
        if judgements and all(j["finished"] for j in judgements):
            return list(judgements)
        assert asyncio.get_running_loop().time() < deadline, judgements
        await asyncio.sleep(0.05)


async def _count(rt: Runtime, table: Any) -> int:
    async with rt.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


def test_judge_and_rubric_routes_are_in_the_openapi_document() -> None:
    paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
    assert set(paths[f"{PREFIX}/comparisons/{{comparison_id}}/judgements"]) == {"get", "post"}
    assert set(paths[f"{PREFIX}/projects/{{project_id}}/rubric"]) == {"get", "put"}


async def test_a_judge_runs_both_orders_of_every_pair_through_the_worker(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        comparison = await _finished(rt, ada, ["simulated:terse", "simulated:instant", "simulated:coder"])
        answers = [r["output_text"] for r in comparison["runs"]]
        started = await ada.post(f"{PREFIX}/comparisons/{comparison['id']}/judgements", json=JUDGE)
        assert started.status_code == 202, started.text
        body = started.json()
        assert body["judge_model"] == "simulated:judge" and body["rubric"] == DEFAULT_RUBRIC
        orders = [(r["first_pane"], r["second_pane"]) for r in body["runs"]]
        assert orders == [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]
        assert all(r["run_id"] and r["status"] in ("queued", "running", "done") for r in body["runs"])

        (judgement,) = await _judged(ada, comparison["id"])
        assert judgement["id"] == body["id"]
        for run in judgement["runs"]:
            assert run["status"] == "done" and run["error"] == "", run
            assert run["winner"] in ("A", "B", "tie") and run["rationale"]
            # Each judge run is an ordinary one-pane comparison, saved with its streamed answer.
            saved = (await ada.get(f"{PREFIX}/comparisons/{run['run_comparison_id']}")).json()
            assert saved["runs"][0]["output_text"] == run["output_text"] != ""
            assert saved["runs"][0]["model"] == "simulated:judge"
            first, second = answers[run["first_pane"]], answers[run["second_pane"]]
            assert first[:200] in saved["prompt"] and second[:200] in saved["prompt"]
        # The terse answer loses to both longer ones in either order, so the orders agree.
        pairs = {(p["pane_a"], p["pane_b"]): p for p in judgement["pairs"]}
        assert pairs[(0, 1)]["result"] == "b_wins" and pairs[(0, 2)]["result"] == "b_wins"
        assert all(p["status"] == "done" and p["agreed"] for p in judgement["pairs"])
        assert pairs[(0, 1)]["model_a"] == "simulated:terse"

        # A judge's own run is not a comparison to judge or improve.
        judge_run = judgement["runs"][0]["run_comparison_id"]
        for path, body in (("judgements", JUDGE), ("improvements", {"model": "simulated:judge"})):
            refused = await ada.post(f"{PREFIX}/comparisons/{judge_run}/{path}", json=body)
            assert refused.status_code == 422 and "judge's run" in refused.json()["errors"]["comparison"]
        # The judge's comparisons stay out of the history; the judged one is there.
        page = await rt.comparisons.history(await owner(rt))
        assert [c.id for c in page.items] == [comparison["id"]] and page.total == 1


async def test_verdicts_feed_the_judge_leaderboard_only_and_go_with_their_comparison(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        comparisons = [await _finished(rt, ada, ["simulated:terse", "simulated:instant"]) for _ in range(2)]
        for c in comparisons:
            started = await ada.post(f"{PREFIX}/comparisons/{c['id']}/judgements", json=JUDGE)
            assert started.status_code == 202, started.text
            await _judged(ada, c["id"])
        board_url = f"{PREFIX}/projects/{comparisons[0]['project_id']}/leaderboard"
        judge = (await ada.get(board_url, params={"source": "judge", "min_comparisons": 1})).json()
        assert judge["n_outcomes"] == 2, judge
        assert [r["model"] for r in judge["rows"]] == ["simulated:instant", "simulated:terse"]
        assert judge["rows"][0]["wins"] == 2 and judge["rows"][1]["losses"] == 2
        assert "simulated:judge" not in [r["model"] for r in judge["rows"]]
        human = (await ada.get(board_url, params={"min_comparisons": 1})).json()
        assert human["n_outcomes"] == 0
        assert "simulated:judge" not in [r["model"] for r in human["rows"]]

        assert (await ada.delete(f"{PREFIX}/comparisons/{comparisons[0]['id']}")).status_code == 204
        after = (await ada.get(board_url, params={"source": "judge", "min_comparisons": 1})).json()
        assert after["n_outcomes"] == 1 and after["rows"][0]["wins"] == 1
        assert await _count(rt, Judgement) == 1 and await _count(rt, JudgeRun) == 2
        assert await _count(rt, Comparison) == 1 + 2  # the other comparison and its judge's two


async def test_who_may_judge_and_edit_the_rubric(rt: Runtime) -> None:
    async with (
        api_client(rt) as ada,
        api_client(rt, "vic@example.org") as vic,
        api_client(rt, "ed@example.org") as ed,
        api_client(rt, "eve@example.org") as eve,
    ):
        comparison = await _finished(rt, ada, ["simulated:terse", "simulated:instant"])
        project_id = str(comparison["project_id"])
        await rt.projects.set_member(await owner(rt), project_id, "vic@example.org", "viewer")
        await rt.projects.set_member(await owner(rt), project_id, "ed@example.org", "editor")
        judgements = f"{PREFIX}/comparisons/{comparison['id']}/judgements"
        rubric = f"{PREFIX}/projects/{project_id}/rubric"

        assert (await vic.post(judgements, json=JUDGE)).status_code == 403
        assert await _count(rt, Judgement) == 0
        assert (await vic.get(judgements)).json() == []
        assert (await vic.get(rubric)).json()["is_default"] is True
        assert (await vic.put(rubric, json={"rubric": "Prefer brevity."})).status_code == 403
        assert (await ed.put(rubric, json={"rubric": "Prefer brevity."})).status_code == 403
        for method, path, body in (
            ("POST", judgements, JUDGE),
            ("GET", judgements, None),
            ("GET", rubric, None),
            ("PUT", rubric, {"rubric": "mine now"}),
        ):
            response = await eve.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
        assert await _count(rt, Rubric) == 0

        saved = await ada.put(rubric, json={"rubric": "  Prefer brevity.  "})
        assert saved.status_code == 200 and saved.json()["rubric"] == "Prefer brevity."
        assert saved.json()["is_default"] is False and saved.json()["max_chars"] == 4000
        started = await ed.post(judgements, json=JUDGE)  # an editor may run the judge
        assert started.status_code == 202 and started.json()["rubric"] == "Prefer brevity."
        judge_run = (
            await ed.get(f"{PREFIX}/comparisons/{started.json()['runs'][0]['run_comparison_id']}")
        ).json()
        assert "Prefer brevity." in judge_run["system_prompt"]
        await _judged(ed, comparison["id"])
        reset = (await ada.put(rubric, json={"rubric": ""})).json()
        assert reset["is_default"] is True and reset["rubric"] == DEFAULT_RUBRIC


async def test_bad_input_is_422_and_saves_nothing(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        comparison = await _finished(rt, ada, ["simulated:terse", "simulated:instant"])
        single = await _finished(rt, ada, ["simulated:terse"])
        project_id = comparison["project_id"]
        url = f"{PREFIX}/comparisons/{comparison['id']}/judgements"
        comparisons_before = await _count(rt, Comparison)
        for path, body, field in (
            (url, {"judge_model": "simulated:nope"}, "judge_model"),
            (url, {"judge_model": "openai:gpt-4o"}, "judge_model"),  # no key configured
            (url, {"judge_model": "no-such-family:x"}, "judge_model"),
            (url, {"judge_model": ""}, "judge_model"),
            (url, {}, "judge_model"),
            (url, {"judge_model": "simulated:judge", "extra": 1}, "extra"),
            (url, {"judge_model": "simulated:judge", "rubric": "x" * 4001}, "rubric"),
            (f"{PREFIX}/comparisons/{single['id']}/judgements", JUDGE, "comparison"),
        ):
            response = await ada.post(path, json=body)
            assert response.status_code == 422, (body, response.text)
            payload = response.json()
            assert field in payload["errors"] and payload["detail"].startswith("Invalid request"), payload
        too_long = await ada.put(f"{PREFIX}/projects/{project_id}/rubric", json={"rubric": "y" * 4001})
        assert too_long.status_code == 422 and "4,000" in too_long.json()["errors"]["rubric"]
        assert await _count(rt, Comparison) == comparisons_before
        assert await _count(rt, Judgement) == 0 and await _count(rt, Rubric) == 0


async def test_a_comparison_still_running_cannot_be_judged(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        panes = [{"model": "simulated:ponder"}, {"model": "simulated:terse"}]
        body = {"prompt": "[[simulate:tokens=20]] " + PROMPT, "panes": panes}  # ponder: about 2 s
        created = (await ada.post(f"{PREFIX}/comparisons", json=body)).json()
        response = await ada.post(f"{PREFIX}/comparisons/{created['id']}/judgements", json=JUDGE)
        assert response.status_code == 422 and "still running" in response.json()["errors"]["comparison"]
        assert await _count(rt, Judgement) == 0
        async with rt.db.session() as session:
            runs = (await session.execute(select(func.count()).select_from(Run))).scalar_one()
        assert runs == 2
        await wait_until_final(rt.comparisons, created["id"])


async def test_only_the_panes_that_answered_are_judged(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        comparison = await _finished(rt, ada, ["simulated:flaky", "simulated:terse", "simulated:instant"])
        saved = (await ada.get(f"{PREFIX}/comparisons/{comparison['id']}")).json()
        assert [r["status"] for r in saved["runs"]] == ["error", "done", "done"]
        started = await ada.post(f"{PREFIX}/comparisons/{comparison['id']}/judgements", json=JUDGE)
        assert started.status_code == 202, started.text
        assert [(r["first_pane"], r["second_pane"]) for r in started.json()["runs"]] == [(1, 2), (2, 1)]
        (judgement,) = await _judged(ada, comparison["id"])
        assert [(p["pane_a"], p["pane_b"], p["result"]) for p in judgement["pairs"]] == [(1, 2, "b_wins")]


async def test_why_an_order_has_no_verdict_is_said_in_the_requests_language(rt: Runtime) -> None:
    """The stored reason is English (older rows' wording too); the API says it in the reader's."""
    async with api_client(rt) as ada:
        comparison = await _finished(rt, ada, ["simulated:terse", "simulated:coder"])
        started = await ada.post(f"{PREFIX}/comparisons/{comparison['id']}/judgements", json=JUDGE)
        assert started.status_code == 202, started.text
        await _judged(ada, comparison["id"])
        async with rt.db.session() as session:
            await session.execute(
                update(JudgeRun).values(winner=None, rationale="", error="The judge's run ended cancelled.")
            )
            await session.commit()
        url = f"{PREFIX}/comparisons/{comparison['id']}/judgements"
        english = (await ada.get(url, headers={"accept-language": "en"})).json()
        japanese = (await ada.get(url, headers={"accept-language": "ja"})).json()
    assert {r["error"] for r in english[0]["runs"]} == {"The judge's run was stopped."}
    assert {r["error"] for r in japanese[0]["runs"]} == {"ジャッジの実行は停止されました。"}
