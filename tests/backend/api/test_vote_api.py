"""Votes, the leaderboard and the recommendation over HTTP: shapes, refusals, bad input."""

from __future__ import annotations

import asyncio

import httpx

from backend.api.app import create_api
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final

PREFIX = "/api/v1"
BODY = {
    "prompt": "[[simulate:tokens=3]] hi",
    "panes": [{"model": "simulated:instant"}, {"model": "simulated:swift"}],
}


async def _finished(rt: Runtime, client: httpx.AsyncClient, n: int = 1) -> list[dict[str, object]]:
    created = [(await client.post(f"{PREFIX}/comparisons", json=BODY)).json() for _ in range(n)]
    await asyncio.gather(*(wait_until_final(rt.comparisons, c["id"]) for c in created))
    return created


def test_every_vote_route_is_in_the_openapi_document() -> None:
    paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
    assert set(paths[f"{PREFIX}/comparisons/{{comparison_id}}/votes"]) == {"get", "post"}
    assert "get" in paths[f"{PREFIX}/projects/{{project_id}}/leaderboard"]
    assert "get" in paths[f"{PREFIX}/projects/{{project_id}}/recommendation"]


async def test_vote_change_it_and_read_the_tally(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        (comparison,) = await _finished(rt, ada)
        url = f"{PREFIX}/comparisons/{comparison['id']}/votes"
        empty = (await ada.get(url)).json()
        assert empty["votes"] == 0 and empty["mine"] is None
        first = await ada.post(url, json={"best": 0, "thumbs": ["up", "down"], "comment": "short"})
        assert first.status_code == 200, first.text
        changed = (await ada.post(url, json={"best": "all_bad"})).json()
        assert changed["votes"] == 1 and changed["all_bad"] == 1
        assert [p["best"] for p in changed["panes"]] == [0, 0]
        assert changed["mine"]["best"] == "all_bad" and changed["mine"]["thumbs"] == [None, None]
        assert (await ada.get(url)).json() == changed


async def test_a_viewer_votes_and_a_non_member_gets_404_everywhere(rt: Runtime) -> None:
    async with (
        api_client(rt) as ada,
        api_client(rt, "vic@example.org") as vic,
        api_client(rt, "eve@example.org") as eve,
    ):
        (comparison,) = await _finished(rt, ada)
        project_id = comparison["project_id"]
        await rt.projects.set_member(await owner(rt), str(project_id), "vic@example.org", "viewer")
        votes = f"{PREFIX}/comparisons/{comparison['id']}/votes"
        assert (await vic.post(votes, json={"best": 1})).status_code == 200
        for method, path, body in (
            ("POST", votes, {"best": 0}),
            ("GET", votes, None),
            ("GET", f"{PREFIX}/projects/{project_id}/leaderboard", None),
            ("GET", f"{PREFIX}/projects/{project_id}/recommendation?baseline=x&min_win_rate=0.5", None),
        ):
            response = await eve.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
        assert (await ada.get(votes)).json()["votes"] == 1


async def test_bad_input_is_422_with_the_errors_shape(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        (comparison,) = await _finished(rt, ada)
        votes = f"{PREFIX}/comparisons/{comparison['id']}/votes"
        project = f"{PREFIX}/projects/{comparison['project_id']}"
        advice = f"{project}/recommendation?baseline=simulated:instant&min_win_rate="
        for method, path, body, field in (
            ("POST", votes, {"best": 2}, "best"),
            ("POST", votes, {"best": True}, "best"),
            ("POST", votes, {"best": 0, "comment": "x" * 2001}, "comment"),
            ("POST", votes, {"best": 0, "thumbs": ["meh"]}, "thumbs.0"),
            ("POST", votes, {"best": 0, "extra": 1}, "extra"),
            ("GET", f"{project}/leaderboard?source=robots", None, "source"),
            ("GET", f"{project}/leaderboard?since=2026-01-01T00:00:00", None, "since"),
            ("GET", advice + "1.5", None, "min_win_rate"),
            ("GET", advice + "nan", None, "min_win_rate"),
            ("GET", f"{project}/recommendation?min_win_rate=0.5", None, "baseline"),
        ):
            response = await ada.request(method, path, json=body)
            assert response.status_code == 422, (path, body, response.text)
            payload = response.json()
            assert field in payload["errors"] and payload["detail"].startswith("Invalid request"), payload
        too_high = await ada.get(f"{project}/recommendation?baseline=a&min_win_rate=1.5")
        assert "between 0 and 1" in too_high.json()["errors"]["min_win_rate"]
        assert (await ada.get(votes)).json()["votes"] == 0


async def test_the_board_follows_votes_and_forgets_a_deleted_comparison(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        comparisons = await _finished(rt, ada, 3)
        board_url = f"{PREFIX}/projects/{comparisons[0]['project_id']}/leaderboard?min_comparisons=2"
        for c in comparisons:
            await ada.post(f"{PREFIX}/comparisons/{c['id']}/votes", json={"best": 1})
        board = (await ada.get(board_url)).json()
        assert [r["model"] for r in board["rows"]] == ["simulated:swift", "simulated:instant"]
        assert board["rows"][0]["rank"] == 1 and board["rows"][0]["wins"] == 3
        assert board["win_rates"]["models"] and board["n_outcomes"] == 3
        assert board["rows"][0]["cost_per_1k_output_usd"] == 0.0

        assert (await ada.delete(f"{PREFIX}/comparisons/{comparisons[0]['id']}")).status_code == 204
        after = (await ada.get(board_url)).json()
        assert after["n_outcomes"] == 2 and after["rows"][0]["wins"] == 2

        advice = await ada.get(
            f"{PREFIX}/projects/{comparisons[0]['project_id']}/recommendation",
            params={"baseline": "simulated:instant", "min_win_rate": 0.9},
        )
        assert advice.status_code == 200, advice.text
        assert advice.json()["model"] is None and advice.json()["enough_evidence"] is False
        judge = (await ada.get(board_url + "&source=judge")).json()
        assert judge["n_outcomes"] == 0 and judge["source"] == "judge"


async def test_a_vote_on_a_running_comparison_is_422_and_not_saved(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        running = (
            await ada.post(f"{PREFIX}/comparisons", json={**BODY, "prompt": "[[simulate:stall@1:30]] slow"})
        ).json()
        url = f"{PREFIX}/comparisons/{running['id']}/votes"
        refused = await ada.post(url, json={"best": 0})
        assert refused.status_code == 422 and "still running" in refused.json()["errors"]["comparison"]
        assert (await ada.get(url)).json()["votes"] == 0
        await ada.post(f"{PREFIX}/comparisons/{running['id']}/cancel")


async def test_the_board_over_all_my_projects_leaves_out_other_peoples(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        for c in await _finished(rt, ada, 2):
            await ada.post(f"{PREFIX}/comparisons/{c['id']}/votes", json={"best": 1})
        other = {**BODY, "panes": [{"model": "simulated:terse"}, {"model": "simulated:steady"}]}
        eves = (await eve.post(f"{PREFIX}/comparisons", json=other)).json()
        await wait_until_final(rt.comparisons, eves["id"])
        voted = await eve.post(f"{PREFIX}/comparisons/{eves['id']}/votes", json={"best": 0})
        assert voted.status_code == 200, voted.text

        board = (await ada.get(f"{PREFIX}/leaderboard", params={"min_comparisons": 1})).json()
        assert board["project_id"] is None and board["n_outcomes"] == 2
        assert {r["model"] for r in board["rows"]} == {"simulated:instant", "simulated:swift"}
        theirs = (await eve.get(f"{PREFIX}/leaderboard")).json()
        assert {r["model"] for r in theirs["rows"]} == {"simulated:terse", "simulated:steady"}
        advice = await ada.get(
            f"{PREFIX}/recommendation", params={"baseline": "simulated:instant", "min_win_rate": 0.5}
        )
        assert advice.status_code == 200, advice.text
        assert {c["model"] for c in advice.json()["candidates"]} == {"simulated:swift"}
        bad = await ada.get(f"{PREFIX}/recommendation", params={"baseline": "x", "min_win_rate": 2})
        assert bad.status_code == 422 and "between 0 and 1" in bad.json()["errors"]["min_win_rate"]
        paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
        assert "get" in paths[f"{PREFIX}/leaderboard"] and "get" in paths[f"{PREFIX}/recommendation"]


async def test_style_control_over_http(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        (comparison,) = await _finished(rt, ada)
        await ada.post(f"{PREFIX}/comparisons/{comparison['id']}/votes", json={"best": 1})
        url = f"{PREFIX}/projects/{comparison['project_id']}/leaderboard"
        styled = await ada.get(url, params={"style_control": "true", "min_comparisons": 1})
        assert styled.status_code == 200, styled.text
        assert styled.json()["dropped_without_style"] == 0 and "style" in styled.json()
        refused = await ada.get(url, params={"style_control": "true", "source": "judge"})
        assert refused.status_code == 422 and "style_control" in refused.json()["errors"]
        assert (await ada.get(f"{PREFIX}/leaderboard", params={"style_control": "true"})).status_code == 200
