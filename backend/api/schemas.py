"""Response bodies of the HTTP API, read from the records' attributes (backend/db/records.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from backend.db.records import ComparisonRecord, RunRecord


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
    vision: bool = Field(default=False, description="Reads images in the prompt.")
    params: list[str] = Field(
        default_factory=list,
        description="Optional pane parameters the model takes: top_p, seed, stop, presence_penalty, "
        "frequency_penalty, json_mode, json_schema.",
    )


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
        return cls.model_validate(run, from_attributes=True)


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
        return cls.model_validate(record, from_attributes=True)


class ErrorOut(BaseModel):
    detail: str
    errors: dict[str, str] = {}


class RateLimitOut(BaseModel):
    """429: the user is over a rate limit; the Retry-After header repeats `retry_after_s`."""

    detail: str
    limit: str  # "requests_per_minute" | "tokens_per_day"
    retry_after_s: float
