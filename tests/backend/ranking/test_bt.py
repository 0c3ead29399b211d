"""The Bradley–Terry fit: recovery of known strengths, interval coverage, ties, style control."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from backend.ranking import ELO_PER_LOGIT, Outcome, Result, fit_bradley_terry
from tests.backend.ranking.draws import centred, draw_outcomes, repeat

MODELS = [f"m{i}" for i in range(8)]
TRUE = [-1.2, -0.8, -0.45, -0.1, 0.25, 0.6, 0.95, 1.3]


def test_recovers_known_strengths_and_their_order() -> None:
    fit = fit_bradley_terry(draw_outcomes(np.random.default_rng(7), MODELS, TRUE, 8000))
    truth = centred(TRUE)
    estimates = np.array([fit.strength(m).estimate for m in MODELS])
    assert fit.converged
    assert list(np.argsort(estimates)) == list(range(8))  # the true order, exactly
    assert np.max(np.abs(estimates - truth)) < 0.12  # about 3 standard errors at this size
    # The Elo-like scale is the same numbers: mean 1000, 400 points per factor 10 in the odds.
    ratings = np.array([fit.rating(m).estimate for m in MODELS])
    assert np.mean(ratings) == pytest.approx(1000.0)
    assert ratings[-1] - ratings[0] == pytest.approx(ELO_PER_LOGIT * (estimates[-1] - estimates[0]))


def test_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2025)
    models, strengths = MODELS[:5], [-0.9, -0.3, 0.0, 0.4, 0.8]
    truth = centred(strengths)
    covered = total = 0
    start = time.perf_counter()
    for _ in range(200):
        fit = fit_bradley_terry(draw_outcomes(rng, models, strengths, 400))
        for m, true_value in zip(models, truth, strict=True):
            s = fit.strength(m)
            covered += s.low <= true_value <= s.high
            total += 1
    coverage = covered / total
    assert 0.90 <= coverage <= 0.99, coverage
    assert time.perf_counter() - start < 10.0


def test_too_narrow_intervals_would_fail_the_coverage_check() -> None:
    # The same check with intervals shrunk to a third: it must fail, or the test above proves nothing.
    rng = np.random.default_rng(2025)
    models, strengths = MODELS[:5], [-0.9, -0.3, 0.0, 0.4, 0.8]
    truth = centred(strengths)
    covered = total = 0
    for _ in range(50):
        fit = fit_bradley_terry(draw_outcomes(rng, models, strengths, 400))
        for m, true_value in zip(models, truth, strict=True):
            s = fit.strength(m)
            half = (s.high - s.low) / 6
            covered += s.estimate - half <= true_value <= s.estimate + half
            total += 1
    assert covered / total < 0.6


def test_ties_and_both_bad_count_as_half_a_win_each_side() -> None:
    # 10 wins and 10 ties for A: A scores 15 of 20, so P(A beats B) = 0.75 and dA - dB = log 3.
    outcomes = repeat("a", "b", Result.A_WINS, 10) + repeat("a", "b", Result.TIE, 10)
    fit = fit_bradley_terry(outcomes, ridge=1e-9)
    diff = fit.strength("a").estimate - fit.strength("b").estimate
    assert diff == pytest.approx(math.log(3.0), abs=1e-5)
    assert fit.win_probability("a", "b").estimate == pytest.approx(0.75, abs=1e-6)

    as_both_bad = repeat("a", "b", Result.A_WINS, 10) + repeat("a", "b", Result.BOTH_BAD, 10)
    as_split = repeat("a", "b", Result.A_WINS, 15) + repeat("a", "b", Result.B_WINS, 5)
    for other in (as_both_bad, as_split):
        other_fit = fit_bradley_terry(other, ridge=1e-9)
        other_diff = other_fit.strength("a").estimate - other_fit.strength("b").estimate
        assert other_diff == pytest.approx(diff, abs=1e-6)
    # Same point estimate, but ties are less noisy than a win/loss split: the robust interval sees it.
    tie_width = fit.strength("a").high - fit.strength("a").low
    split_fit = fit_bradley_terry(as_split, ridge=1e-9)
    assert tie_width < split_fit.strength("a").high - split_fit.strength("a").low


def test_a_model_that_won_everything_stays_finite() -> None:
    outcomes = repeat("a", "b", Result.A_WINS, 30) + repeat("b", "c", Result.A_WINS, 15)
    outcomes += repeat("c", "b", Result.A_WINS, 15)
    fit = fit_bradley_terry(outcomes)
    a = fit.rating("a")
    assert all(math.isfinite(v) for v in (a.estimate, a.low, a.high))
    assert a.estimate > fit.rating("b").estimate + 300


def test_outcomes_of_one_vote_share_a_cluster_and_do_not_shrink_the_interval() -> None:
    base = draw_outcomes(np.random.default_rng(3), MODELS[:4], [0.0, 0.3, 0.6, 0.9], 600)
    clustered = [
        Outcome(o.model_a, o.model_b, o.result, o.source, o.at, cluster=f"vote{i}")
        for i, o in enumerate(base)
        for _ in range(2)
    ]
    independent = [o for o in base for _ in range(2)]

    def width(outcomes: list[Outcome]) -> float:
        s = fit_bradley_terry(outcomes).strength("m0")
        return s.high - s.low

    assert width(clustered) == pytest.approx(width(base), rel=0.01)
    assert width(independent) == pytest.approx(width(base) / math.sqrt(2), rel=0.01)


def test_style_control_recovers_a_known_length_effect() -> None:
    # "m3" is no stronger than "m2" but writes three times as much; voters like length (effect 1.0).
    models, strengths = MODELS[:4], [-0.5, 0.0, 0.3, 0.3]
    tokens = [300, 300, 300, 900]
    outcomes = draw_outcomes(
        np.random.default_rng(11), models, strengths, 8000, length_effect=1.0, mean_tokens=tokens
    )
    styled = fit_bradley_terry(outcomes, style_control=True)
    assert styled.style_names == ("tokens",)
    effect = styled.style_effect("tokens")
    se = (effect.high - effect.low) / (2 * 1.96)
    assert 0.05 < se < 0.15
    assert abs(effect.estimate - 1.0) < 3 * se  # a 95% interval misses 1 time in 20; 3 se, 1 in 370
    # With the length advantage taken out, m3 and m2 cannot be told apart, as it should be...
    styled_p = styled.win_probability("m3", "m2")
    assert styled_p.low <= 0.5 <= styled_p.high
    assert abs(styled_p.estimate - 0.5) < 0.05
    # ...while without style control m3 looks clearly better than m2.
    plain = fit_bradley_terry(outcomes)
    assert plain.style_names == ()
    assert plain.win_probability("m3", "m2").low > 0.55


def test_style_control_needs_features_and_a_sane_configuration() -> None:
    with pytest.raises(ValueError, match="style features"):
        fit_bradley_terry(repeat("a", "b", Result.A_WINS, 3), style_control=True)
    with pytest.raises(ValueError, match="no outcomes"):
        fit_bradley_terry([])
    with pytest.raises(ValueError, match="confidence"):
        fit_bradley_terry(repeat("a", "b", Result.A_WINS, 3), confidence=1.0)
    with pytest.raises(KeyError):
        fit_bradley_terry(repeat("a", "b", Result.A_WINS, 3)).rating("c")
