"""Response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from backend.db.records import ComparisonRecord, RunRecord
from backend.services.metrics import RunFigures


class ModelOut(BaseModel):
    id: str
    display_name: str
    family: str
    simulated: bool
    available: bool
    reason: str
    context_window: int
    input_price_per_mtok: float
    output_price_per_mtok: float


class RunOut(BaseModel):
    id: str
    position: int
    model: str
    params: dict[str, object]
    attempt: int
    status: str
    output_text: str
    error: str
    error_kind: str
    ttft_ms: float | None
    total_ms: float | None
    tokens_per_second: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cache_hit: bool
    original_ttft_ms: float | None = None
    original_total_ms: float | None = None

    @classmethod
    def of(cls, run: RunRecord) -> RunOut:
        figures = RunFigures(run.ttft_ms, run.total_ms, run.input_tokens, run.output_tokens, run.cost_usd)
        return cls(
            id=run.id,
            position=run.position,
            model=run.model,
            params=dict(run.params),
            attempt=run.attempt,
            status=run.status,
            output_text=run.output_text,
            error=run.error,
            error_kind=run.error_kind,
            ttft_ms=run.ttft_ms,
            total_ms=run.total_ms,
            tokens_per_second=figures.tokens_per_second,
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            cost_usd=run.cost_usd,
            cache_hit=run.cache_hit,
            original_ttft_ms=run.original_ttft_ms,
            original_total_ms=run.original_total_ms,
        )


class ComparisonOut(BaseModel):
    id: str
    project_id: str
    prompt: str
    system_prompt: str
    created_at: datetime
    runs: list[RunOut]
    blind: bool = False
    masked: bool = Field(
        default=False,
        description='Blind and not yet revealed to you: each run\'s model is its pane label ("Model A" …); '
        "provider, cost, input tokens and error details are withheld until you vote or reveal.",
    )

    @classmethod
    def of(cls, record: ComparisonRecord) -> ComparisonOut:
        return cls(
            id=record.id,
            project_id=record.project_id,
            prompt=record.prompt,
            system_prompt=record.system_prompt,
            created_at=record.created_at,
            runs=[RunOut.of(r) for r in record.runs],
            blind=record.blind,
            masked=record.masked,
        )


class ErrorOut(BaseModel):
    detail: str
    errors: dict[str, str] = {}


class RateLimitOut(BaseModel):
    """429: the user is over a rate limit; the Retry-After header repeats `retry_after_s`."""

    detail: str
    limit: str  # "requests_per_minute" | "tokens_per_day"
    retry_after_s: float
