"""Model ids, lazy provider loading, availability and model listing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backend.catalog import DEFAULT_CONTEXT_WINDOW
from backend.providers.base import ChatProvider
from backend.providers.registry import (
    FAMILIES,
    UnknownModel,
    check_availability,
    get_provider,
    list_models,
    parse_model_id,
)
from tests.backend.providers.helpers import make_settings, unused_url
from tests.support.fake_llm_server import FakeLLMServer

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("ollama:qwen2.5:7b", ("ollama", "qwen2.5:7b")),
        ("openai-compatible:lab/org/model", ("openai-compatible", "lab/org/model")),
        ("simulated:swift", ("simulated", "swift")),
    ],
)
def test_parse_model_id(model_id: str, expected: tuple[str, str]) -> None:
    assert parse_model_id(model_id) == expected


@pytest.mark.parametrize(
    ("model_id", "fragment"),
    [
        ("gpt-4o", "must look like 'family:name'"),
        ("mistral:large", "unknown model family 'mistral'"),
        ("openai:", "no model name"),
        ("openai:   ", "no model name"),
        ("openai-compatible:lab", "<endpoint>/<model>"),
    ],
)
def test_parse_model_id_rejects_bad_ids(model_id: str, fragment: str) -> None:
    with pytest.raises(UnknownModel) as info:
        parse_model_id(model_id)
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


def test_unknown_family_message_lists_known_families() -> None:
    with pytest.raises(UnknownModel) as info:
        get_provider("mistral:large", make_settings())
    assert "openai-compatible" in str(info.value) and "simulated" in str(info.value)


@pytest.mark.parametrize(
    "model_id",
    [
        "simulated:swift",
        "openai:gpt-4o",
        "anthropic:claude-haiku-4-5",
        "vertexai:gemini-2.5-flash",
        "ollama:llama3.2",
        "openai-compatible:lab/m",
    ],
)
def test_get_provider_for_every_family(model_id: str) -> None:
    assert parse_model_id(model_id)[0] in FAMILIES
    assert isinstance(get_provider(model_id, make_settings()), ChatProvider)


def test_provider_sdks_are_imported_lazily() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from backend.providers.registry import get_provider, list_models
        from backend.settings import Settings

        settings = Settings(_env_file=None, ollama_base_url=sys.argv[1])
        asyncio.run(list_models(settings))
        heavy = ("langchain_openai", "langchain_anthropic", "langchain_ollama", "openai", "anthropic")
        print("before", sorted(m for m in heavy if m in sys.modules))
        get_provider("openai:gpt-4o", settings)
        print("after", sorted(m for m in heavy if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, unused_url()],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert out[0] == "before []"
    assert "langchain_openai" in out[1] and "langchain_anthropic" not in out[1]


async def test_missing_keys_are_reported_with_reasons() -> None:
    settings = make_settings()
    assert (await check_availability("openai", settings)).reason == "OPENAI_API_KEY is not set"
    assert (await check_availability("anthropic", settings)).reason == "ANTHROPIC_API_KEY is not set"
    assert (await check_availability("vertexai", settings)).reason == "GOOGLE_CLOUD_PROJECT is not set"
    compatible = await check_availability("openai-compatible", settings)
    assert not compatible.available and "OPENAI_COMPATIBLE_ENDPOINTS" in compatible.reason
    unknown = await check_availability("mistral", settings)
    assert not unknown.available and "mistral" in unknown.reason


async def test_configured_keys_make_families_available() -> None:
    settings = make_settings(openai_api_key="sk", anthropic_api_key="sk")
    assert (await check_availability("openai", settings)).available
    assert (await check_availability("anthropic", settings)).available
    assert (await check_availability("simulated", settings)).available
    disabled = await check_availability("simulated", make_settings(simulated_enabled=False))
    assert not disabled.available and "SIMULATED_ENABLED" in disabled.reason


async def test_vertex_is_available_once_a_project_is_set() -> None:
    # langchain-google-genai is a default dependency: only the project is needed here; the
    # credentials are checked on the Settings page (backend.providers.discovery).
    assert (await check_availability("vertexai", make_settings(google_cloud_project="p"))).available


def test_google_modules_are_not_imported_until_a_vertex_model_streams() -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from backend.providers.registry import get_provider, list_models
        from backend.settings import Settings

        settings = Settings(_env_file=None, ollama_base_url=sys.argv[1], google_cloud_project="p")
        asyncio.run(list_models(settings))
        get_provider("vertexai:gemini-2.5-flash", settings)
        prefixes = ("google.genai", "langchain_google", "google.auth")
        print("google", sorted(m for m in sys.modules if m.startswith(prefixes)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, unused_url()],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert out == ["google []"]


async def test_ollama_detected_only_when_it_answers(fake_server: FakeLLMServer) -> None:
    running = await check_availability("ollama", make_settings(ollama_base_url=fake_server.url))
    assert running.available
    assert fake_server.requests[-1].path == "/api/tags"

    url = unused_url()
    stopped = await check_availability("ollama", make_settings(ollama_base_url=url))
    assert not stopped.available
    assert stopped.reason == f"Ollama is not running at {url}"


async def test_list_models_merges_catalog_ollama_and_compatible_endpoints(fake_server: FakeLLMServer) -> None:
    endpoints = {
        "lab": {"base_url": f"{fake_server.url}/v1", "models": "alpha, beta"},
        "auto": {"base_url": f"{fake_server.url}/v1", "api_key": "k"},
        "down": {"base_url": f"{unused_url()}/v1"},
    }
    settings = make_settings(ollama_base_url=fake_server.url, openai_compatible_endpoints=endpoints)
    entries = {e.id: e for e in await list_models(settings)}

    openai = entries["openai:gpt-4o-mini"]
    assert not openai.available and openai.reason == "OPENAI_API_KEY is not set"
    assert openai.input_price_per_mtok > 0 and not openai.simulated

    assert entries["ollama:llama3.2"].available  # pulled as llama3.2:latest
    discovered = entries["ollama:qwen2.5:7b"]
    assert discovered.available and discovered.context_window == DEFAULT_CONTEXT_WINDOW
    assert discovered.input_price_per_mtok == 0 and "(Ollama)" in discovered.display_name

    for model in ("lab/alpha", "lab/beta", "auto/local-a", "auto/local-b"):
        assert entries[f"openai-compatible:{model}"].available, model
    models_call = [r for r in fake_server.requests if r.path == "/v1/models"]
    assert len(models_call) == 1 and models_call[0].headers["authorization"] == "Bearer k"
    down = entries["openai-compatible:down"]
    assert not down.available and "no OpenAI-compatible server answers" in down.reason

    simulated = [e for e in entries.values() if e.simulated]
    assert len(simulated) >= 7
    assert all(e.available and "(simulated)" in e.display_name for e in simulated)


async def test_list_models_hides_simulated_and_explains_missing_ollama(fake_server: FakeLLMServer) -> None:
    settings = make_settings(simulated_enabled=False)
    entries = {e.id: e for e in await list_models(settings)}
    assert not any(e.family == "simulated" for e in entries.values())
    assert entries["ollama:llama3.2"].reason.startswith("Ollama is not running at http://127.0.0.1:")

    fake_server.ollama_models = ["mistral:latest"]
    entries = {e.id: e for e in await list_models(make_settings(ollama_base_url=fake_server.url))}
    assert not entries["ollama:llama3.2"].available
    assert "ollama pull llama3.2" in entries["ollama:llama3.2"].reason
    assert entries["ollama:mistral"].available
