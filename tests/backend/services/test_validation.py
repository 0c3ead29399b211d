"""Comparison input rules: every problem keyed by its field path, with a readable message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.catalog import load_catalog
from backend.db.engine import Database
from backend.i18n import gettext
from backend.queue.embedded import EmbeddedBroker
from backend.services.comparisons import ComparisonService
from backend.services.validation import (
    MAX_PANES,
    ComparisonInput,
    InvalidComparison,
    check_semantics,
    parse_comparison,
)
from backend.settings import Settings
from backend.streaming.hub import RunHub


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": "Compare these", "panes": [{"model": "simulated:swift"}]}
    body.update(overrides)
    return body


def errors_of(raw: object) -> dict[str, str]:
    """Structural and semantic errors, as the service would report them (catalog lookups only)."""
    try:
        data = parse_comparison(raw)
        catalog = load_catalog()
        check_semantics(data, {p.model: catalog.get(p.model) for p in data.panes}, {})
    except InvalidComparison as exc:
        assert str(exc)  # the exception message lists the problems too
        return exc.errors
    return {}


def test_valid_payload_passes_with_defaults() -> None:
    data = parse_comparison(payload())
    assert isinstance(data, ComparisonInput)
    assert data.system_prompt == "" and data.project_id is None
    pane = data.panes[0]
    assert (pane.model, pane.temperature, pane.max_tokens, pane.seed) == ("simulated:swift", 0.7, 1024, None)
    assert errors_of(payload()) == {}
    assert parse_comparison(data) is data  # already parsed: passed through


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_empty_prompt(prompt: str) -> None:
    assert errors_of(payload(prompt=prompt)) == {"prompt": "Enter a prompt."}


def test_no_panes() -> None:
    assert errors_of(payload(panes=[])) == {"panes": "Pick at least one model."}


def test_empty_prompt_and_no_panes_are_both_reported() -> None:
    assert errors_of(payload(prompt="", panes=[])) == {
        "prompt": "Enter a prompt.",
        "panes": "Pick at least one model.",
    }


def test_nine_panes_is_too_many() -> None:
    errors = errors_of(payload(panes=[{"model": "simulated:swift"}] * (MAX_PANES + 1)))
    assert errors == {"panes": "At most 8 panes can run at once."}
    assert errors_of(payload(panes=[{"model": "simulated:swift"}] * MAX_PANES)) == {}


@pytest.mark.parametrize("temperature", [-0.1, 2.01, 5, "hot"])
def test_temperature_out_of_range(temperature: object) -> None:
    errors = errors_of(
        payload(panes=[{"model": "simulated:swift"}, {"model": "x:y", "temperature": temperature}])
    )
    assert errors == {"panes.1.temperature": "Temperature must be between 0.0 and 2.0."}


@pytest.mark.parametrize("temperature", [0, 0.0, 2, 2.0, 1.3])
def test_temperature_bounds_are_inclusive(temperature: float) -> None:
    data = parse_comparison(payload(panes=[{"model": "m:x", "temperature": temperature}]))
    assert data.panes[0].temperature == temperature


@pytest.mark.parametrize("max_tokens", [0, -5, 32_769, 1.5])
def test_max_tokens_out_of_range(max_tokens: object) -> None:
    errors = errors_of(payload(panes=[{"model": "simulated:swift", "max_tokens": max_tokens}]))
    assert errors == {"panes.0.max_tokens": "Max tokens must be a whole number from 1 to 32,768."}


def test_prompt_over_the_context_window_names_the_model_and_sizes() -> None:
    # simulated:swift has a 32,768-token window; ~4 characters per token
    prompt = "word " * 26_000  # "\n" + 130,000 chars -> 32,501 tokens
    errors = errors_of(payload(prompt=prompt, panes=[{"model": "simulated:swift", "max_tokens": 1000}]))
    assert set(errors) == {"prompt"}
    message = errors["prompt"]
    assert "about 32,501 tokens" in message
    assert "max tokens 1,000" in message
    assert "Swift (simulated)" in message
    assert "32,768" in message
    # the same prompt fits when the answer budget is small enough
    assert errors_of(payload(prompt=prompt, panes=[{"model": "simulated:swift", "max_tokens": 200}])) == {}


def test_model_missing_from_catalog_gets_the_default_window() -> None:
    prompt = "x" * 4 * 8_000  # 8,000 tokens + 1,024 > 8,192
    errors = errors_of(payload(prompt=prompt, panes=[{"model": "ollama:some-local-model"}]))
    assert "8,192" in errors["prompt"] and "ollama:some-local-model" in errors["prompt"]


def test_system_prompt_counts_towards_the_context() -> None:
    big = "y" * 4 * 32_000
    errors = errors_of(payload(prompt="short", system_prompt=big))
    assert set(errors) == {"prompt"}


def test_prompt_over_the_hard_ceiling() -> None:
    errors = errors_of(payload(prompt="z" * 400_001))
    assert errors == {"prompt": "The prompt is longer than 400,000 characters."}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (payload(colour="blue"), "colour"),
        (payload(panes=[{"model": "simulated:swift", "top_k": 3}]), "panes.0.top_k"),
    ],
)
def test_extra_fields_are_rejected(raw: dict[str, Any], key: str) -> None:
    errors = errors_of(raw)
    assert list(errors) == [key]
    assert "Extra inputs are not permitted" in errors[key]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"panes": [{"model": "simulated:swift"}]}, {"prompt"}),
        ({"prompt": "p"}, {"panes"}),
        ({"prompt": 42, "panes": "simulated:swift"}, {"prompt", "panes"}),
        (payload(panes=[{}]), {"panes.0.model"}),
        (payload(panes=[{"model": ""}]), {"panes.0.model"}),
        (payload(panes=[{"model": "simulated:swift", "seed": -1}]), {"panes.0.seed"}),
        ("not an object", {"body"}),
    ],
)
def test_structural_errors_are_keyed_by_field_path(raw: object, expected: set[str]) -> None:
    errors = errors_of(raw)
    assert set(errors) == expected
    assert all(message for message in errors.values())


def test_missing_field_message() -> None:
    assert errors_of({"prompt": "p"}) == {"panes": "Field required"}


# --- through the service: model families and availability ---------------------


@pytest.fixture
def service(tmp_path: Path) -> ComparisonService:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        openai_api_key="",
        anthropic_api_key="",
        google_cloud_project="",
        simulated_enabled=True,
    )
    # validation never touches the database; the engine connects lazily
    return ComparisonService(Database(settings.resolved_database_url), EmbeddedBroker(), RunHub(), settings)


async def test_service_accepts_simulated_models(service: ComparisonService) -> None:
    data = await service.validate(
        payload(panes=[{"model": "simulated:swift"}, {"model": "simulated:instant"}])
    )
    assert [p.model for p in data.panes] == ["simulated:swift", "simulated:instant"]


async def test_unknown_model_family(service: ComparisonService) -> None:
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(panes=[{"model": "simulated:swift"}, {"model": "bogus:model-1"}]))
    assert list(info.value.errors) == ["panes.1.model"]
    message = info.value.errors["panes.1.model"]
    assert "unknown model family 'bogus'" in message
    assert "openai" in message and "simulated" in message  # lists the known ones


async def test_model_id_without_family(service: ComparisonService) -> None:
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(panes=[{"model": "gpt-4o"}]))
    assert "family:name" in info.value.errors["panes.0.model"]


async def test_unavailable_family_says_why(service: ComparisonService) -> None:
    """A keyed family without a key points the person to Settings, where they can add one (the
    deployment's OPENAI_API_KEY is for operators)."""
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(panes=[{"model": "openai:gpt-4o-mini"}, {"model": "simulated:swift"}]))
    assert info.value.errors == {"panes.0.model": "No OpenAI key: add one in Settings → Provider keys."}
    said = gettext("ja", info.value.errors["panes.0.model"])
    assert said == "OpenAI のキーがありません: 設定 → プロバイダーキー で追加してください。"


