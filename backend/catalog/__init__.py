"""The model catalog: which models exist, what they cost, how big their context is.

The data lives in `models.toml` next to this module (shipped as package data);
this module only parses and validates it, on first use.  Models that are not in
the file (an Ollama model pulled locally, a model on an OpenAI-compatible
server) are still usable: `Catalog.resolve` gives them a zero price and
`DEFAULT_CONTEXT_WINDOW`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from backend.providers.base import Usage
from backend.run_options import CAPABILITIES, VISION

DEFAULT_CONTEXT_WINDOW = 8192
DEFAULT_IMAGE_TOKENS = 1000  # what one image counts as when neither model nor family says
SIMULATION_STYLES = frozenset({"prose", "bullets", "code", "terse", "judge"})


@dataclass(frozen=True, slots=True)
class SimulationProfile:
    """How a simulated model paces and shapes its stream (see models.toml)."""

    ttft_ms: float
    tokens_per_second: float  # math.inf: emit without sleeping
    jitter: float = 0.0
    style: str = "prose"
    fail_after_tokens: int | None = None
    stall_after_tokens: int | None = None
    stall_seconds: float = 0.0

    @property
    def instant(self) -> bool:
        return self.ttft_ms == 0 and math.isinf(self.tokens_per_second)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str  # "family:name"
    family: str
    name: str
    display_name: str
    context_window: int
    input_price_per_mtok: float
    output_price_per_mtok: float
    simulation: SimulationProfile | None = None
    # Optional parameters the model takes and whether it reads images (backend/run_options.py)
    capabilities: frozenset[str] = frozenset()
    # Prompt tokens one image is counted as before a run (models.toml: image_tokens)
    image_tokens: int = DEFAULT_IMAGE_TOKENS

    @property
    def simulated(self) -> bool:
        return self.simulation is not None

    @property
    def vision(self) -> bool:
        return VISION in self.capabilities

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True, slots=True)
class Catalog:
    models: tuple[ModelInfo, ...]
    # Per family: the parameters its API takes, for models not listed (no vision: unknown).
    family_capabilities: Mapping[str, frozenset[str]] = field(default_factory=dict)
    family_image_tokens: Mapping[str, int] = field(default_factory=dict)
    # By id, built once: `get` runs for every run (the simulated model's profile, pricing, the
    # panes' options), and a scan of the whole catalog was 1% of a busy backend's samples.
    _by_id: Mapping[str, ModelInfo] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, ModelInfo] = {}
        for model in self.models:
            by_id.setdefault(model.id, model)  # the first of a duplicated id, as the scan found
        object.__setattr__(self, "_by_id", by_id)

    def get(self, model_id: str) -> ModelInfo | None:
        return self._by_id.get(model_id)

    def by_family(self, family: str) -> tuple[ModelInfo, ...]:
        return tuple(m for m in self.models if m.family == family)

    def resolve(self, model_id: str) -> ModelInfo:
        """The catalog entry, or a free, default-sized stand-in for an unlisted model."""
        known = self.get(model_id)
        if known is not None:
            return known
        family, _, name = model_id.partition(":")
        return ModelInfo(
            id=model_id,
            family=family,
            name=name,
            display_name=name or model_id,
            context_window=DEFAULT_CONTEXT_WINDOW,
            input_price_per_mtok=0.0,
            output_price_per_mtok=0.0,
            capabilities=self.family_capabilities.get(family, frozenset()) - {VISION},
            image_tokens=self.family_image_tokens.get(family, DEFAULT_IMAGE_TOKENS),
        )


def parse_catalog(text: str) -> Catalog:
    """Parse and validate catalog TOML; errors name the offending entry."""
    data = tomllib.loads(text)
    families = {
        name: _capabilities(table.get("params", []), f"family {name}")
        for name, table in data.get("family", {}).items()
    }
    image_tokens = {
        name: _image_tokens(table.get("image_tokens", DEFAULT_IMAGE_TOKENS), f"family {name}")
        for name, table in data.get("family", {}).items()
    }
    models: list[ModelInfo] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("model", [])):
        try:
            info = _model_from_table(raw, families, image_tokens)
        except (KeyError, TypeError, ValueError) as exc:
            label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            raise ValueError(f"models.toml: invalid model {label}: {exc}") from exc
        if info.id in seen:
            raise ValueError(f"models.toml: duplicate model id {info.id!r}")
        seen.add(info.id)
        models.append(info)
    return Catalog(models=tuple(models), family_capabilities=families, family_image_tokens=image_tokens)


@cache
def load_catalog() -> Catalog:
    """The packaged catalog, read once per process on first call."""
    text = resources.files(__name__).joinpath("models.toml").read_text(encoding="utf-8")
    return parse_catalog(text)


def estimate_cost_usd(model: ModelInfo | None, usage: Usage) -> float:
    """Cost of one call at list price; unknown models count as free."""
    if model is None:
        return 0.0
    return (
        usage.input_tokens * model.input_price_per_mtok + usage.output_tokens * model.output_price_per_mtok
    ) / 1_000_000


def estimate_tokens(text: str) -> int:
    """Rough token count: ceil(characters / 4), at least 1 for non-empty text.

    A real tokenizer is not an option offline (tiktoken downloads its BPE files
    on first use), and ~4 characters per token is the usual rule of thumb for
    English with GPT/Claude-style tokenizers.  Only used where a provider does
    not report usage itself (the simulated family, some compatible servers).
    """
    return math.ceil(len(text) / 4) if text else 0


def image_tokens(model_id: str) -> int:
    """The prompt tokens one image counts as for this model, before a run."""
    return load_catalog().resolve(model_id).image_tokens


def _image_tokens(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"models.toml: {where}: image_tokens must be a whole number >= 0")
    return value


def _capabilities(names: Any, where: str) -> frozenset[str]:
    unknown = set(names) - CAPABILITIES
    if not isinstance(names, list) or unknown:
        raise ValueError(f"models.toml: {where}: params must be a list of {sorted(CAPABILITIES)}")
    return frozenset(names)


def _model_from_table(
    raw: dict[str, Any], families: Mapping[str, frozenset[str]], image_tokens: Mapping[str, int]
) -> ModelInfo:
    model_id = str(raw["id"])
    family, sep, name = model_id.partition(":")
    if not (sep and family and name):
        raise ValueError("id must look like 'family:name'")
    context_window = int(raw["context_window"])
    input_price = float(raw["input_price"])
    output_price = float(raw["output_price"])
    if context_window <= 0:
        raise ValueError("context_window must be positive")
    if input_price < 0 or output_price < 0:
        raise ValueError("prices must not be negative")
    simulation = raw.get("simulation")
    params = raw.get("params")
    capabilities = families.get(family, frozenset()) if params is None else _capabilities(params, model_id)
    if raw.get("vision", False):
        capabilities |= {VISION}
    return ModelInfo(
        id=model_id,
        family=family,
        name=name,
        display_name=str(raw["display_name"]),
        context_window=context_window,
        input_price_per_mtok=input_price,
        output_price_per_mtok=output_price,
        simulation=_profile_from_table(simulation) if simulation is not None else None,
        capabilities=capabilities,
        image_tokens=_image_tokens(
            raw.get("image_tokens", image_tokens.get(family, DEFAULT_IMAGE_TOKENS)), model_id
        ),
    )


def _profile_from_table(raw: dict[str, Any]) -> SimulationProfile:
    profile = SimulationProfile(
        ttft_ms=float(raw["ttft_ms"]),
        tokens_per_second=float(raw["tokens_per_second"]),
        jitter=float(raw.get("jitter", 0.0)),
        style=str(raw.get("style", "prose")),
        fail_after_tokens=_optional_int(raw.get("fail_after_tokens")),
        stall_after_tokens=_optional_int(raw.get("stall_after_tokens")),
        stall_seconds=float(raw.get("stall_seconds", 0.0)),
    )
    if profile.ttft_ms < 0 or profile.tokens_per_second <= 0 or profile.stall_seconds < 0:
        raise ValueError("ttft_ms/stall_seconds must be >= 0 and tokens_per_second > 0")
    if not 0.0 <= profile.jitter <= 1.0:
        raise ValueError("jitter must be within 0..1")
    if profile.style not in SIMULATION_STYLES:
        raise ValueError(f"style must be one of {sorted(SIMULATION_STYLES)}")
    return profile


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
