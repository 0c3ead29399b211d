"""A judgement's pairs: its two orders of each pair of panes, combined into one result, and the
judge leaderboard's outcomes from them.

One outcome per pair, from both orders (disagreeing orders are a tie). The pairs one judgement
expands to share a cluster, as the pairs of one multi-pane vote do, so the interval estimator
does not count one judge pass over many panes as independent evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from backend.db.judgements import JudgementRecord, JudgeRunRecord
from backend.db.records import ACTIVE_STATUSES
from backend.judging.verdicts import PairResult, combine, pane_winner
from backend.ranking import Outcome, Result, Source

PairStatus = Literal["pending", "done", "error"]


@dataclass(frozen=True, slots=True)
class Pair:
    pane_a: int  # the lower position
    pane_b: int
    a_first: JudgeRunRecord | None  # the order showing pane_a first
    b_first: JudgeRunRecord | None
    status: PairStatus  # pending: an order has no verdict yet; error: one never will
    result: PairResult | None  # set when status is done
    agreed: bool | None  # did both orders prefer the same pane (or both say tie)?


def pairs_of(judgement: JudgementRecord) -> list[Pair]:
    orders: dict[tuple[int, int], JudgeRunRecord] = {(r.first_pane, r.second_pane): r for r in judgement.runs}
    keys = sorted({tuple(sorted(k)) for k in orders})
    return [_pair(low, high, orders.get((low, high)), orders.get((high, low))) for low, high in keys]


def _pair(low: int, high: int, a_first: JudgeRunRecord | None, b_first: JudgeRunRecord | None) -> Pair:
    if any(r is not None and not _judged(r) for r in (a_first, b_first)):
        return Pair(low, high, a_first, b_first, "pending", None, None)
    if a_first is None or b_first is None or a_first.winner is None or b_first.winner is None:
        return Pair(low, high, a_first, b_first, "error", None, None)
    preferred = (
        pane_winner(a_first.winner, a_first.first_pane, a_first.second_pane),
        pane_winner(b_first.winner, b_first.first_pane, b_first.second_pane),
    )
    result, agreed = combine(low, high, preferred)
    return Pair(low, high, a_first, b_first, "done", result, agreed)


def _judged(r: JudgeRunRecord) -> bool:
    """Has this order's current attempt finished and been settled (with a verdict or an error)?"""
    if r.settled_at is None:
        return False
    if r.run is None:
        return True  # its run is gone: what was settled is all there will be
    if r.run.status in ACTIVE_STATUSES:
        return False  # retried: its new attempt is not judged yet
    return r.run.finished_at is None or r.settled_at >= r.run.finished_at


_RESULTS = {"a_wins": Result.A_WINS, "b_wins": Result.B_WINS, "tie": Result.TIE}


def judge_outcomes(judgements: Iterable[tuple[JudgementRecord, Sequence[str]]]) -> list[Outcome]:
    """The judge leaderboard's outcomes: one per decided pair of two different models."""
    outcomes: list[Outcome] = []
    for judgement, models in judgements:
        for pair in pairs_of(judgement):
            if pair.result is None or pair.pane_b >= len(models):
                continue
            model_a, model_b = models[pair.pane_a], models[pair.pane_b]
            if model_a == model_b:
                continue  # a model against itself says nothing about strengths
            outcomes.append(
                Outcome(
                    model_a,
                    model_b,
                    _RESULTS[pair.result],
                    Source.JUDGE,
                    judgement.created_at,
                    cluster=judgement.id,
                )
            )
    return outcomes
