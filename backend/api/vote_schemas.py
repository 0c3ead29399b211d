"""Request and response bodies of the vote, leaderboard and recommendation routes.

A leaderboard row and a recommendation candidate share ModelRecordOut; a vote as read back
is the vote as sent plus its times.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from backend.db.models import VOTE_COMMENT_MAX_CHARS
from backend.db.votes import VoteRecord
from backend.ranking import Evidence, Recommendation
from backend.services.leaderboard import ModelFigures, ProjectLeaderboard
from backend.services.validation import MAX_PANES
from backend.services.votes import Tally


def _one_best_error(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    # The union's own errors name its branches ("best.int", "best.literal[...]"): one plain
    # message under "best" says what is expected.
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError(
            "vote_best", "Name the best pane by its index (from 0), or 'tie' or 'all_bad'."
        ) from None


Best = Annotated[StrictInt | Literal["tie", "all_bad"], WrapValidator(_one_best_error)]


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    best: Best = Field(description="The best pane's index (its position, from 0), or 'tie' or 'all_bad'.")
    thumbs: list[Literal["up", "down"] | None] = Field(
        default_factory=list, max_length=MAX_PANES, description="Per pane in order: 'up', 'down' or null."
    )
    comment: str = Field(default="", max_length=VOTE_COMMENT_MAX_CHARS)
    turn: StrictInt | None = Field(
        default=None, ge=1, description="The conversation turn voted on (from 1); default: the latest."
    )


class VoteOut(VoteIn):
    created_at: datetime
    updated_at: datetime
    turn: int = Field(default=1, description="The conversation turn the vote is about.")

    @classmethod
    def of(cls, vote: VoteRecord) -> VoteOut:
        best: int | Literal["tie", "all_bad"] = "tie" if vote.no_winner == "tie" else "all_bad"
        return cls(
            best=vote.best_pane if vote.best_pane is not None else best,
            thumbs=[t if t in ("up", "down") else None for t in vote.thumbs],
            comment=vote.comment,
            created_at=vote.created_at,
            updated_at=vote.updated_at,
            turn=vote.turn,
        )


class PaneTallyOut(BaseModel):
    position: int
    model: str
    best: int
    thumbs_up: int
    thumbs_down: int


class TallyOut(BaseModel):
    comparison_id: str
    panes: list[PaneTallyOut]
    tie: int
    all_bad: int
    votes: int
    mine: VoteOut | None
    turn: int = Field(description="The conversation turn tallied (one vote per person per turn).")
    latest_turn: int = Field(description="The comparison's latest turn.")

    @classmethod
    def of(cls, tally: Tally) -> TallyOut:
        return cls(
            comparison_id=tally.comparison_id,
            panes=[PaneTallyOut.model_validate(p, from_attributes=True) for p in tally.panes],
            tie=tally.tie,
            all_bad=tally.all_bad,
            votes=tally.votes,
            mine=None if tally.mine is None else VoteOut.of(tally.mine),
            turn=tally.turn,
            latest_turn=tally.latest_turn,
        )


class ModelRecordOut(BaseModel):
    """What a leaderboard row and a recommendation candidate both say about a model."""

    model: str
    comparisons: int
    wins: int
    ties: int = Field(description="Ties and 'all bad' (each counts half a win).")
    losses: int
    cost_per_1k_output_usd: float | None = Field(description="List price; null when the catalog has none.")


class LeaderboardRowOut(ModelRecordOut):
    rank: int | None = Field(description="Null while needs_more > 0 or outside the main group.")
    needs_more: int
    connected: bool
    rating: float | None = Field(description="Elo-like scale; the average model is at 1000.")
    rating_ci_low: float | None
    rating_ci_high: float | None
    median_ttft_ms: float | None
    median_tokens_per_second: float | None
    runs: int = Field(description="Successful runs the medians are taken over.")


class WinRatesOut(BaseModel):
    models: list[str]
    rates: list[list[float | None]] = Field(description="rates[i][j]: model i's share against j.")
    counts: list[list[int]]


class StyleEffectOut(BaseModel):
    name: Literal["tokens", "headers", "lists", "bold"]
    coefficient: float | None = Field(
        description="Log-odds effect of the normalized difference (a-b)/(a+b) of this feature."
    )
    ci_low: float | None
    ci_high: float | None


class LeaderboardOut(BaseModel):
    project_id: str | None = Field(description="Null for the board over all my projects.")
    source: Literal["human", "judge"]
    since: datetime | None
    min_comparisons: int
    n_outcomes: int
    rows: list[LeaderboardRowOut]
    win_rates: WinRatesOut
    style: list[StyleEffectOut] = Field(
        default_factory=list,
        description="With style_control: each style feature's effect, with its 95% interval.",
    )
    dropped_without_style: int = 0

    @classmethod
    def of(cls, result: ProjectLeaderboard) -> LeaderboardOut:
        board = result.board
        return cls(
            project_id=result.project_id,
            source=result.source.value,
            since=result.since,
            min_comparisons=board.min_comparisons,
            n_outcomes=board.n_outcomes,
            rows=[
                LeaderboardRowOut(
                    model=r.model,
                    comparisons=r.comparisons,
                    wins=r.wins,
                    ties=r.ties,
                    losses=r.losses,
                    cost_per_1k_output_usd=result.figures[r.model].cost_per_1k_output_usd,
                    rank=r.rank,
                    needs_more=r.needs_more,
                    connected=r.connected,
                    rating=_finite(r.rating),
                    rating_ci_low=_finite(r.ci_low),
                    rating_ci_high=_finite(r.ci_high),
                    **_speed(result.figures[r.model]),
                )
                for r in board.rows
            ],
            win_rates=WinRatesOut(
                models=list(board.win_rates.models),
                rates=[[_finite(v) for v in row] for row in board.win_rates.rates],
                counts=[list(row) for row in board.win_rates.counts],
            ),
            style=[
                StyleEffectOut(
                    name=e.name,
                    coefficient=_finite(e.coefficient),
                    ci_low=_finite(e.ci_low),
                    ci_high=_finite(e.ci_high),
                )
                for e in board.style
            ],
            dropped_without_style=board.dropped_without_style,
        )


class EvidenceOut(ModelRecordOut):
    rate: float | None = Field(description="(wins + ties) / comparisons against the baseline.")
    rate_ci_low: float | None
    rate_ci_high: float | None
    clears: bool = Field(description="rate_ci_low >= min_win_rate.")

    @classmethod
    def of(cls, e: Evidence) -> EvidenceOut:
        return cls(
            model=e.model,
            comparisons=e.comparisons,
            wins=e.wins,
            ties=e.ties,
            losses=e.losses,
            cost_per_1k_output_usd=e.cost_per_1k_output,
            rate=e.rate,
            rate_ci_low=e.ci_low,
            rate_ci_high=e.ci_high,
            clears=e.clears,
        )


class RecommendationOut(BaseModel):
    project_id: str | None = Field(description="Null for the advice over all my projects.")
    baseline: str
    min_win_rate: float
    model: str | None = Field(description="Null: not enough evidence for any priced model.")
    enough_evidence: bool
    reason: str
    evidence: EvidenceOut | None
    candidates: list[EvidenceOut] = Field(description="Cheapest first.")

    @classmethod
    def of(cls, project_id: str | None, r: Recommendation) -> RecommendationOut:
        return cls(
            project_id=project_id,
            baseline=r.baseline,
            min_win_rate=r.min_win_rate,
            model=r.model,
            enough_evidence=r.enough_evidence,
            reason=r.reason,
            evidence=None if r.evidence is None else EvidenceOut.of(r.evidence),
            candidates=[EvidenceOut.of(c) for c in r.candidates],
        )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _speed(f: ModelFigures) -> dict[str, float | int | None]:
    return {
        "median_ttft_ms": _finite(f.median_ttft_ms),
        "median_tokens_per_second": _finite(f.median_tokens_per_second),
        "runs": f.runs,
    }
