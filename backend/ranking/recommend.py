"""The recommendation: the cheapest model that holds its own against a baseline, with evidence.

"Holds its own" is the share of its head-to-head comparisons against the baseline that it won
or tied ("both bad" counts as a tie: it did no worse than the baseline). The decision uses the
lower bound of that share's Wilson score interval, so a lucky 3 out of 3 does not pass a 70%
bar, while the direct head-to-head record (not a model fitted across all pairs) keeps the
answer about "this model against your baseline on your prompts".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from backend.ranking.select import select_outcomes
from backend.ranking.types import Outcome, Result, Source


@dataclass(frozen=True)
class Evidence:
    """One candidate's head-to-head record against the baseline."""

    model: str
    cost_per_1k_output: float | None  # None: no price known, so never recommended
    comparisons: int
    wins: int
    ties: int  # ties and "both bad"
    losses: int
    rate: float | None  # (wins + ties) / comparisons; None without comparisons
    ci_low: float | None
    ci_high: float | None
    clears: bool  # ci_low >= the bar


@dataclass(frozen=True)
class Recommendation:
    baseline: str
    min_win_rate: float
    model: str | None  # None: not enough evidence for any priced model
    evidence: Evidence | None  # the recommended model's record
    candidates: tuple[Evidence, ...]  # every model met against the baseline or priced, cheapest first
    reason: str

    @property
    def enough_evidence(self) -> bool:
        return self.model is not None


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: sane at 0/n and n/n, unlike the normal one."""
    if n <= 0:
        raise ValueError("a proportion needs n > 0")
    from scipy import stats  # imported on use: scipy adds ~0.9 s and ~100 MiB to every web process

    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def recommend(
    outcomes: Iterable[Outcome],
    *,
    baseline: str,
    costs: Mapping[str, float],
    min_win_rate: float,
    source: Source | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    confidence: float = 0.95,
) -> Recommendation:
    """The cheapest priced model whose win-or-tie share against ``baseline`` clears ``min_win_rate``.

    ``costs`` maps model ids to cost per 1k output tokens. Raises ValueError for a bar outside
    0..1 (or NaN) and for negative costs; an unknown baseline simply has no evidence.
    """
    if not isinstance(min_win_rate, int | float) or not 0.0 <= min_win_rate <= 1.0:
        raise ValueError(f"min_win_rate must be a number between 0 and 1 (got {min_win_rate!r})")
    for model, cost in costs.items():
        if not math.isfinite(cost) or cost < 0:
            raise ValueError(f"cost of {model!r} must be a finite number >= 0 (got {cost!r})")

    records: dict[str, list[int]] = {}  # model -> [wins, ties, losses] against the baseline
    for o in select_outcomes(outcomes, source=source, since=since, until=until):
        if baseline not in (o.model_a, o.model_b):
            continue
        model = o.model_b if o.model_a == baseline else o.model_a
        won = Result.A_WINS if o.model_a == model else Result.B_WINS
        record = records.setdefault(model, [0, 0, 0])
        if o.result is won:
            record[0] += 1
        elif o.result in (Result.TIE, Result.BOTH_BAD):
            record[1] += 1
        else:
            record[2] += 1

    candidates = sorted(
        (
            _evidence(m, costs.get(m), records.get(m, [0, 0, 0]), min_win_rate, confidence)
            for m in set(records) | set(costs)
            if m != baseline
        ),
        key=lambda e: (
            e.cost_per_1k_output is None,
            e.cost_per_1k_output or 0.0,
            -(e.ci_low or 0.0),
            e.model,
        ),
    )
    for e in candidates:
        if e.clears and e.cost_per_1k_output is not None:
            reason = (
                f"{e.model} won or tied {e.wins + e.ties} of {e.comparisons} comparisons against "
                f"{baseline} ({e.rate:.0%}, {confidence:.0%} interval {e.ci_low:.0%}–{e.ci_high:.0%}), "
                f"clearing {min_win_rate:.0%}, at the lowest cost of those that do"
            )
            return Recommendation(baseline, min_win_rate, e.model, e, tuple(candidates), reason)
    reason = (
        f"not enough evidence: no priced model's {confidence:.0%} interval of its win-or-tie share "
        f"against {baseline} lies at or above {min_win_rate:.0%}"
    )
    return Recommendation(baseline, min_win_rate, None, None, tuple(candidates), reason)


def _evidence(model: str, cost: float | None, record: list[int], bar: float, confidence: float) -> Evidence:
    wins, ties, losses = record
    n = wins + ties + losses
    if n == 0:
        return Evidence(model, cost, 0, 0, 0, 0, None, None, None, False)
    low, high = wilson_interval(wins + ties, n, confidence)
    return Evidence(model, cost, n, wins, ties, losses, (wins + ties) / n, low, high, low >= bar)
