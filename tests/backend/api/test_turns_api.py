"""POST /api/v1/comparisons/{id}/turns and the turns in a comparison's JSON (issue 19)."""

from __future__ import annotations

from backend.runtime import Runtime
from tests.backend.api.test_api import parse_sse
from tests.backend.runtime_support import api_client, wait_until_final

PREFIX = "/api/v1"
PROMPT = "[[simulate:tokens=5]] How do tides work?"
BODY = {"prompt": PROMPT, "panes": [{"model": "simulated:instant"}, {"model": "simulated:swift"}]}


async def test_a_follow_up_streams_and_the_comparison_holds_both_turns(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        created = (await ada.post(f"{PREFIX}/comparisons", json=BODY)).json()
        cid = created["id"]
        assert [t["turn"] for t in created["turns"]] == [1]
        await wait_until_final(rt.comparisons, cid)

        sent = await ada.post(
            f"{PREFIX}/comparisons/{cid}/turns", json={"message": "[[simulate:tokens=150]] And?"}
        )
        assert sent.status_code == 201, sent.text
        body = sent.json()
        assert [r["turn"] for r in body["runs"]] == [2, 2]
        assert [(t["turn"], t["message"], t["position"]) for t in body["turns"]] == [
            (1, PROMPT, None),
            (2, "[[simulate:tokens=150]] And?", None),
        ]

        # the follow-up streams like any run: swift is paced (~1.3 s for 150 tokens, so it is still
        # streaming when the GET below starts, even on a loaded machine), so its text arrives as deltas
        events = parse_sse((await ada.get(f"{PREFIX}/comparisons/{cid}/events")).text)
        assert events[-1][0] == "done"
        swift_id = body["runs"][1]["id"]
        streamed = "".join(
            d["text"] for name, d in events[:-1] if name == "delta" and d["run_id"] == swift_id
        )
        done_runs = {r["id"]: r for r in events[-1][1]["runs"]}
        assert set(done_runs) == {r["id"] for r in body["runs"]}
        assert streamed and streamed == done_runs[swift_id]["output_text"]

        got = (await ada.get(f"{PREFIX}/comparisons/{cid}")).json()
        first, second = got["turns"]
        assert [r["status"] for r in first["runs"]] == ["done", "done"]
        assert [r["status"] for r in second["runs"]] == ["done", "done"]
        assert [r["id"] for r in got["runs"]] == [r["id"] for r in second["runs"]]
        assert all(r["output_text"] for r in second["runs"])

        one = await ada.post(
            f"{PREFIX}/comparisons/{cid}/turns", json={"message": "[[simulate:tokens=3]] you", "position": 1}
        )
        assert one.status_code == 201
        assert [r["turn"] for r in one.json()["runs"]] == [2, 3]
        assert one.json()["turns"][-1]["position"] == 1
        assert [r["position"] for r in one.json()["turns"][-1]["runs"]] == [1]


async def test_turn_refusals_viewer_403_outsider_404_bad_input_422(rt: Runtime) -> None:
    async with (
        api_client(rt, "ada@example.org") as ada,
        api_client(rt, "eve@example.org") as eve,
        api_client(rt, "vi@example.org") as vi,
    ):
        project_id = (await ada.post(f"{PREFIX}/projects", json={"name": "Team"})).json()["id"]
        invite = {"email": "vi@example.org", "role": "viewer"}
        assert (await ada.put(f"{PREFIX}/projects/{project_id}/members", json=invite)).status_code == 204
        cid = (await ada.post(f"{PREFIX}/comparisons", json={**BODY, "project_id": project_id})).json()["id"]
        await wait_until_final(rt.comparisons, cid)
        path = f"{PREFIX}/comparisons/{cid}/turns"

        viewer = await vi.post(path, json={"message": "hi"})
        assert viewer.status_code == 403 and "viewer" in viewer.json()["detail"]
        assert (await eve.post(path, json={"message": "hi"})).status_code == 404
        assert (await ada.post(f"{PREFIX}/comparisons/nope/turns", json={"message": "hi"})).status_code == 404
        for payload, field in (
            ({"message": ""}, "message"),
            ({}, "message"),
            ({"message": "hi", "position": 9}, "position"),
            ({"message": "hi", "position": -1}, "position"),
        ):
            refused = await ada.post(path, json=payload)
            assert refused.status_code == 422 and field in refused.json()["errors"], (payload, refused.text)
        got = (await vi.get(f"{PREFIX}/comparisons/{cid}")).json()
        assert len(got["turns"]) == 1


async def test_the_turns_route_is_in_the_openapi_document(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        schema = (await ada.get(f"{PREFIX}/openapi.json")).json()
    route = schema["paths"][f"{PREFIX}/comparisons/{{comparison_id}}/turns"]["post"]
    assert {"201", "403", "404", "422", "429"} <= set(route["responses"])
    assert "TurnInput" in schema["components"]["schemas"]
    assert "turns" in schema["components"]["schemas"]["ComparisonOut"]["properties"]


async def test_each_turn_has_its_own_vote_and_the_judge_judges_the_turn_asked(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        created = (await ada.post(f"{PREFIX}/comparisons", json=BODY)).json()
        cid, project_id = created["id"], created["project_id"]
        await wait_until_final(rt.comparisons, cid)
        votes = f"{PREFIX}/comparisons/{cid}/votes"
        first = await ada.post(votes, json={"best": 0})
        assert first.status_code == 200 and first.json()["mine"]["turn"] == 1
        await ada.post(f"{PREFIX}/comparisons/{cid}/turns", json={"message": "[[simulate:tokens=3]] more"})
        after = await wait_until_final(rt.comparisons, cid)

        second = (await ada.post(votes, json={"best": 1})).json()  # default: the latest turn
        assert (second["turn"], second["latest_turn"]) == (2, 2)
        assert second["mine"]["turn"] == 2 and second["mine"]["best"] == 1 and second["votes"] == 1
        kept = (await ada.get(votes, params={"turn": 1})).json()  # the first turn's vote stays
        assert kept["turn"] == 1 and kept["votes"] == 1 and kept["mine"]["best"] == 0
        changed = (await ada.post(votes, json={"best": "tie", "turn": 1})).json()
        assert changed["mine"]["best"] == "tie" and changed["tie"] == 1 and changed["votes"] == 1
        latest = (await ada.get(votes)).json()
        assert latest["turn"] == 2 and latest["mine"]["best"] == 1 and latest["tie"] == 0
        for bad in ({"best": 0, "turn": 3}, {"best": 0, "turn": 0}, {"best": 0, "turn": "1"}):
            refused = await ada.post(votes, json=bad)
            assert refused.status_code == 422 and "turn" in refused.json()["errors"], refused.text
        assert (await ada.get(votes, params={"turn": 5})).status_code == 422

        # the leaderboard counts one outcome per person per comparison: the latest turn's vote
        board = (await ada.get(f"{PREFIX}/projects/{project_id}/leaderboard?min_comparisons=0")).json()
        assert board["n_outcomes"] == 1
        wins = {r["model"]: r["wins"] for r in board["rows"]}
        assert wins == {"simulated:instant": 0, "simulated:swift": 1}

        judge = f"{PREFIX}/comparisons/{cid}/judgements"
        latest_judged = await ada.post(judge, json={"judge_model": "simulated:judge"})
        assert latest_judged.status_code == 202, latest_judged.text
        assert latest_judged.json()["turn"] == 2
        # a follow-up is judged with what the person asked before it (the panes' earlier answers
        # differ, so only the person's side is common context)
        latest_shown = await rt.comparisons.get_unchecked(
            latest_judged.json()["runs"][0]["run_comparison_id"]
        )
        earlier = latest_shown.prompt.index("earlier messages in this conversation")
        assert (
            earlier
            < latest_shown.prompt.index(PROMPT)
            < latest_shown.prompt.index("[[simulate:tokens=3]] more")
        )
        judged = await ada.post(judge, json={"judge_model": "simulated:judge", "turn": 1})
        assert judged.status_code == 202, judged.text
        assert judged.json()["turn"] == 1
        judge_run = judged.json()["runs"][0]
        shown = await rt.comparisons.get_unchecked(judge_run["run_comparison_id"])
        first_answers = {r.position: r.output_text for r in after.past_runs}
        assert first_answers[judge_run["first_pane"]] in shown.prompt
        assert PROMPT in shown.prompt and "[[simulate:tokens=3]] more" not in shown.prompt
        assert "earlier messages" not in shown.prompt  # turn 1 has none
        assert all(r.output_text not in shown.prompt for r in after.runs)
        for bad_turn in (3, 0):
            refused = await ada.post(judge, json={"judge_model": "simulated:judge", "turn": bad_turn})
            assert refused.status_code == 422 and "turn" in refused.json()["errors"], refused.text
