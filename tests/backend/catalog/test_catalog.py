"""The packaged model catalog and the cost/token estimates built on it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from backend.catalog import (
    DEFAULT_CONTEXT_WINDOW,
    SimulationProfile,
    estimate_cost_usd,
    estimate_tokens,
    load_catalog,
    parse_catalog,
)
from backend.providers.base import Usage

REPO = Path(__file__).resolve().parents[3]
REQUIRED = {
    "openai:gpt-4o-mini",
    "openai:gpt-4o",
    "openai:gpt-4.1-mini",
    "anthropic:claude-haiku-4-5",
    "anthropic:claude-sonnet-4-5",
    "vertexai:gemini-2.5-flash",
    "vertexai:gemini-2.5-pro",
    "vertexai:gemini-2.5-flash-lite",
    "vertexai:claude-sonnet-4-5@20250929",
    "ollama:llama3.2",
    "simulated:swift",
    "simulated:steady",
    "simulated:ponder",
    "simulated:coder",
    "simulated:instant",
    "simulated:flaky",
    "simulated:stall",
    "simulated:judge",
}


def test_catalog_lists_the_expected_models() -> None:
    catalog = load_catalog()
    ids = [m.id for m in catalog.models]
    assert set(ids) >= REQUIRED
    assert len(ids) == len(set(ids))
    assert load_catalog() is catalog  # cached


def test_every_model_is_well_formed() -> None:
    for model in load_catalog().models:
        assert model.context_window > 0, model.id
        assert model.input_price_per_mtok >= 0 and model.output_price_per_mtok >= 0, model.id
        assert model.id == f"{model.family}:{model.name}"
        assert model.display_name
        if model.family == "simulated":
            assert model.simulation is not None and "(simulated)" in model.display_name
            assert model.input_price_per_mtok == model.output_price_per_mtok == 0
        else:
            assert model.simulation is None and "(simulated)" not in model.display_name


def test_simulation_profiles() -> None:
    catalog = load_catalog()

    def profile(name: str) -> SimulationProfile:
        info = catalog.get(f"simulated:{name}")
        assert info is not None and info.simulation is not None
        return info.simulation

    assert profile("instant").instant and math.isinf(profile("instant").tokens_per_second)
    assert (profile("steady").tokens_per_second, profile("steady").jitter) == (100, 0)
    assert profile("ponder").ttft_ms == 900
    assert profile("coder").style == "code"
    assert profile("flaky").fail_after_tokens == 40
    assert profile("stall").stall_after_tokens is not None and profile("stall").stall_seconds > 0
    assert not profile("swift").instant


def test_by_family_and_unknown_models() -> None:
    catalog = load_catalog()
    assert {m.id for m in catalog.by_family("anthropic")} == {
        "anthropic:claude-haiku-4-5",
        "anthropic:claude-sonnet-4-5",
    }
    assert catalog.get("ollama:phi3") is None
    stand_in = catalog.resolve("ollama:phi3")
    assert (stand_in.family, stand_in.name, stand_in.context_window) == (
        "ollama",
        "phi3",
        DEFAULT_CONTEXT_WINDOW,
    )
    assert estimate_cost_usd(stand_in, Usage(1000, 1000)) == 0


def test_cost_estimates() -> None:
    catalog = load_catalog()
    mini = catalog.get("openai:gpt-4o-mini")
    sonnet = catalog.get("anthropic:claude-sonnet-4-5")
    assert estimate_cost_usd(mini, Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)
    assert estimate_cost_usd(sonnet, Usage(1000, 500)) == pytest.approx(0.0105)
    assert estimate_cost_usd(None, Usage(1000, 500)) == 0.0
    assert estimate_cost_usd(catalog.get("simulated:swift"), Usage(1000, 500)) == 0.0


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)])
def test_estimate_tokens(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def entry(**fields: object) -> str:
    """One [[model]] table; a field set to None is left out."""
    values: dict[str, object] = {
        "id": "a:b",
        "display_name": "x",
        "context_window": 1,
        "input_price": 0,
        "output_price": 0,
        **fields,
    }
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]
    return "[[model]]\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        (entry(id="nofamily"), "family:name"),
        (entry(context_window=0), "a:b"),
        (entry(input_price=-1), "negative"),
        (entry(display_name=None), "display_name"),
        (entry() + '[model.simulation]\nttft_ms = 1\ntokens_per_second = 1\nstyle = "poetry"\n', "style"),
        (entry() + entry(), "duplicate"),
    ],
)
def test_invalid_catalog_entries_are_rejected(toml: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=r"models\.toml") as info:
        parse_catalog(toml)
    assert fragment in str(info.value)


def test_importing_the_catalog_does_no_work() -> None:
    script = "import backend.catalog as c; print(c.load_catalog.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_capabilities_come_from_the_family_or_the_model() -> None:
    catalog = load_catalog()
    gpt = catalog.get("openai:gpt-4o-mini")
    assert gpt is not None and gpt.vision and gpt.supports("json_schema") and gpt.supports("seed")
    claude = catalog.get("anthropic:claude-haiku-4-5")
    assert claude is not None and claude.vision and claude.capabilities == {"stop", "vision"}
    terse = catalog.get("simulated:terse")
    assert terse is not None and not terse.vision and terse.capabilities == {"seed", "stop"}
    pulled = catalog.resolve("ollama:llava")  # not listed: the family's parameters, no vision
    assert pulled.supports("json_mode") and not pulled.vision


def test_an_unknown_capability_is_refused() -> None:
    toml = """
[[model]]
id = "x:y"
display_name = "Y"
context_window = 10
input_price = 0
output_price = 0
params = ["telepathy"]
"""
    with pytest.raises(ValueError, match="params must be a list"):
        parse_catalog(toml)
