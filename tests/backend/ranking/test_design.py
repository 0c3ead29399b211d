"""Outcomes as arrays: style differences and clusters."""

from __future__ import annotations

import numpy as np

from backend.ranking import Outcome, Result, Source, StyleFeatures
from backend.ranking.design import build_design, normalized_difference
from tests.backend.ranking.draws import T0


def test_normalized_difference_is_relative_and_zero_for_two_zeros() -> None:
    got = normalized_difference(np.array([300.0, 0.0, 10.0]), np.array([100.0, 0.0, 0.0]))
    assert got.tolist() == [0.5, 0.0, 1.0]


def test_style_columns_without_variation_are_left_out() -> None:
    outcomes = [
        Outcome("a", "b", Result.A_WINS, Source.HUMAN, T0, StyleFeatures(30, lists=2), StyleFeatures(10)),
        Outcome("b", "c", Result.TIE, Source.HUMAN, T0, StyleFeatures(10), StyleFeatures(10, lists=1)),
    ]
    design = build_design(outcomes, style_control=True)
    assert design.style_names == ("tokens", "lists")
    assert design.style.tolist() == [[0.5, 1.0], [0.0, -1.0]]
    assert design.models == ("a", "b", "c")
    assert design.score_a.tolist() == [1.0, 0.5]


def test_each_outcome_without_a_cluster_is_its_own() -> None:
    outcomes = [
        Outcome("a", "b", Result.A_WINS, Source.HUMAN, T0, cluster="v1"),
        Outcome("a", "c", Result.A_WINS, Source.HUMAN, T0, cluster="v1"),
        Outcome("b", "c", Result.A_WINS, Source.HUMAN, T0),
        Outcome("b", "c", Result.A_WINS, Source.HUMAN, T0),
    ]
    design = build_design(outcomes, style_control=False)
    assert design.cluster.tolist() == [0, 0, 1, 2]
    assert design.n_clusters == 3
