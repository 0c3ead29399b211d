"""What a run is asked to do (RunParams) and how it ended (RunOutcome), each declared once.

The page, the API, the queue and the database read a run's settings and its result through
these two types, so the defaults (temperature 0.7, 1024 tokens) and the cost rule (a cache
replay called no provider: zero; else the catalog's list price) live here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.run_options import NO_OPTIONS, RunOptions

if TYPE_CHECKING:
    from backend.queue.messages import FinalEvent

DEFAULT_TEMPERATURE = 0.7
DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True, slots=True, eq=False)
class RunParams(Mapping[str, Any]):
    """A pane's sampling settings, stored as the run's `params` JSON.

    It reads as that JSON too (a Mapping with the same keys), so the API returns it as it was
    stored and a record compares equal to the dict it was made from."""

    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int | None = None
    options: RunOptions = NO_OPTIONS  # top_p, stop, penalties, JSON output: stored only when set

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> RunParams:
        """From the stored JSON (missing keys take the defaults, unknown keys are dropped)."""
        if isinstance(stored, RunParams):
            return stored
        stored = stored or {}
        seed = stored.get("seed")
        return cls(
            temperature=float(stored.get("temperature", DEFAULT_TEMPERATURE)),
            max_tokens=int(stored.get("max_tokens", DEFAULT_MAX_TOKENS)),
            seed=None if seed is None else int(seed),
            options=RunOptions.of(stored),
        )

    def stored(self) -> dict[str, Any]:
        base = {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed}
        return base | self.options.stored()

    def __getitem__(self, key: str) -> Any:
        return self.stored()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.stored())

    def __len__(self) -> int:
        return len(self.stored())

    def __repr__(self) -> str:
        return f"RunParams({self.stored()!r})"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one attempt of a run ended (or, for a queued one, the empty result it starts with)."""

    status: str
    output_text: str = ""
    error: str = ""
    error_kind: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_hit: bool = False
    original_ttft_ms: float | None = None
    """On a cache replay: time to first token of the call that produced the answer."""
    original_total_ms: float | None = None

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.ttft_ms, self.total_ms, self.output_tokens)

    def columns(self) -> dict[str, Any]:
        """The run table's columns this outcome sets."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


OUTCOME_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunOutcome))
UNSTARTED_OUTCOME = RunOutcome(status="queued")


def tokens_per_second(ttft_ms: float | None, total_ms: float | None, output_tokens: int) -> float | None:
    """Output speed after the first token: what a reader feels as streaming speed."""
    if total_ms is None or ttft_ms is None or output_tokens <= 1:
        return None
    generating_s = (total_ms - ttft_ms) / 1000.0
    if generating_s <= 0:
        return None
    return (output_tokens - 1) / generating_s


def run_cost_usd(model_id: str, input_tokens: int, output_tokens: int, *, cache_hit: bool) -> float:
    """What a run cost: nothing for a cache replay (no provider was called), else list price."""
    if cache_hit:
        return 0.0
    # Imported here: the catalog imports providers.base, which takes its defaults from this module.
    from backend.catalog import estimate_cost_usd, load_catalog
    from backend.providers.base import Usage

    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return estimate_cost_usd(load_catalog().get(model_id), usage)


def final_outcome(event: FinalEvent, model_id: str) -> RunOutcome:
    """A worker's final event as the run's outcome, priced for `model_id`."""
    return RunOutcome(
        status=event.status,
        output_text=event.output_text,
        error=event.error,
        error_kind=event.error_kind,
        ttft_ms=event.ttft_ms,
        total_ms=event.total_ms,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        cost_usd=run_cost_usd(model_id, event.input_tokens, event.output_tokens, cache_hit=event.cache_hit),
        cache_hit=event.cache_hit,
        original_ttft_ms=event.original_ttft_ms,
        original_total_ms=event.original_total_ms,
    )
