"""Reduce multi-pane votes to the pairwise outcomes a Bradley–Terry model is fitted on."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from backend.ranking.types import Outcome, Result, Source, Vote, VoteChoice


def latest_votes(votes: Iterable[Vote]) -> list[Vote]:
    """One vote per (voter, comparison): the latest by time, the last given on equal times.

    A vote can be changed; if the caller hands over the history, only the final word counts.
    """
    kept: dict[tuple[str, str], Vote] = {}
    for vote in votes:
        key = (vote.voter, vote.comparison_id)
        previous = kept.get(key)
        if previous is None or vote.at >= previous.at:
            kept[key] = vote
    return list(kept.values())


def vote_to_outcomes(vote: Vote, source: Source = Source.HUMAN) -> list[Outcome]:
    """The pairs one vote stands for.

    A best-pane vote says that pane beat every other pane, and nothing about the order of the
    others, so only the best pane's pairs are produced. "tie" and "all bad" are a tie between
    every pair of panes. Two panes of the same model carry no information about strengths
    and are skipped. All pairs of one vote share a cluster, so the interval estimator treats
    them as one observation's worth of dependence.
    """
    cluster = f"{vote.comparison_id}\x1f{vote.voter}"
    models = vote.pane_models
    styles = vote.pane_styles
    outcomes: list[Outcome] = []
    for i, j in combinations(range(len(models)), 2):
        if models[i] == models[j]:
            continue
        if isinstance(vote.best, VoteChoice):
            result = Result.TIE if vote.best is VoteChoice.TIE else Result.BOTH_BAD
        elif vote.best == i:
            result = Result.A_WINS
        elif vote.best == j:
            result = Result.B_WINS
        else:
            continue  # neither pane of this pair was picked: their order is unknown
        outcomes.append(
            Outcome(
                model_a=models[i],
                model_b=models[j],
                result=result,
                source=source,
                at=vote.at,
                style_a=styles[i] if styles is not None else None,
                style_b=styles[j] if styles is not None else None,
                cluster=cluster,
            )
        )
    return outcomes


def reduce_votes(votes: Iterable[Vote], source: Source = Source.HUMAN) -> list[Outcome]:
    """All pairwise outcomes of a set of votes, keeping each person's latest vote per comparison."""
    outcomes: list[Outcome] = []
    for vote in latest_votes(votes):
        outcomes.extend(vote_to_outcomes(vote, source))
    return outcomes