async def test_a_server_family_says_why_in_the_readers_language(service: ComparisonService) -> None:
    """Ollama is not keyed: the reason names its address, and is a Message said in Japanese too."""
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(panes=[{"model": "ollama:llama3.2"}]))
    reason = info.value.errors["panes.0.model"]
    assert reason.startswith("Ollama is not running at http")
    assert "で Ollama が動いていません" in gettext("ja", reason)


async def test_unknown_simulated_model_is_rejected(service: ComparisonService) -> None:
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(panes=[{"model": "simulated:nonexistent"}]))
    message = info.value.errors["panes.0.model"]
    assert "nonexistent" in message and "swift" in message


async def test_service_reports_semantic_and_model_errors_together(service: ComparisonService) -> None:
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(prompt=" ", panes=[{"model": "anthropic:claude-haiku-4-5"}]))
    assert info.value.errors == {
        "prompt": "Enter a prompt.",
        "panes.0.model": "No Anthropic key: add one in Settings → Provider keys.",
    }


async def test_structural_errors_come_first_through_the_service(service: ComparisonService) -> None:
    with pytest.raises(InvalidComparison) as info:
        await service.validate(payload(panes=[{"model": "bogus:x", "temperature": 9}]))
    assert info.value.errors == {"panes.0.temperature": "Temperature must be between 0.0 and 2.0."}
