"""The improved prompt over HTTP (issue 14): propose a revision of a finished comparison's
prompt with a chosen model, accept it as the prompt's next version, list the versions.

Proposing and accepting need the right to run comparisons (a viewer gets 403); any member
reads versions; anyone else gets 404. Bad input answers 422 in the app's errors shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.auth import User
from backend.api.schemas import ComparisonOut, ErrorOut, RateLimitOut
from backend.prompting.chain import REASON_MAX_CHARS
from backend.prompting.service import PromptService, VersionView
from backend.runtime import Runtime
from backend.services.validation import MAX_PROMPT_CHARS

API_PREFIX = "/api/v1"
REFUSALS: dict[int | str, dict[str, object]] = {
    403: {"description": "A member whose role does not allow it"},
    404: {"description": "Not a member, or no such id"},
    422: {"model": ErrorOut},
}


class ImproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1, max_length=255, description="The catalog model that proposes.")


class ProposalOut(BaseModel):
    prompt: str
    system_prompt: str
    reason: str
    proposed_by: str


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    system_prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    reason: str = Field(default="", max_length=REASON_MAX_CHARS)
    proposed_by: str = Field(default="", max_length=255)


class VersionOut(BaseModel):
    lineage_id: str
    version: int
    comparison_id: str
    prompt: str
    system_prompt: str
    reason: str
    proposed_by: str
    created_at: datetime
    models: list[str]
    cost_usd: float
    votes: int
    vote_win_rates: dict[str, float] = Field(description="Per model: share of votes naming its pane best.")
    judge_win_rates: dict[str, float] = Field(description="Per model: judged pairs won (ties half).")

    @classmethod
    def of(cls, view: VersionView) -> VersionOut:
        v = view.record
        return cls(
            lineage_id=v.lineage_id,
            version=v.version,
            comparison_id=v.comparison_id,
            prompt=v.prompt,
            system_prompt=v.system_prompt,
            reason=v.reason,
            proposed_by=v.proposed_by,
            created_at=v.created_at,
            models=list(view.models),
            cost_usd=v.cost_usd,
            votes=view.votes,
            vote_win_rates=view.vote_win_rates,
            judge_win_rates=view.judge_win_rates,
        )


class AcceptedOut(BaseModel):
    lineage_id: str
    version: int
    comparison: ComparisonOut


def prompt_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=REFUSALS, tags=["prompt versions"])

    def service() -> PromptService:
        return get_runtime().prompts

    @router.post(
        "/comparisons/{comparison_id}/improvements",
        response_model=ProposalOut,
        responses={429: {"model": RateLimitOut}},
    )
    async def improve(user: User, comparison_id: str, body: ImproveIn) -> ProposalOut:
        """A revised prompt and system prompt with a short reason, from the outputs, votes and
        judge rationales, proposed by the chosen model through a LangChain chain (nothing saved)."""
        proposal = await service().propose(user, comparison_id, body.model)
        return ProposalOut(**proposal.model_dump(), proposed_by=body.model)

    @router.post(
        "/comparisons/{comparison_id}/versions",
        response_model=AcceptedOut,
        status_code=201,
        responses={429: {"model": RateLimitOut}},
    )
    async def accept(user: User, comparison_id: str, body: AcceptIn) -> Response:
        """Run a (proposed) revision on the same panes as the prompt's next version."""
        accepted = await service().accept(user, comparison_id, **body.model_dump())
        out = AcceptedOut(
            lineage_id=accepted.lineage_id,
            version=accepted.version,
            comparison=ComparisonOut.of(accepted.comparison),
        )
        return Response(content=out.model_dump_json(), status_code=201, media_type="application/json")

    @router.get("/comparisons/{comparison_id}/versions", response_model=list[VersionOut])
    async def versions(user: User, comparison_id: str) -> list[VersionOut]:
        """Every version of the prompt this comparison ran, with win rates and cost (empty: none)."""
        return [VersionOut.of(v) for v in await service().versions(user, comparison_id)]

    return router
