"""Follow-up turns over HTTP (issue 19): the next message of a finished comparison's conversation.

Like starting a comparison: editors and owners only (a viewer gets 403), someone outside the
project 404; bad input, a comparison still running or a conversation past a model's context
window answer 422 in the app's errors shape; rate limits 429.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Response

from backend.api.auth import User
from backend.api.schemas import ComparisonOut, ErrorOut, RateLimitOut
from backend.runtime import Runtime
from backend.services.turns import TurnInput

API_PREFIX = "/api/v1"


def turn_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.post(
        "/comparisons/{comparison_id}/turns",
        response_model=ComparisonOut,
        status_code=201,
        responses={
            403: {"description": "Viewers cannot run"},
            404: {"description": "Not a member, or no such id"},
            422: {"model": ErrorOut},
            429: {"model": RateLimitOut},
        },
        tags=["comparisons"],
    )
    async def send_turn(user: User, comparison_id: str, body: TurnInput) -> Response:
        """Send a follow-up message to every pane (each model continues its own conversation)
        or, with `position` or `run_id`, to one pane; answers the comparison with its turns."""
        record = await get_runtime().turns.send(user, comparison_id, body)
        out = ComparisonOut.of(record).model_dump_json()
        return Response(content=out, status_code=201, media_type="application/json")

    return router
