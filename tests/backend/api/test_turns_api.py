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


async def test_votes_and_judgements_say_which_turn_they_are_about(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        cid = (await ada.post(f"{PREFIX}/comparisons", json=BODY)).json()["id"]
        await wait_until_final(rt.comparisons, cid)
        first = await ada.post(f"{PREFIX}/comparisons/{cid}/votes", json={"best": 0})
        assert first.status_code == 200 and first.json()["mine"]["turn"] == 1
        await ada.post(f"{PREFIX}/comparisons/{cid}/turns", json={"message": "[[simulate:tokens=3]] more"})
        await wait_until_final(rt.comparisons, cid)
        second = await ada.post(f"{PREFIX}/comparisons/{cid}/votes", json={"best": 1})
        assert second.json()["mine"]["turn"] == 2 and second.json()["mine"]["best"] == 1
        judged = await ada.post(
            f"{PREFIX}/comparisons/{cid}/judgements", json={"judge_model": "simulated:judge"}
        )
        assert judged.status_code == 202, judged.text
        assert judged.json()["turn"] == 2
