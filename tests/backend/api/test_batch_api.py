"""Templates, datasets and batches over HTTP on the embedded runtime, SQLite and PostgreSQL:
versions, a batch from a saved template and dataset, its results and exports (CSV with
formula cells neutralised, JSON Lines), cancel, and the usual access rules and 422s."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import httpx

from backend.api.app import create_api
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner

PREFIX = "/api/v1"
MODELS = ["simulated:instant", "simulated:swift"]
CSV = 'city,note\nParis,=HYPERLINK("http://evil")\nKyoto,plain\n'


def test_batch_routes_are_in_the_openapi_document() -> None:
    paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
    assert set(paths[f"{PREFIX}/templates"]) == {"post"}
    assert set(paths[f"{PREFIX}/templates/{{template_id}}/versions"]) == {"get", "post"}
    assert set(paths[f"{PREFIX}/datasets"]) == {"post"}
    assert set(paths[f"{PREFIX}/batches"]) == {"post"}
    assert set(paths[f"{PREFIX}/batches/{{batch_id}}"]) == {"get", "delete"}
    for path in ("results", "summary", "export"):
        assert set(paths[f"{PREFIX}/batches/{{batch_id}}/{path}"]) == {"get"}
    assert set(paths[f"{PREFIX}/batches/{{batch_id}}/cancel"]) == {"post"}
    assert set(paths[f"{PREFIX}/projects/{{project_id}}/batches"]) == {"get"}


async def _project(rt: Runtime) -> str:
    return (await rt.projects.list_for(await owner(rt)))[0].id


async def _ended(client: httpx.AsyncClient, batch_id: str) -> dict[str, Any]:
    for _ in range(400):
        body = (await client.get(f"{PREFIX}/batches/{batch_id}")).json()
        if body["status"] != "running":
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError(body)


async def test_template_versions_dataset_batch_results_and_exports(rt: Runtime) -> None:
    project = await _project(rt)
    async with api_client(rt) as ada:
        v1 = await ada.post(
            f"{PREFIX}/templates",
            json={"project_id": project, "name": "Cities", "prompt": "[[simulate:tokens=3]] {{city}}"},
        )
        assert v1.status_code == 201, v1.text
        template = v1.json()
        assert (template["version"], template["variables"]) == (1, ["city"])
        v2 = await ada.post(
            f"{PREFIX}/templates/{template['id']}/versions",
            json={
                "project_id": project,
                "name": "Cities",
                "prompt": "[[simulate:tokens=3]] {{city}} ({{note}})",
            },
        )
        assert v2.status_code == 201 and v2.json()["version"] == 2
        assert [
            t["version"] for t in (await ada.get(f"{PREFIX}/templates/{template['id']}/versions")).json()
        ] == [1, 2]
        listed = (await ada.get(f"{PREFIX}/projects/{project}/templates")).json()
        assert [(t["name"], t["version"]) for t in listed] == [("Cities", 2)]

        dataset = await ada.post(
            f"{PREFIX}/datasets", json={"project_id": project, "name": "Two", "csv": CSV}
        )
        assert dataset.status_code == 201 and dataset.json()["row_count"] == 2, dataset.text

        created = await ada.post(
            f"{PREFIX}/batches",
            json={
                "template_id": v2.json()["id"],
                "dataset_id": dataset.json()["id"],
                "models": MODELS,
                "assertions": [{"kind": "max_cost_usd", "value": "0"}, {"kind": "regex", "value": "^Q"}],
            },
        )
        assert created.status_code == 201, created.text
        batch = await _ended(ada, created.json()["id"])
        assert batch["status"] == "done" and batch["progress"]["done"] == 4, batch

        results = (await ada.get(f"{PREFIX}/batches/{batch['id']}/results")).json()
        assert [r["row"] for r in results["rows"]] == [1, 2]
        cell = results["rows"][0]["cells"][1]
        assert cell["model"] == MODELS[1] and cell["status"] == "done" and cell["output_tokens"] == 3
        assert cell["total_ms"] is not None and cell["cost_usd"] == 0.0
        passed = {c["passed"] for r in results["rows"] for c in r["cells"]}
        failed = {tuple(c["failed_assertions"]) for r in results["rows"] for c in r["cells"]}
        assert passed == {False} and failed == {("regex ^Q",)}

        exported = await ada.get(f"{PREFIX}/batches/{batch['id']}/export", params={"format": "csv"})
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(table) == 4 and table[0]["city"] == "Paris"
        assert table[0]["note"] == '\'=HYPERLINK("http://evil")'  # neutralised: not a formula
        assert table[0]["passed"] == "False" and table[0]["failed_assertions"] == "regex ^Q"
        lines = (await ada.get(f"{PREFIX}/batches/{batch['id']}/export", params={"format": "jsonl"})).text
        first = json.loads(lines.splitlines()[0])
        assert first["variables"]["note"] == '=HYPERLINK("http://evil")' and first["model"] == MODELS[0]

        summary = (await ada.get(f"{PREFIX}/batches/{batch['id']}/summary")).json()
        assert [(s["model"], s["finished"], s["failed"]) for s in summary] == [(m, 2, 2) for m in MODELS]
        assert [b["id"] for b in (await ada.get(f"{PREFIX}/projects/{project}/batches")).json()] == [
            batch["id"]
        ]


async def test_who_may_do_what_and_bad_input(rt: Runtime) -> None:
    project = await _project(rt)
    async with (
        api_client(rt) as ada,
        api_client(rt, "vic@example.org") as vic,
        api_client(rt, "eve@example.org") as eve,
    ):
        await rt.projects.set_member(await owner(rt), project, "vic@example.org", "viewer")
        body = {
            "project_id": project,
            "prompt": "[[simulate:tokens=40]] {{city}}",
            "csv": CSV,
            "models": ["simulated:ponder"],
        }
        created = await ada.post(f"{PREFIX}/batches", json=body)
        assert created.status_code == 201, created.text
        batch = created.json()["id"]
        template = {"project_id": project, "name": "T", "prompt": "{{x}}"}

        assert (await vic.post(f"{PREFIX}/batches", json=body)).status_code == 403
        assert (await vic.post(f"{PREFIX}/templates", json=template)).status_code == 403
        assert (await vic.post(f"{PREFIX}/batches/{batch}/cancel")).status_code == 403
        assert (await vic.get(f"{PREFIX}/batches/{batch}/results")).status_code == 200
        for method, path, payload in (
            ("POST", f"{PREFIX}/batches", body),
            ("POST", f"{PREFIX}/templates", template),
            ("GET", f"{PREFIX}/batches/{batch}", None),
            ("GET", f"{PREFIX}/batches/{batch}/export", None),
            ("POST", f"{PREFIX}/batches/{batch}/cancel", None),
            ("GET", f"{PREFIX}/projects/{project}/templates", None),
        ):
            assert (await eve.request(method, path, json=payload)).status_code == 404, (method, path)

        cancelled = await ada.post(f"{PREFIX}/batches/{batch}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

        for path, bad, field in (
            ("/batches", {**body, "csv": "city\n" + "x\n" * 1001}, "table"),
            ("/batches", {**body, "prompt": "{{nope}}"}, "table"),
            ("/batches", {**body, "csv": "city,x\nParis\n"}, "table"),
            ("/batches", {**body, "models": []}, "models"),
            ("/batches", {**body, "assertions": [{"kind": "regex", "value": "("}]}, "assertions.0"),
            ("/datasets", {"project_id": project, "name": "x", "csv": ""}, "csv"),
            ("/templates", {**template, "prompt": ""}, "prompt"),
        ):
            response = await ada.post(f"{PREFIX}{path}", json=bad)
            assert response.status_code == 422, (bad, response.text)
            assert field in response.json()["errors"], (bad, response.text)
