"""Validation of the ranking engine's inputs."""

from __future__ import annotations

from datetime import datetime

import pytest

from backend.ranking import Outcome, Result, Source, StyleFeatures, Vote, VoteChoice
from tests.backend.ranking.draws import T0


def test_an_outcome_compares_two_different_models_at_an_aware_time() -> None:
    with pytest.raises(ValueError, match="two different models"):
        Outcome("a", "a", Result.TIE, Source.HUMAN, T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Outcome("a", "b", Result.TIE, Source.HUMAN, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="two model ids"):
        Outcome("", "b", Result.TIE, Source.HUMAN, T0)


def test_scores_count_ties_and_both_bad_as_half() -> None:
    scores = {r: Outcome("a", "b", r, Source.JUDGE, T0).score_a for r in Result}
    assert scores == {Result.A_WINS: 1.0, Result.B_WINS: 0.0, Result.TIE: 0.5, Result.BOTH_BAD: 0.5}


def test_a_vote_names_an_existing_pane() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        Vote("u", "c", ("a", "b"), 2, T0)
    with pytest.raises(ValueError, match="at least two panes"):
        Vote("u", "c", ("a",), VoteChoice.TIE, T0)
    with pytest.raises(ValueError, match="one entry per pane"):
        Vote("u", "c", ("a", "b"), 0, T0, pane_styles=(StyleFeatures(tokens=3),))
    with pytest.raises(ValueError, match="timezone-aware"):
        Vote("u", "c", ("a", "b"), 0, datetime(2026, 1, 1))


def test_style_features_are_counts() -> None:
    with pytest.raises(ValueError, match="bold"):
        StyleFeatures(tokens=10, bold=-1)
    assert StyleFeatures(tokens=10, headers=1, lists=2, bold=3).as_tuple() == (10, 1, 2, 3)
