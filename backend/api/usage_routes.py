"""Usage figures, the budget burn-down and exports over HTTP (issue 18).

A project the token's owner is not a member of answers 404; ``everyone=true`` is for admins
(403 otherwise). Bad parameters answer 422 in the app's errors shape, before any byte of an
export is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel

from backend.api.auth import User
from backend.api.schemas import ComparisonOut, ErrorOut
from backend.runtime import Runtime
from backend.services.export import MEDIA_TYPES, comparison_markdown

API_PREFIX = "/api/v1"
REFUSALS: dict[int | str, dict[str, object]] = {
    403: {"description": "everyone=true without being an admin"},
    404: {"description": "Not a member, or no such id"},
    422: {"model": ErrorOut},
}


class UsageRowOut(BaseModel):
    bucket: str  # the day, or the Monday of the week (YYYY-MM-DD); "" when grouped by model
    model: str
    runs: int
    errors: int
    cancelled: int
    error_rate: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tokens_per_s_p50: float | None
    tokens_per_s_p95: float | None


class UsageOut(BaseModel):
    project_id: str | None
    everyone: bool
    group_by: str
    since: datetime
    until: datetime
    runs: int
    cost_usd: float
    rows: list[UsageRowOut]


class BurnDayOut(BaseModel):
    day: str
    spent_usd: float
    cumulative_usd: float
    remaining_usd: float | None
    ideal_remaining_usd: float | None


class BurnDownOut(BaseModel):
    month: str
    budget_usd: float | None
    spent_usd: float
    remaining_usd: float | None
    days: list[BurnDayOut]


EVERYONE = Query(default=False, description="Every project's runs (admins only).")


def usage_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=REFUSALS)

    @router.get("/usage", response_model=UsageOut, tags=["usage"])
    async def usage(
        user: User,
        project_id: str = "",
        group_by: Literal["model", "day", "week"] = "model",
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        everyone: bool = EVERYONE,
    ) -> UsageOut:
        """Finished runs in [since, until) (default: the last 30 days) of one project, or of every
        project I am a member of: spend, tokens, runs, error rate and TTFT / tokens-per-second
        p50 and p95 (nearest rank) by model, per day or week with group_by=day|week."""
        result = await get_runtime().usage.usage(
            user, project_id or None, group_by=group_by, since=since, until=until, everyone=everyone
        )
        return UsageOut(
            project_id=result.project_id,
            everyone=result.everyone,
            group_by=result.group_by,
            since=result.since,
            until=result.until,
            runs=result.runs,
            cost_usd=result.cost_usd,
            rows=[
                UsageRowOut.model_validate({**_fields(r), "error_rate": r.error_rate}) for r in result.rows
            ],
        )

    @router.get("/usage/burn-down", response_model=BurnDownOut, tags=["usage"])
    async def burn_down(user: User) -> BurnDownOut:
        """My monthly budget against what my runs cost this month (UTC), day by day."""
        result = await get_runtime().usage.burn_down(user)
        return BurnDownOut(
            month=result.month,
            budget_usd=result.budget_usd,
            spent_usd=result.spent_usd,
            remaining_usd=result.remaining_usd,
            days=[BurnDayOut.model_validate(d, from_attributes=True) for d in result.days],
        )

    @router.get(
        "/runs/export",
        tags=["usage"],
        responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
    )
    async def export_runs(
        user: User,
        format: Literal["csv", "jsonl"] = "csv",
        project_id: str = "",
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        model: str = Query(default="", max_length=255),
        everyone: bool = EVERYONE,
    ) -> StreamingResponse:
        """Finished runs (figures, no prompts or answers) oldest first, streamed."""
        body = await get_runtime().exports.runs(
            user,
            format=format,
            project_id=project_id or None,
            since=since,
            until=until,
            model=model or None,
            everyone=everyone,
        )
        return StreamingResponse(
            body,
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="runs.{format}"'},
        )

    @router.get(
        "/comparisons/{comparison_id}/export",
        tags=["comparisons"],
        responses={200: {"content": {"text/markdown": {}, "application/json": {}}}},
    )
    async def export_comparison(
        user: User, comparison_id: str, format: Literal["md", "json"] = "md"
    ) -> Response:
        """The comparison as Markdown or JSON, as I may see it (masked while blind and unrevealed)."""
        service = get_runtime().comparisons
        record = await service.get(user, comparison_id)
        name = f"comparison-{comparison_id}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if format == "json":
            body = ComparisonOut.of(record).model_dump_json(indent=2)
            return Response(body, media_type="application/json", headers=headers)
        return Response(
            comparison_markdown(record), media_type="text/markdown; charset=utf-8", headers=headers
        )

    return router


def _fields(row: object) -> dict[str, object]:
    return {name: getattr(row, name) for name in UsageRowOut.model_fields if name != "error_rate"}
