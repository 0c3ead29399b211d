"""POST /api/v1/comparisons with a pane's optional parameters and a prompt's images: checked
(422 naming the field, nothing saved), saved with the run's params, and honoured by the run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.catalog import load_catalog
from backend.runtime import Runtime
from tests.backend.runtime_support import api_client, owner, wait_until_final

PREFIX = "/api/v1"
PROMPT = "[[simulate:tokens=20]] Name a city."
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}}}


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(rt) as c:
        yield c


def pane(**settings: Any) -> dict[str, Any]:
    return {"prompt": PROMPT, "panes": [{"model": "simulated:instant", **settings}]}


async def test_options_are_saved_with_the_run_and_honoured(client: httpx.AsyncClient, rt: Runtime) -> None:
    settings = {"top_p": 0.5, "stop": ["\n\n"], "presence_penalty": 0.2, "frequency_penalty": -0.1, "seed": 4}
    schema_pane = {"model": "simulated:instant", "response_format": "json_schema", "json_schema": SCHEMA}
    payload = {"prompt": PROMPT, "panes": [{"model": "simulated:instant", **settings}, schema_pane]}
    response = await client.post(f"{PREFIX}/comparisons", json=payload)
    assert response.status_code == 201, response.text
    runs = response.json()["runs"]
    assert runs[0]["params"] == {"temperature": 0.7, "max_tokens": 1024, **settings}
    assert runs[1]["params"] == {
        "temperature": 0.7,
        "max_tokens": 1024,
        "seed": None,
        "response_format": "json_schema",
        "json_schema": SCHEMA,
    }

    record = await wait_until_final(rt.comparisons, response.json()["id"])
    assert [r.status for r in record.runs] == ["done", "done"]
    assert record.runs[0].params.options.top_p == 0.5  # read back typed
    assert "\n\n" not in record.runs[0].output_text  # the stop sequence ended the answer
    answer = json.loads(record.runs[1].output_text)  # JSON following the schema's properties
    assert set(answer) == {"city", "population"} and isinstance(answer["population"], int)
    fetched = (await client.get(f"{PREFIX}/comparisons/{record.id}")).json()
    assert fetched["runs"][1]["params"]["json_schema"] == SCHEMA


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [
        ({"top_p": 1.5}, "panes.0.top_p", "Top P must be between 0.0 and 1.0."),
        ({"presence_penalty": -3}, "panes.0.presence_penalty", "Penalties must be between -2.0 and 2.0."),
        ({"frequency_penalty": 2.5}, "panes.0.frequency_penalty", "Penalties must be between -2.0 and 2.0."),
        ({"seed": -1}, "panes.0.seed", "Seed must be a whole number"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "panes.0.stop", "At most 4 stop sequences"),
        ({"stop": ["x" * 101]}, "panes.0.stop", "At most 4 stop sequences"),
        ({"stop": [1]}, "panes.0.stop", "At most 4 stop sequences"),
        ({"response_format": "xml"}, "panes.0.response_format", "Input should be"),
        ({"response_format": "json_schema"}, "panes.0.json_schema", "The JSON schema must be a JSON object"),
        ({"json_schema": SCHEMA}, "panes.0.json_schema", "The JSON schema must be a JSON object"),
        (
            {"model": "simulated:terse", "top_p": 0.5},
            "panes.0.top_p",
            "Terse (simulated) does not take Top P.",
        ),
        (
            {"model": "simulated:terse", "response_format": "json"},
            "panes.0.response_format",
            "Terse (simulated) does not give JSON output.",
        ),
        (
            {"model": "anthropic:claude-haiku-4-5", "presence_penalty": 0.5},
            "panes.0.presence_penalty",
            "Claude Haiku 4.5 does not take a presence penalty.",
        ),
    ],
    ids=[
        "top-p",
        "presence",
        "frequency",
        "seed",
        "five-stops",
        "long-stop",
        "stop-not-text",
        "format",
        "schema-missing",
        "schema-without-format",
        "top-p-unsupported",
        "json-unsupported",
        "penalty-on-claude",
    ],
)
async def test_invalid_options_get_422_and_nothing_is_saved(
    client: httpx.AsyncClient, rt: Runtime, settings: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post(f"{PREFIX}/comparisons", json=pane(**settings))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(key.startswith(field) for key in errors), errors
    assert any(message in text for key, text in errors.items() if key.startswith(field)), errors
    assert (await rt.comparisons.history(await owner(rt))).total == 0


async def test_an_uploaded_image_goes_to_a_vision_model(client: httpx.AsyncClient, rt: Runtime) -> None:
    uploaded = await client.post(f"{PREFIX}/images", content=PNG, headers={"content-type": "image/png"})
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()
    assert image["media_type"] == "image/png" and image["bytes"] == len(PNG)

    payload = {"prompt": PROMPT, "images": [image["id"]], "panes": [{"model": "simulated:swift"}]}
    response = await client.post(f"{PREFIX}/comparisons", json=payload)
    assert response.status_code == 201, response.text
    record = await wait_until_final(rt.comparisons, response.json()["id"])
    assert record.runs[0].status == "done", record.runs[0].error
    # The worker read the bytes from the file store and the model saw them.
    assert record.runs[0].output_text.startswith(f"I see 1 image(s) (image/png {len(PNG)} bytes).")
    assert record.settings["images"][0]["key"].endswith(image["id"])


async def test_images_are_refused_for_a_model_without_vision_or_unknown(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    uploaded = (await client.post(f"{PREFIX}/images", content=PNG)).json()
    no_vision = {"prompt": PROMPT, "images": [uploaded["id"]], "panes": [{"model": "simulated:terse"}]}
    response = await client.post(f"{PREFIX}/comparisons", json=no_vision)
    assert response.status_code == 422
    assert "Terse (simulated) does not accept images" in response.json()["errors"]["panes.0.model"]

    unknown = {"prompt": PROMPT, "images": ["0" * 64 + ".png"], "panes": [{"model": "simulated:swift"}]}
    response = await client.post(f"{PREFIX}/comparisons", json=unknown)
    assert response.status_code == 422
    assert "No uploaded image" in response.json()["errors"]["images"]
    assert (await rt.comparisons.history(await owner(rt))).total == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"GIF-not-really", "Only PNG, JPEG, GIF and WebP images can be attached."),
        (b"", "is empty"),
    ],
)
async def test_an_upload_that_is_not_an_image_is_422(
    client: httpx.AsyncClient, content: bytes, message: str
) -> None:
    response = await client.post(f"{PREFIX}/images", content=content, headers={"content-type": "image/gif"})
    assert response.status_code == 422
    assert message in response.json()["errors"]["image"]


async def test_a_battle_with_an_image_draws_only_vision_models(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    uploaded = (await client.post(f"{PREFIX}/images", content=PNG)).json()
    for _ in range(3):
        payload = {"prompt": PROMPT, "images": [uploaded["id"]], "panes": [], "battle": True}
        response = await client.post(f"{PREFIX}/comparisons", json=payload)
        assert response.status_code == 201, response.text
        record = await rt.comparisons.get_unchecked(response.json()["id"])
        assert all(load_catalog().resolve(run.model).vision for run in record.runs), record.runs
