"""Votes, the leaderboard and the recommendation over HTTP (issue 14).

Any member of the project, viewers included, may vote and read; anyone else gets 404 as if
the comparison or project did not exist. Bad input answers 422 in the app's errors shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from backend.api.auth import User
from backend.api.schemas import ErrorOut
from backend.api.vote_schemas import LeaderboardOut, RecommendationOut, TallyOut, VoteIn
from backend.ranking import DEFAULT_MIN_COMPARISONS, Source
from backend.runtime import Runtime

API_PREFIX = "/api/v1"
REFUSALS: dict[int | str, dict[str, object]] = {
    404: {"description": "Not a member, or no such id"},
    422: {"model": ErrorOut},
}


@dataclass
class BoardQuery:
    """A leaderboard's query parameters, for one project or for all of mine."""

    source: Literal["human", "judge"] = "human"
    since: AwareDatetime | None = None
    min_comparisons: int = Query(default=DEFAULT_MIN_COMPARISONS, ge=0, le=100_000)
    style_control: bool = Query(
        default=False, description="Fit answer length, headers, lists and bold as covariates (human votes)."
    )

    def options(self) -> dict[str, Any]:
        return {
            "source": Source(self.source),
            "since": self.since,
            "min_comparisons": self.min_comparisons,
            "style_control": self.style_control,
        }


@dataclass
class RecommendationQuery:
    """A recommendation's query parameters, for one project or for all of mine."""

    baseline: str = Query(min_length=1, max_length=255)
    min_win_rate: float = Query(description="Between 0 and 1.")
    source: Literal["human", "judge"] = "human"
    since: AwareDatetime | None = None

    def options(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "min_win_rate": self.min_win_rate,
            "source": Source(self.source),
            "since": self.since,
        }


Board = Annotated[BoardQuery, Depends()]
Recommend = Annotated[RecommendationQuery, Depends()]


def vote_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=REFUSALS)

    @router.post("/comparisons/{comparison_id}/votes", response_model=TallyOut, tags=["votes"])
    async def cast_vote(user: User, comparison_id: str, body: VoteIn) -> TallyOut:
        """Create or change my vote on a finished turn of a comparison (one vote per person per
        turn; default: the latest turn); answers that turn's new tally."""
        service = get_runtime().votes
        tally = await service.vote(user, comparison_id, body.best, body.thumbs, body.comment, body.turn)
        return TallyOut.of(tally)

    @router.get("/comparisons/{comparison_id}/votes", response_model=TallyOut, tags=["votes"])
    async def get_votes(
        user: User,
        comparison_id: str,
        turn: int | None = Query(default=None, ge=1, description="Default: the latest turn."),
    ) -> TallyOut:
        """A turn's tally and my own vote on it (null if I have not voted on that turn)."""
        return TallyOut.of(await get_runtime().votes.tally(user, comparison_id, turn))

    @router.get("/projects/{project_id}/leaderboard", response_model=LeaderboardOut, tags=["votes"])
    async def leaderboard(user: User, project_id: str, query: Board) -> LeaderboardOut:
        """Bradley–Terry ratings with 95% intervals from the project's votes, or from LLM-judge
        verdicts with source=judge (never the two mixed)."""
        return LeaderboardOut.of(
            await get_runtime().leaderboard.leaderboard(user, project_id, **query.options())
        )

    @router.get("/projects/{project_id}/recommendation", response_model=RecommendationOut, tags=["votes"])
    async def recommendation(user: User, project_id: str, query: Recommend) -> RecommendationOut:
        """The cheapest model that wins or ties at least min_win_rate of its comparisons against
        the baseline (the lower end of its 95% interval), or "not enough evidence"."""
        result = await get_runtime().leaderboard.recommendation(user, project_id, **query.options())
        return RecommendationOut.of(project_id, result)

    @router.get("/leaderboard", response_model=LeaderboardOut, tags=["votes"])
    async def leaderboard_of_mine(user: User, query: Board) -> LeaderboardOut:
        """One board over every project I am a member of (any role; nobody else's), project_id null."""
        return LeaderboardOut.of(await get_runtime().leaderboard.leaderboard_all(user, **query.options()))

    @router.get("/recommendation", response_model=RecommendationOut, tags=["votes"])
    async def recommendation_of_mine(user: User, query: Recommend) -> RecommendationOut:
        """The recommendation over every project I am a member of, project_id null."""
        result = await get_runtime().leaderboard.recommendation_all(user, **query.options())
        return RecommendationOut.of(None, result)

    return router
