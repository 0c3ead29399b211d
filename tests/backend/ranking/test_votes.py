"""Reducing multi-pane votes to pairwise outcomes."""

from __future__ import annotations

from datetime import timedelta

from backend.ranking import Result, Source, StyleFeatures, Vote, VoteChoice, reduce_votes, vote_to_outcomes
from tests.backend.ranking.draws import T0


def pairs(vote: Vote) -> list[tuple[str, str, Result]]:
    return [(o.model_a, o.model_b, o.result) for o in vote_to_outcomes(vote)]


def test_the_best_pane_beat_every_other_pane_and_nothing_else_is_known() -> None:
    vote = Vote("ann", "c1", ("x", "y", "z"), 1, T0)
    assert pairs(vote) == [("x", "y", Result.B_WINS), ("y", "z", Result.A_WINS)]


def test_tie_and_all_bad_are_ties_between_all_pairs() -> None:
    tie = Vote("ann", "c1", ("x", "y", "z"), VoteChoice.TIE, T0)
    assert pairs(tie) == [("x", "y", Result.TIE), ("x", "z", Result.TIE), ("y", "z", Result.TIE)]
    all_bad = Vote("ann", "c1", ("x", "y", "z"), VoteChoice.ALL_BAD, T0)
    assert [r for _, _, r in pairs(all_bad)] == [Result.BOTH_BAD] * 3


def test_two_panes_of_one_model_are_skipped() -> None:
    vote = Vote("ann", "c1", ("x", "x", "y"), 0, T0)
    assert pairs(vote) == [("x", "y", Result.A_WINS)]


def test_pairs_of_one_vote_share_a_cluster_keep_time_source_and_styles() -> None:
    styles = (StyleFeatures(tokens=10), StyleFeatures(tokens=20), StyleFeatures(tokens=30))
    vote = Vote("ann", "c1", ("x", "y", "z"), 2, T0, pane_styles=styles)
    outcomes = vote_to_outcomes(vote, Source.JUDGE)
    assert len({o.cluster for o in outcomes}) == 1
    assert all(o.at == T0 and o.source is Source.JUDGE for o in outcomes)
    assert [(o.style_a, o.style_b) for o in outcomes] == [(styles[0], styles[2]), (styles[1], styles[2])]
    other_voter = vote_to_outcomes(Vote("bob", "c1", ("x", "y", "z"), 2, T0))
    assert other_voter[0].cluster != outcomes[0].cluster


def test_only_each_persons_latest_vote_on_a_comparison_counts() -> None:
    votes = [
        Vote("ann", "c1", ("x", "y"), 0, T0),
        Vote("ann", "c1", ("x", "y"), 1, T0 + timedelta(minutes=5)),  # changed her mind
        Vote("ann", "c1", ("x", "y"), 0, T0 + timedelta(minutes=1)),  # older, arrives late
        Vote("bob", "c1", ("x", "y"), 0, T0),
        Vote("ann", "c2", ("x", "y"), VoteChoice.TIE, T0),
    ]
    got = sorted((o.cluster or "", o.result) for o in reduce_votes(votes))
    assert [r for _, r in got] == [Result.B_WINS, Result.A_WINS, Result.TIE]
    assert all(o.source is Source.HUMAN for o in reduce_votes(votes))
