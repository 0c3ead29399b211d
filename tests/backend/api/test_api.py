"""The HTTP API over a started runtime, driven in-process through ASGI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, expected_output, owner, wait_until_final

PREFIX = "/api/v1"
PROMPT = "[[simulate:tokens=12]] How do tides work?"
LONG_PROMPT = "[[simulate:tokens=60]] How do tides work?"


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt) as c:
        yield c


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"prompt": PROMPT, "panes": [{"model": "simulated:instant"}]}
    data.update(overrides)
    return data


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    """(event, data) pairs; comment lines (keep-alives) are skipped."""
    events = []
    for block in raw.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/health")
    assert response.status_code == 200
    report = response.json()
    assert 0 <= report.pop("checked_ms_ago") < 3000  # checked beside the probes, never older than 3 s
    assert report == {"status": "ok", "database": "ok", "queue": "embedded", "workers": "in-process"}


async def test_models(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/models")
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()}
    for model_id in ("simulated:instant", "simulated:swift", "simulated:ponder"):
        assert models[model_id]["available"] is True
        assert models[model_id]["simulated"] is True
        assert models[model_id]["reason"] == ""
    gpt = models["openai:gpt-4o-mini"]
    assert gpt["available"] is False and gpt["simulated"] is False
    assert "OPENAI_API_KEY" in gpt["reason"]
    assert gpt["context_window"] == 128000 and gpt["input_price_per_mtok"] == 0.15
    assert "ANTHROPIC_API_KEY" in models["anthropic:claude-haiku-4-5"]["reason"]
    assert set(models["simulated:swift"]) == {
        "id",
        "display_name",
        "family",
        "simulated",
        "available",
        "reason",
        "context_window",
        "input_price_per_mtok",
        "output_price_per_mtok",
        "vision",
        "params",
    }
    assert models["simulated:swift"]["vision"] is True and "top_p" in models["simulated:swift"]["params"]
    assert models["simulated:terse"]["vision"] is False and models["simulated:terse"]["params"] == [
        "seed",
        "stop",
    ]


async def test_create_get_and_follow_events(client: httpx.AsyncClient, rt: Runtime) -> None:
    # Paced models and 60 tokens each (the fastest takes about half a second): the event stream
    # starts before any run is final even on a loaded machine, so every run's text arrives as
    # deltas.  (Runs already final when it starts are only in `done`.)
    payload = body(
        prompt=LONG_PROMPT,
        system_prompt="Be brief.",
        panes=[
            {"model": "simulated:terse"},
            {"model": "simulated:swift", "temperature": 0.1, "seed": 3},
            {"model": "simulated:steady", "max_tokens": 200},
        ],
    )
    response = await client.post(f"{PREFIX}/comparisons", json=payload)
    assert response.status_code == 201, response.text
    created = response.json()
    comparison_id = created["id"]
    assert created["prompt"] == LONG_PROMPT and created["system_prompt"] == "Be brief."
    assert [r["model"] for r in created["runs"]] == ["simulated:terse", "simulated:swift", "simulated:steady"]
    assert created["runs"][1]["params"] == {"temperature": 0.1, "max_tokens": 1024, "seed": 3}
    assert all(r["attempt"] == 0 for r in created["runs"])

    fetched = await client.get(f"{PREFIX}/comparisons/{comparison_id}")
    assert fetched.status_code == 200
    assert fetched.json()["id"] == comparison_id
    assert [r["id"] for r in fetched.json()["runs"]] == [r["id"] for r in created["runs"]]

    stream = await client.get(f"{PREFIX}/comparisons/{comparison_id}/events")
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(stream.text)
    assert events[-1][0] == "done"
    assert {name for name, _ in events[:-1]} == {"delta"}

    streamed: dict[str, str] = {r["id"]: "" for r in created["runs"]}
    statuses: dict[str, list[str]] = {r["id"]: [] for r in created["runs"]}
    for _, delta in events[:-1]:
        assert delta["attempt"] == 0
        streamed[delta["run_id"]] += delta["text"]
        statuses[delta["run_id"]].append(delta["status"])
    assert all(s and s[-1] == "done" for s in statuses.values()), statuses
    assert sum(len(s) for s in statuses.values()) > 3  # streamed in pieces, not one blob per run

    saved = await wait_until_final(rt.comparisons, comparison_id)
    done = events[-1][1]
    assert done["id"] == comparison_id
    done_runs = {r["id"]: r for r in done["runs"]}
    for run in saved.runs:
        exact = expected_output(run, LONG_PROMPT, "Be brief.")
        assert run.output_text == exact
        assert streamed[run.id] == exact  # every character sent once, in order
        assert done_runs[run.id]["output_text"] == exact
        assert done_runs[run.id]["status"] == "done"
        assert done_runs[run.id]["output_tokens"] == 60

    # after the run: GET returns the saved figures
    final = (await client.get(f"{PREFIX}/comparisons/{comparison_id}")).json()
    for run in final["runs"]:
        assert run["status"] == "done"
        assert run["ttft_ms"] is not None and run["total_ms"] >= run["ttft_ms"]
        assert run["output_tokens"] == 60
        assert run["cost_usd"] == 0.0
    swift = next(r for r in final["runs"] if r["model"] == "simulated:swift")
    assert swift["tokens_per_second"] is not None and swift["tokens_per_second"] > 0


async def test_create_and_stream_in_one_request(client: httpx.AsyncClient, rt: Runtime) -> None:
    # Accept: text/event-stream on the POST: the comparison, then its deltas and done, in one answer.
    payload = body(panes=[{"model": "simulated:terse"}, {"model": "simulated:steady"}])
    response = await client.post(
        f"{PREFIX}/comparisons", json=payload, headers={"Accept": "text/event-stream"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "comparison" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    created = events[0][1]
    assert [r["model"] for r in created["runs"]] == ["simulated:terse", "simulated:steady"]
    assert all(r["status"] == "queued" for r in created["runs"])

    saved = await wait_until_final(rt.comparisons, created["id"])
    streamed = {r["id"]: "" for r in created["runs"]}
    for _, delta in events[1:-1]:
        streamed[delta["run_id"]] += delta["text"]
    for run in saved.runs:
        assert streamed[run.id] == run.output_text == expected_output(run, PROMPT)
    assert {r["id"]: r["status"] for r in events[-1][1]["runs"]} == {r.id: "done" for r in saved.runs}


async def test_create_and_stream_refuses_bad_input_as_json(client: httpx.AsyncClient) -> None:
    # Nothing is created, and the refusal is the plain JSON error, not a stream.
    response = await client.post(
        f"{PREFIX}/comparisons", json=body(panes=[]), headers={"Accept": "text/event-stream"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    listed = (await client.get(f"{PREFIX}/comparisons")).json()
    assert listed["items"] == []


async def test_events_of_a_finished_comparison_is_just_done(client: httpx.AsyncClient, rt: Runtime) -> None:
    created = (await client.post(f"{PREFIX}/comparisons", json=body())).json()
    saved = await wait_until_final(rt.comparisons, created["id"])
    events = parse_sse((await client.get(f"{PREFIX}/comparisons/{created['id']}/events")).text)
    assert [name for name, _ in events] == ["done"]
    assert events[0][1]["runs"][0]["output_text"] == saved.runs[0].output_text != ""


async def test_events_report_errors_and_cancel_endpoint(client: httpx.AsyncClient, rt: Runtime) -> None:
    prompt = "[[simulate:tokens=50]] mixed results"
    created = (
        await client.post(
            f"{PREFIX}/comparisons",
            json=body(prompt=prompt, panes=[{"model": "simulated:flaky"}, {"model": "simulated:instant"}]),
        )
    ).json()
    events = parse_sse((await client.get(f"{PREFIX}/comparisons/{created['id']}/events")).text)
    runs = {r["model"]: r for r in events[-1][1]["runs"]}
    assert runs["simulated:flaky"]["status"] == "error"
    assert runs["simulated:flaky"]["error_kind"] == "unavailable"
    assert runs["simulated:instant"]["status"] == "done"

    slow = (
        await client.post(
            f"{PREFIX}/comparisons",
            json=body(prompt="[[simulate:tokens=500]] slow", panes=[{"model": "simulated:ponder"}]),
        )
    ).json()
    cancel = await client.post(f"{PREFIX}/comparisons/{slow['id']}/cancel")
    assert cancel.status_code == 200
    assert cancel.json() == {"cancelled": [slow["runs"][0]["id"]]}
    saved = await wait_until_final(rt.comparisons, slow["id"], timeout=5)
    assert saved.runs[0].status == "cancelled"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (body(prompt=""), "prompt", "Enter a prompt."),
        (body(prompt="  "), "prompt", "Enter a prompt."),
        (body(panes=[]), "panes", "Pick at least one model."),
        (body(panes=[{"model": "simulated:instant"}] * 9), "panes", "At most 8 panes can run at once."),
        (
            body(panes=[{"model": "simulated:instant"}, {"model": "simulated:swift", "temperature": 5}]),
            "panes.1.temperature",
            "Temperature must be between 0.0 and 2.0.",
        ),
        (
            body(panes=[{"model": "simulated:instant", "max_tokens": 0}]),
            "panes.0.max_tokens",
            "Max tokens must be a whole number from 1 to 32,768.",
        ),
        (body(panes=[{"model": "nosuch:model"}]), "panes.0.model", "unknown model family 'nosuch'"),
        (body(panes=[{"model": "simulated:gpt-17"}]), "panes.0.model", "unknown simulated model"),
        (body(panes=[{"model": "openai:gpt-4o"}]), "panes.0.model", "No OpenAI key: add one in Settings"),
        (body(prompt=123), "prompt", "valid string"),
        (body(panes="simulated:instant"), "panes", "valid list"),
        (
            body(panes=[{"model": "simulated:instant", "temperature": "warm"}]),
            "panes.0.temperature",
            "Temperature",
        ),
        (body(extra_field=1), "extra_field", "Extra inputs are not permitted"),
        ({"panes": [{"model": "simulated:instant"}]}, "prompt", "Field required"),
        (body(prompt="x" * 140_000), "prompt", "context window"),
    ],
    ids=[
        "empty-prompt",
        "blank-prompt",
        "no-panes",
        "nine-panes",
        "temperature-5",
        "max-tokens-0",
        "unknown-family",
        "unknown-simulated-model",
        "unavailable-family",
        "prompt-not-string",
        "panes-not-list",
        "temperature-not-number",
        "extra-field",
        "missing-prompt",
        "over-context",
    ],
)
async def test_invalid_comparisons_get_422_naming_the_field(
    client: httpx.AsyncClient, rt: Runtime, payload: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post(f"{PREFIX}/comparisons", json=payload)
    assert response.status_code == 422, response.text
    data = response.json()
    assert field in data["errors"], data
    assert message in data["errors"][field]
    assert data["detail"].startswith("Invalid request: ") and field in data["detail"]
    assert (await rt.comparisons.history(await owner(rt))).total == 0  # nothing was created


async def test_missing_or_malformed_body_is_422(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"{PREFIX}/comparisons")
    assert missing.status_code == 422
    assert "body" in missing.json()["errors"]

    broken = await client.post(
        f"{PREFIX}/comparisons", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["errors"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/comparisons/does-not-exist"),
        ("GET", "/comparisons/does-not-exist/events"),
        ("POST", "/comparisons/does-not-exist/cancel"),
    ],
)
async def test_unknown_comparison_is_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, PREFIX + path)
    assert response.status_code == 404
    assert response.json()["detail"] == "No comparison does-not-exist."
    # The id is a figure of the message, which a Japanese reader gets in Japanese.
    japanese = await client.request(method, PREFIX + path, headers={"Accept-Language": "ja"})
    assert japanese.json()["detail"] == "比較 does-not-exist は見つかりません。"


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert set(paths) >= {
        f"{PREFIX}/models",
        f"{PREFIX}/comparisons",
        f"{PREFIX}/comparisons/{{comparison_id}}",
        f"{PREFIX}/comparisons/{{comparison_id}}/events",
        f"{PREFIX}/comparisons/{{comparison_id}}/cancel",
        f"{PREFIX}/health",
    }
    assert "post" in paths[f"{PREFIX}/comparisons"]
    assert "422" in paths[f"{PREFIX}/comparisons"]["post"]["responses"]
    assert "ComparisonInput" in schema["components"]["schemas"]
    docs = await client.get(f"{PREFIX}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_a_token_revoked_while_its_stream_runs_ends_the_stream_with_an_error(
    client: httpx.AsyncClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backend.streaming.follow as follow_module

    monkeypatch.setattr(follow_module, "ACCESS_RECHECK_S", 0.2)
    prompt = "[[simulate:tokens=300]] a long answer"
    created = (
        await client.post(
            f"{PREFIX}/comparisons", json=body(prompt=prompt, panes=[{"model": "simulated:steady"}])
        )
    ).json()
    stream = asyncio.create_task(client.get(f"{PREFIX}/comparisons/{created['id']}/events"))
    await asyncio.sleep(0.5)
    ada = await owner(rt)
    for token in await rt.accounts.list_api_tokens(ada):
        await rt.accounts.revoke_api_token(ada, token.id)
    events = parse_sse((await asyncio.wait_for(stream, 5.0)).text)
    names = [name for name, _ in events]
    assert names[-1] == "error" and "done" not in names and "delta" in names
    assert "access" in events[-1][1]["detail"]
    await rt.comparisons.cancel(ada, created["id"])


async def test_error_messages_for_people_follow_accept_language(client: httpx.AsyncClient) -> None:
    payload = body(prompt="   ", panes=[{"model": "simulated:instant", "temperature": 5}])
    japanese = await client.post(f"{PREFIX}/comparisons", json=payload, headers={"Accept-Language": "ja"})
    assert japanese.status_code == 422
    data = japanese.json()
    assert data["errors"]["panes.0.temperature"] == "温度は 0.0 から 2.0 の間で指定してください。"
    assert data["detail"].startswith("リクエストが正しくありません: ")
    english = await client.post(f"{PREFIX}/comparisons", json=payload, headers={"Accept-Language": "en-US"})
    assert english.json()["errors"]["panes.0.temperature"] == "Temperature must be between 0.0 and 2.0."
