"""Usage, the burn-down and exports over HTTP: shapes, who may see what, bad input, CSV formula
neutralising, blind masking, keyset paging, and a comparison as Markdown and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import update

from backend.api.app import create_api
from backend.db.models import User
from backend.db.usage import BLIND_MODEL
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final
from tests.backend.usage_support import T0, R, personal_project, save_runs

PREFIX = "/api/v1"
WINDOW = {"since": (T0 - timedelta(days=1)).isoformat(), "until": (T0 + timedelta(days=1)).isoformat()}
A, B = "simulated:instant", "simulated:swift"


def test_the_usage_routes_are_in_the_openapi_document() -> None:
    paths = create_api(lambda: None).openapi()["paths"]  # type: ignore[arg-type,return-value]
    for path in ("/usage", "/usage/burn-down", "/runs/export", "/comparisons/{comparison_id}/export"):
        assert "get" in paths[PREFIX + path], path


async def test_usage_by_model_and_day_and_who_may_read_it(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        who = await owner(rt)
        project = await personal_project(rt, who)
        await save_runs(rt, who, project, [R(cost_usd=0.5), R(model=B, status="error", ttft_ms=None)])
        body = (await ada.get(f"{PREFIX}/usage", params={"project_id": project, **WINDOW})).json()
        assert body["runs"] == 2 and body["cost_usd"] == 0.5 and body["group_by"] == "model"
        rows = {r["model"]: r for r in body["rows"]}
        assert rows[A]["ttft_p50_ms"] == 100.0 and rows[A]["tokens_per_s_p95"] == 10.0
        assert rows[B]["error_rate"] == 1.0 and rows[B]["ttft_p50_ms"] is None
        daily = (await ada.get(f"{PREFIX}/usage", params={"group_by": "day", **WINDOW})).json()
        assert {r["bucket"] for r in daily["rows"]} == {"2026-11-02"}

        assert (await eve.get(f"{PREFIX}/usage", params={"project_id": project})).status_code == 404
        assert (await eve.get(f"{PREFIX}/runs/export", params={"project_id": project})).status_code == 404
        assert (await eve.get(f"{PREFIX}/usage", params={"everyone": "true"})).status_code == 403
        assert (await eve.get(f"{PREFIX}/usage", params=WINDOW)).json()["runs"] == 0  # only eve's projects
    root_id = (await owner(rt, "root@example.org")).user_id
    async with rt.db.session() as session:
        await session.execute(update(User).where(User.id == root_id).values(is_admin=True))
        await session.commit()
    async with api_client(rt, "root@example.org") as root:
        everyone = await root.get(f"{PREFIX}/usage", params={"everyone": "true", **WINDOW})
        assert everyone.status_code == 200 and everyone.json()["runs"] == 2


async def test_bad_parameters_are_422_before_anything_is_sent(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        for path, params, field in (
            ("/usage", {"group_by": "hour"}, "group_by"),
            ("/usage", {"since": "2026-11-01T00:00:00"}, "since"),  # no time zone
            ("/usage", {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "since"),
            ("/runs/export", {"format": "xlsx"}, "format"),
            ("/runs/export", {"since": "yesterday"}, "since"),
            ("/runs/export", {"model": "a\x00b"}, "model"),
            ("/runs/export", {"project_id": "a\x00b", "everyone": "true"}, "project_id"),
            ("/usage", {"until": "0001-01-01T00:00:00Z"}, "since"),
        ):
            response = await ada.get(PREFIX + path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert field in response.json()["errors"], response.json()


async def test_the_burn_down(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        body = (await ada.get(f"{PREFIX}/usage/burn-down")).json()
        assert body["budget_usd"] is None and body["spent_usd"] == 0.0 and body["days"]
        assert body["days"][-1]["cumulative_usd"] == 0.0


async def test_csv_export_neutralises_formulas_and_masks_blind_runs(rt: Runtime) -> None:
    async with api_client(rt) as ada:
        who = await owner(rt)
        project = await personal_project(rt, who)
        hostile = ['=HYPERLINK("http://evil")', "+1+2", "-3+4", "@SUM(A1)", "\tx", "\rx", "plain - text"]
        await save_runs(
            rt,
            who,
            project,
            [R(status="error", error=e, at=T0 + timedelta(seconds=i)) for i, e in enumerate(hostile)],
            per_comparison=10,
        )
        await save_runs(
            rt, who, project, [R(model=B, cost_usd=0.3, at=T0 + timedelta(minutes=1))], blind=True
        )
        response = await ada.get(f"{PREFIX}/runs/export", params={"format": "csv", **WINDOW})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert 'filename="runs.csv"' in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["error"] for r in rows[:-1]] == [
            '\'=HYPERLINK("http://evil")',
            "'+1+2",
            "'-3+4",
            "'@SUM(A1)",
            "'\tx",
            "'\rx",
            "plain - text",
        ]
        blind = rows[-1]
        assert (blind["model"], blind["provider"], blind["cost_usd"]) == ("Model A", "", "0.0")
        assert B not in response.text

        lines = (
            await ada.get(f"{PREFIX}/runs/export", params={"format": "jsonl", **WINDOW})
        ).text.splitlines()
        records = [json.loads(line) for line in lines]
        assert records[0]["error"] == hostile[0]  # JSON is data, not a spreadsheet: kept as it was
        assert records[0]["tokens_per_second"] == 10.0 and records[-1]["model"] == "Model A"
        only_b = await ada.get(f"{PREFIX}/runs/export", params={"format": "jsonl", "model": B, **WINDOW})
        assert only_b.text == ""  # a model filter does not find the blind run (it would name it)
        usage = (await ada.get(f"{PREFIX}/usage", params=WINDOW)).json()
        assert BLIND_MODEL in {r["model"] for r in usage["rows"]}


async def test_export_pages_through_ties_without_losing_or_repeating_runs(rt: Runtime) -> None:
    who = await owner(rt)
    project = await personal_project(rt, who)
    await save_runs(rt, who, project, [R(input_tokens=i) for i in range(10)], per_comparison=10)  # one time
    await save_runs(rt, who, project, [R(model=B, at=T0 + timedelta(seconds=1)) for _ in range(2)])
    body = await rt.exports.runs(who, format="jsonl", since=T0, until=T0 + timedelta(hours=1), chunk_rows=3)
    records = [json.loads(line) for chunk in [c async for c in body] for line in chunk.decode().splitlines()]
    assert len(records) == 12 and len({r["run_id"] for r in records}) == 12
    assert sorted(r["input_tokens"] for r in records[:10]) == list(range(10))
    body = await rt.exports.runs(who, format="jsonl", since=T0, until=T0 + timedelta(hours=1), model=B)
    assert sum(chunk.count(b"\n") for chunk in [c async for c in body]) == 2


async def test_a_comparison_as_markdown_and_json(rt: Runtime) -> None:
    async with api_client(rt) as ada, api_client(rt, "eve@example.org") as eve:
        prompt = "[[simulate:tokens=3]] Say ``` hi"
        created = await ada.post(f"{PREFIX}/comparisons", json={"prompt": prompt, "panes": [{"model": A}]})
        cid = created.json()["id"]
        final = await wait_until_final(rt.comparisons, cid)
        md = await ada.get(f"{PREFIX}/comparisons/{cid}/export", params={"format": "md"})
        assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
        assert f"## Pane 1: {A}" in md.text and "````text\n" + prompt in md.text
        assert final.runs[0].output_text in md.text
        as_json = (await ada.get(f"{PREFIX}/comparisons/{cid}/export", params={"format": "json"})).json()
        assert as_json["id"] == cid and as_json["runs"][0]["output_text"] == final.runs[0].output_text
        assert (await eve.get(f"{PREFIX}/comparisons/{cid}/export")).status_code == 404
        bad = await ada.get(f"{PREFIX}/comparisons/{cid}/export", params={"format": "pdf"})
        assert bad.status_code == 422
