"""Leaderboards: needs-N-more, ranks, win rates, filters before the fit, style control."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from backend.ranking import Outcome, Result, Source, StyleFeatures, build_leaderboard
from tests.backend.ranking.draws import T0, draw_outcomes, repeat


def test_models_below_the_minimum_show_needs_n_more_instead_of_a_rank() -> None:
    outcomes = draw_outcomes(np.random.default_rng(5), ["a", "b", "c"], [0.0, 0.5, 1.0], 300)
    outcomes += repeat("rare", "a", Result.A_WINS, 4)
    board = build_leaderboard(outcomes, min_comparisons=10, models=["a", "unused"])
    rare, unused = board.row("rare"), board.row("unused")
    assert (rare.comparisons, rare.rank, rare.needs_more) == (4, None, 6)
    assert rare.rating is not None  # it is fitted (and informs the others), only not ranked
    assert (unused.comparisons, unused.rank, unused.needs_more, unused.rating) == (0, None, 10, None)
    ranked = [r.model for r in board.rows if r.rank is not None]
    assert ranked == ["c", "b", "a"]
    assert [r.model for r in board.rows][-2:] == ["rare", "unused"]
    assert all(r.needs_more == 0 for r in board.rows if r.rank is not None)


def test_models_that_cannot_be_told_apart_share_a_rank() -> None:
    outcomes = repeat("a", "b", Result.A_WINS, 11) + repeat("a", "b", Result.B_WINS, 9)
    outcomes += repeat("a", "c", Result.A_WINS, 40) + repeat("b", "c", Result.A_WINS, 40)
    outcomes += repeat("c", "a", Result.A_WINS, 2) + repeat("c", "b", Result.A_WINS, 2)
    board = build_leaderboard(outcomes, min_comparisons=5)
    assert [(r.model, r.rank) for r in board.rows] == [("a", 1), ("b", 1), ("c", 3)]
    row_a = board.row("a")
    assert (row_a.wins, row_a.losses, row_a.ties, row_a.comparisons) == (51, 11, 0, 62)
    assert row_a.ci_low is not None and row_a.rating is not None and row_a.ci_high is not None
    assert row_a.ci_low < row_a.rating < row_a.ci_high


def test_win_rate_matrix_counts_ties_as_half() -> None:
    outcomes = repeat("a", "b", Result.A_WINS, 6) + repeat("b", "a", Result.TIE, 2)
    outcomes += repeat("b", "a", Result.BOTH_BAD, 2) + repeat("b", "c", Result.A_WINS, 3)
    rates = build_leaderboard(outcomes).win_rates
    assert rates.rate("a", "b") == pytest.approx(0.8)  # (6 + 4 halves) / 10
    assert rates.rate("b", "a") == pytest.approx(0.2)
    assert rates.rate("a", "c") is None  # never met
    assert rates.counts[rates.models.index("a")][rates.models.index("b")] == 10
    assert build_leaderboard(outcomes).row("a").ties == 4


def test_source_and_time_filters_apply_before_the_fit() -> None:
    human = repeat("a", "b", Result.A_WINS, 30)
    judge = repeat("a", "b", Result.B_WINS, 30, Source.JUDGE)
    late = [
        Outcome("a", "b", Result.B_WINS, Source.HUMAN, T0 + timedelta(days=1, seconds=i)) for i in range(90)
    ]
    outcomes = human + judge + late
    assert build_leaderboard(outcomes, source=Source.HUMAN, until=T0 + timedelta(days=1)).rows[0].model == "a"
    assert build_leaderboard(outcomes, source=Source.JUDGE).rows[0].model == "b"
    assert build_leaderboard(outcomes, source=Source.HUMAN).rows[0].model == "b"  # the late votes weigh in
    windowed = build_leaderboard(outcomes, since=T0 + timedelta(days=1))
    assert windowed.n_outcomes == 90 and windowed.row("a").comparisons == 90


def test_a_group_never_compared_with_the_rest_gets_no_rank() -> None:
    outcomes = repeat("a", "b", Result.A_WINS, 15) + repeat("b", "c", Result.A_WINS, 15)
    outcomes += repeat("x", "y", Result.A_WINS, 25)
    board = build_leaderboard(outcomes, min_comparisons=10)
    assert not board.row("x").connected and board.row("x").rank is None
    assert board.row("a").connected and board.row("a").rank == 1


def test_style_control_reports_coefficients_and_drops_outcomes_without_features() -> None:
    outcomes = draw_outcomes(
        np.random.default_rng(9),
        ["a", "b", "c"],
        [0.0, 0.2, 0.4],
        3000,
        length_effect=1.0,
        mean_tokens=[200, 200, 600],
    )
    outcomes += repeat("a", "b", Result.A_WINS, 7)  # no style features
    board = build_leaderboard(outcomes, style_control=True)
    assert board.dropped_without_style == 7 and board.n_outcomes == 3000
    (effect,) = board.style
    assert effect.name == "tokens" and effect.ci_low < effect.coefficient < effect.ci_high
    assert effect.ci_low > 0.5  # a clear preference for longer answers was found
    assert effect.elo == pytest.approx(effect.coefficient * 400 / np.log(10))
    assert build_leaderboard(outcomes).style == ()


def test_no_outcomes_gives_an_empty_board_and_bad_minimums_are_refused() -> None:
    board = build_leaderboard([], models=["a"], min_comparisons=3)
    assert board.fit is None and board.rows[0].needs_more == 3 and board.win_rates.models == ()
    with pytest.raises(ValueError, match="min_comparisons"):
        build_leaderboard([], min_comparisons=-1)
    assert build_leaderboard(repeat("a", "b", Result.TIE, 2), style_control=True).dropped_without_style == 2
    with_style = Outcome("a", "b", Result.TIE, Source.HUMAN, T0, StyleFeatures(5), StyleFeatures(5))
    assert build_leaderboard([with_style], style_control=True).style == ()  # no variation, no coefficient
