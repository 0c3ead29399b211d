"""Run metrics as people read them: derived figures and their display strings."""

from __future__ import annotations

from dataclasses import dataclass

from backend.runs_model import tokens_per_second


@dataclass(frozen=True, slots=True)
class RunFigures:
    ttft_ms: float | None
    total_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.ttft_ms, self.total_ms, self.output_tokens)


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def format_rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1f} tok/s"


def format_cost(cost_usd: float) -> str:
    if cost_usd == 0:
        return "$0"
    if cost_usd < 0.01:
        return f"${cost_usd:.5f}"
    return f"${cost_usd:.4f}"
