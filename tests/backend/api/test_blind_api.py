"""Blind comparisons over HTTP: no response names a model until I vote or reveal."""

from __future__ import annotations

import httpx

from backend.api.app import create_api
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, wait_until_final

PREFIX = "/api/v1"
MODELS = ["simulated:instant", "simulated:swift"]
BLIND = {"prompt": "[[simulate:tokens=3]] hi", "panes": [{"model": m} for m in MODELS], "blind": True}


def _names_a_model(text: str) -> list[str]:
    return [m for m in MODELS if m in text]


async def _every_read(client: httpx.AsyncClient, comparison_id: str) -> list[httpx.Response]:
    return [
        await client.get(f"{PREFIX}/comparisons/{comparison_id}"),
        await client.get(f"{PREFIX}/comparisons"),
        await client.get(f"{PREFIX}/comparisons/{comparison_id}/votes"),
        await client.get(f"{PREFIX}/comparisons/{comparison_id}/events"),
    ]


def test_reveal_is_in_the_openapi_document() -> None:
    paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
    assert "post" in paths[f"{PREFIX}/comparisons/{{comparison_id}}/reveal"]


async def test_no_response_names_a_model_before_the_reveal(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        created = await ada.post(f"{PREFIX}/comparisons", json=BLIND)
        assert created.status_code == 201, created.text
        assert _names_a_model(created.text) == []
        body = created.json()
        assert body["masked"] and [r["model"] for r in body["runs"]] == ["Model A", "Model B"]
        await wait_until_final(rt.comparisons, body["id"])

        for response in await _every_read(ada, body["id"]):
            assert response.status_code == 200, response.text
            assert _names_a_model(response.text) == [], response.request.url

        revealed = await ada.post(f"{PREFIX}/comparisons/{body['id']}/reveal")
        assert revealed.status_code == 200
        assert not revealed.json()["masked"]
        assert sorted(r["model"] for r in revealed.json()["runs"]) == MODELS
        after = await _every_read(ada, body["id"])
        assert all(sorted(_names_a_model(r.text)) == MODELS for r in after)


async def test_a_battle_over_http_and_a_stranger_cannot_reveal(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        created = await ada.post(
            f"{PREFIX}/comparisons", json={"prompt": "[[simulate:tokens=2]] hi", "panes": [], "battle": True}
        )
        assert created.status_code == 201, created.text
        assert [r["model"] for r in created.json()["runs"]] == ["Model A", "Model B"]
        assert (await eve.post(f"{PREFIX}/comparisons/{created.json()['id']}/reveal")).status_code == 404


async def test_the_battle_pool_over_http(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        project_id = (await ada.get(f"{PREFIX}/projects")).json()[0]["id"]
        url = f"{PREFIX}/projects/{project_id}/battle-pool"
        assert (await ada.get(url)).json() == {"models": []}
        bad = await ada.put(url, json={"models": ["simulated:swift"]})
        assert bad.status_code == 422 and "at least two" in bad.json()["errors"]["models"]
        pool = ["simulated:swift", "simulated:coder"]
        assert (await ada.put(url, json={"models": pool})).json() == {"models": pool}
        assert (await ada.get(url)).json() == {"models": pool}
        assert (await eve.get(url)).status_code == 404
        assert (await eve.put(url, json={"models": pool})).status_code == 404


async def test_a_judge_over_a_blind_comparison_names_panes_by_label(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        body = (await ada.post(f"{PREFIX}/comparisons", json=BLIND)).json()
        await wait_until_final(rt.comparisons, body["id"])
        url = f"{PREFIX}/comparisons/{body['id']}/judgements"
        started = await ada.post(url, json={"judge_model": "simulated:judge"})
        assert started.status_code == 202, started.text
        assert _names_a_model(started.text) == []
        pair = (await ada.get(url)).json()[0]["pairs"][0]
        assert {pair["model_a"], pair["model_b"]} == {"Model A", "Model B"}


async def test_improving_a_blind_comparison_waits_for_the_reveal(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        body = (await ada.post(f"{PREFIX}/comparisons", json=BLIND)).json()
        await wait_until_final(rt.comparisons, body["id"])
        url = f"{PREFIX}/comparisons/{body['id']}/improvements"
        refused = await ada.post(url, json={"model": "simulated:judge"})
        assert refused.status_code == 422 and "vote or reveal" in refused.json()["errors"]["comparison"]
        assert _names_a_model(refused.text) == []
        await ada.post(f"{PREFIX}/comparisons/{body['id']}/reveal")
        assert (await ada.post(url, json={"model": "simulated:judge"})).status_code == 200
