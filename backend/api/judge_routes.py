"""LLM-as-judge and project rubrics over HTTP (issue 14).

Any member reads judgements and the rubric; starting a judge needs the right to run
comparisons (a viewer gets 403); editing the rubric is for owners. Anyone else gets 404 as if
the comparison or project did not exist. Bad input answers 422 in the app's errors shape.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request

from backend.api.auth import User
from backend.api.judge_schemas import JudgeIn, JudgementOut, RubricIn, RubricOut
from backend.api.schemas import ErrorOut, RateLimitOut
from backend.i18n import request_language
from backend.runtime import Runtime

API_PREFIX = "/api/v1"
REFUSALS: dict[int | str, dict[str, object]] = {
    403: {"description": "A member whose role does not allow it"},
    404: {"description": "Not a member, or no such id"},
    422: {"model": ErrorOut},
}


def _language(request: Request) -> str:
    """The reader's language for the orders' errors (the page's cookie, else Accept-Language)."""
    return request_language(request.headers.get("cookie"), request.headers.get("accept-language"))


def judge_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=REFUSALS, tags=["judge"])

    @router.post(
        "/comparisons/{comparison_id}/judgements",
        response_model=JudgementOut,
        status_code=202,
        responses={429: {"model": RateLimitOut}},
    )
    async def start_judge(request: Request, user: User, comparison_id: str, body: JudgeIn) -> JudgementOut:
        """Run a catalog model as judge over every pair of the answers to a finished turn (default:
        the latest), in both orders; answers at once with the queued judge runs (follow them with GET)."""
        view = await get_runtime().judges.start(user, comparison_id, body.judge_model, body.rubric, body.turn)
        return JudgementOut.of(view, _language(request))

    @router.get("/comparisons/{comparison_id}/judgements", response_model=list[JudgementOut])
    async def list_judgements(request: Request, user: User, comparison_id: str) -> list[JudgementOut]:
        """The comparison's judgements, oldest first: each order's run and verdict with its
        rationale, and each pair's combined result."""
        views = await get_runtime().judges.judgements(user, comparison_id)
        return [JudgementOut.of(v, _language(request)) for v in views]

    @router.get("/projects/{project_id}/rubric", response_model=RubricOut)
    async def get_rubric(user: User, project_id: str) -> RubricOut:
        """The rubric the project's judges use (the default one until an owner sets one)."""
        return RubricOut.of(await get_runtime().judges.rubric(user, project_id))

    @router.put("/projects/{project_id}/rubric", response_model=RubricOut)
    async def put_rubric(user: User, project_id: str, body: RubricIn) -> RubricOut:
        """Set the project's rubric (owners); an empty one goes back to the default."""
        return RubricOut.of(await get_runtime().judges.set_rubric(user, project_id, body.rubric))

    return router
