"""The recommendation: cheapest model that clears the bar against the baseline, or no evidence."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from backend.ranking import Outcome, Result, Source, recommend, wilson_interval
from tests.backend.ranking.draws import T0, repeat

COSTS = {"base": 1.0, "cheap": 0.1, "mid": 0.3, "pricey": 2.0, "free-ish": 0.05}


def record(model: str, wins: int, ties: int, losses: int, source: Source = Source.HUMAN) -> list[Outcome]:
    # Both orientations, so the baseline being model A or model B is covered.
    return (
        repeat(model, "base", Result.A_WINS, wins, source)
        + repeat("base", model, Result.TIE, ties, source)
        + repeat("base", model, Result.A_WINS, losses, source)
    )


def test_picks_the_cheapest_model_that_clears_the_bar() -> None:
    outcomes = record("cheap", 40, 0, 60) + record("mid", 70, 20, 10) + record("pricey", 95, 0, 5)
    rec = recommend(outcomes, baseline="base", costs=COSTS, min_win_rate=0.7)
    assert rec.model == "mid" and rec.enough_evidence
    assert rec.evidence is not None
    assert (rec.evidence.wins, rec.evidence.ties, rec.evidence.losses) == (70, 20, 10)
    assert rec.evidence.rate == pytest.approx(0.9)  # ties count: "wins or ties"
    assert rec.evidence.ci_low is not None and 0.7 <= rec.evidence.ci_low < 0.9 < (rec.evidence.ci_high or 0)
    assert "mid" in rec.reason
    assert [c.model for c in rec.candidates] == ["free-ish", "cheap", "mid", "pricey"]
    assert [c.clears for c in rec.candidates] == [False, False, True, True]
    assert rec.candidates[0].comparisons == 0 and rec.candidates[0].rate is None


def test_refuses_when_the_interval_does_not_clear_the_bar() -> None:
    outcomes = record("cheap", 6, 1, 3)  # 70% over 10 comparisons: far too little to say >= 60%
    rec = recommend(outcomes, baseline="base", costs=COSTS, min_win_rate=0.6)
    assert rec.model is None and not rec.enough_evidence and rec.evidence is None
    assert rec.reason.startswith("not enough evidence")
    assert rec.candidates[1].rate == pytest.approx(0.7) and not rec.candidates[1].clears
    # The same share over 300 comparisons is evidence enough.
    assert (
        recommend(record("cheap", 180, 30, 90), baseline="base", costs=COSTS, min_win_rate=0.6).model
        == "cheap"
    )


def test_an_unpriced_model_is_never_recommended() -> None:
    rec = recommend(record("mystery", 100, 0, 0), baseline="base", costs=COSTS, min_win_rate=0.5)
    assert rec.model is None
    assert rec.candidates[-1].model == "mystery" and rec.candidates[-1].clears


def test_min_win_rate_outside_0_to_1_is_a_clear_error() -> None:
    for bad in (-0.01, 1.01, math.nan, 70):
        with pytest.raises(ValueError, match="min_win_rate must be a number between 0 and 1"):
            recommend([], baseline="base", costs=COSTS, min_win_rate=bad)
    with pytest.raises(ValueError, match="cost of 'x'"):
        recommend([], baseline="base", costs={"x": -1.0}, min_win_rate=0.5)


def test_filters_apply_to_the_evidence() -> None:
    outcomes = record("cheap", 200, 0, 0, Source.JUDGE) + record("cheap", 0, 0, 200)
    assert recommend(outcomes, baseline="base", costs=COSTS, min_win_rate=0.5).model is None
    assert (
        recommend(outcomes, baseline="base", costs=COSTS, min_win_rate=0.5, source=Source.JUDGE).model
        == "cheap"
    )
    later = recommend(outcomes, baseline="base", costs=COSTS, min_win_rate=0.5, since=T0 + timedelta(hours=1))
    assert all(c.comparisons == 0 for c in later.candidates)


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(50, 100)
    assert (low, high) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
