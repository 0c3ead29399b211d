"""A leaderboard: filtered outcomes -> ratings with intervals, counts, win rates, style effects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from backend.ranking.bt import ELO_PER_LOGIT, BradleyTerryFit, fit_design
from backend.ranking.design import Design, IntArray, build_design
from backend.ranking.select import select_outcomes
from backend.ranking.types import Outcome, Source

DEFAULT_MIN_COMPARISONS = 20


@dataclass(frozen=True)
class LeaderboardRow:
    model: str
    comparisons: int
    wins: int
    losses: int
    ties: int  # ties and "both bad"
    rating: float | None  # None for a model with no comparison at all
    ci_low: float | None
    ci_high: float | None
    rank: int | None  # None while needs_more > 0, or when not connected to the main group
    needs_more: int  # comparisons still missing before a rank is shown; 0 once ranked
    connected: bool  # compared, directly or through others, with the best-connected group


@dataclass(frozen=True)
class WinRates:
    """rates[i][j]: model i's share of points against model j (ties half); None if never met."""

    models: tuple[str, ...]
    rates: tuple[tuple[float | None, ...], ...]
    counts: tuple[tuple[int, ...], ...]

    def rate(self, model: str, opponent: str) -> float | None:
        return self.rates[self.models.index(model)][self.models.index(opponent)]


@dataclass(frozen=True)
class StyleEffect:
    """Effect on the log-odds of winning of a style feature's normalized difference (a-b)/(a+b).

    E.g. 0.6 for "tokens" means an answer twice as long as the other ((a-b)/(a+b) = 1/3) has
    its odds multiplied by exp(0.2); ``elo`` is the same in rating points.
    """

    name: str
    coefficient: float
    ci_low: float
    ci_high: float

    @property
    def elo(self) -> float:
        return self.coefficient * ELO_PER_LOGIT


@dataclass(frozen=True)
class Leaderboard:
    rows: tuple[LeaderboardRow, ...]  # ranked rows by rating, then the unranked ones
    win_rates: WinRates
    style: tuple[StyleEffect, ...]
    n_outcomes: int
    dropped_without_style: int  # outcomes left out of a style-controlled fit for lack of features
    min_comparisons: int
    fit: BradleyTerryFit | None  # None when there was nothing to fit

    def row(self, model: str) -> LeaderboardRow:
        for r in self.rows:
            if r.model == model:
                return r
        raise KeyError(model)


def build_leaderboard(
    outcomes: Iterable[Outcome],
    *,
    source: Source | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_comparisons: int = DEFAULT_MIN_COMPARISONS,
    style_control: bool = False,
    models: Iterable[str] = (),
    confidence: float = 0.95,
) -> Leaderboard:
    """Filter (source, time window), fit, and lay out one leaderboard.

    ``models`` lists models to show even without any comparison (say, the project's catalog),
    as "needs N more". All models with comparisons take part in the fit, ranked or not: their
    outcomes inform the others' strengths.
    """
    if min_comparisons < 0:
        raise ValueError("min_comparisons must be >= 0")
    chosen = select_outcomes(outcomes, source=source, since=since, until=until)
    dropped = 0
    if style_control:
        with_style = [o for o in chosen if o.has_style]
        dropped = len(chosen) - len(with_style)
        chosen = with_style
    extra = sorted(set(models))
    if not chosen:
        empty = WinRates((), (), ())
        unfitted = tuple(_unfitted_row(m, min_comparisons) for m in extra)
        return Leaderboard(unfitted, empty, (), 0, dropped, min_comparisons, None)

    design = build_design(chosen, style_control=style_control)
    fit = fit_design(design, confidence=confidence)
    rows = _rows(design, fit, min_comparisons)
    known = set(design.models)
    rows += [_unfitted_row(m, min_comparisons) for m in extra if m not in known]
    style = tuple(
        StyleEffect(name, e.estimate, e.low, e.high)
        for name in fit.style_names
        for e in [fit.style_effect(name)]
    )
    return Leaderboard(tuple(rows), win_rates(design), style, design.n, dropped, min_comparisons, fit)


def win_rates(design: Design) -> WinRates:
    """The pairwise win-rate matrix, from the raw outcomes (not the model)."""
    k = len(design.models)
    points = np.zeros((k, k))
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(points, (design.index_a, design.index_b), design.score_a)
    np.add.at(points, (design.index_b, design.index_a), 1.0 - design.score_a)
    np.add.at(counts, (design.index_a, design.index_b), 1)
    np.add.at(counts, (design.index_b, design.index_a), 1)
    rates = tuple(
        tuple(float(points[i, j] / counts[i, j]) if counts[i, j] else None for j in range(k))
        for i in range(k)
    )
    return WinRates(design.models, rates, tuple(tuple(int(c) for c in row) for row in counts))


def _rows(design: Design, fit: BradleyTerryFit, min_comparisons: int) -> list[LeaderboardRow]:
    k = len(design.models)
    wins = np.bincount(design.index_a[design.score_a == 1.0], minlength=k)
    wins += np.bincount(design.index_b[design.score_a == 0.0], minlength=k)
    tie_rows = design.score_a == 0.5
    ties = np.bincount(design.index_a[tie_rows], minlength=k)
    ties += np.bincount(design.index_b[tie_rows], minlength=k)
    total = np.bincount(design.index_a, minlength=k) + np.bincount(design.index_b, minlength=k)
    main = _main_component(design.index_a, design.index_b, k)

    rated = [(m, fit.rating(m)) for m in design.models]
    eligible = {i for i in range(k) if total[i] >= min_comparisons and main[i]}
    rows: list[LeaderboardRow] = []
    for i, (model, r) in enumerate(rated):
        rank: int | None = None
        if i in eligible:
            # LMArena's rank: 1 + the number of models whose interval lies entirely above this
            # one's, so models that cannot be told apart share a rank.
            rank = 1 + sum(1 for j in eligible if rated[j][1].low > r.high)
        rows.append(
            LeaderboardRow(
                model=model,
                comparisons=int(total[i]),
                wins=int(wins[i]),
                losses=int(total[i] - wins[i] - ties[i]),
                ties=int(ties[i]),
                rating=r.estimate,
                ci_low=r.low,
                ci_high=r.high,
                rank=rank,
                needs_more=max(min_comparisons - int(total[i]), 0),
                connected=bool(main[i]),
            )
        )
    rows.sort(key=lambda row: (row.rank is None, -(row.rating or 0.0), row.model))
    return rows


def _main_component(index_a: IntArray, index_b: IntArray, k: int) -> Sequence[bool]:
    """Which models belong to the largest group connected by comparisons.

    Strengths in different groups are not comparable (only the prior sets their offset), so
    models outside the main group get no rank.
    """
    ones = np.ones(index_a.shape[0])
    # Imported on use: scipy adds ~0.9 s and ~100 MiB to every web process that imports the API.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((ones, (index_a, index_b)), shape=(k, k))
    _, labels = connected_components(graph, directed=False)
    biggest = np.bincount(labels).argmax()
    return [bool(label == biggest) for label in labels]


def _unfitted_row(model: str, min_comparisons: int) -> LeaderboardRow:
    return LeaderboardRow(model, 0, 0, 0, 0, None, None, None, None, min_comparisons, False)
