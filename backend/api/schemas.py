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
    turn: int = Field(default=1, description="The conversation turn this run answers (1: the prompt).")

    @classmethod
    def of(cls, run: RunRecord) -> RunOut:
        return cls.model_validate(run, from_attributes=True)


class TurnOut(BaseModel):
    """One turn of the conversation: the user's message and the answers of the panes it went to."""

    turn: int
    message: str
    position: int | None = Field(description="The one pane it was sent to; null: every pane.")
    created_at: datetime
    runs: list[RunOut]


def turns_of(record: ComparisonRecord) -> list[TurnOut]:
    """Turn 1 (the prompt) and every follow-up, each with its runs in pane order."""
    runs = sorted((*record.past_runs, *record.runs), key=lambda r: (r.turn, r.position))
    first = TurnOut(
        turn=1,
        message=record.prompt,
        position=None,
        created_at=record.created_at,
        runs=[RunOut.of(r) for r in runs if r.turn == 1],
    )
    later = [
        TurnOut(
            turn=t.turn,
            message=t.message,
            position=t.position,
            created_at=t.created_at,
            runs=[RunOut.of(r) for r in runs if r.turn == t.turn],
        )
        for t in record.turns
    ]
    return [first, *later]


class ComparisonOut(BaseModel):
    id: str
    project_id: str
    prompt: str
    system_prompt: str
    created_at: datetime
    runs: list[RunOut] = Field(
        description="Each pane's latest run (its answer to the latest turn it took part in)."
    )
    blind: bool = False
    masked: bool = Field(
        default=False,
        description='Blind and not yet revealed to you: each run\'s model is its pane label ("Model A" …); '
        "provider, cost, input tokens and error details are withheld until you vote or reveal.",
    )

    turns: list[TurnOut] = Field(default=[], description="The whole conversation, turn 1 first.")

    @classmethod
    def of(cls, record: ComparisonRecord) -> ComparisonOut:
        fields = {name: getattr(record, name) for name in cls.model_fields if name != "turns"}
        out = cls.model_validate(fields, from_attributes=True)
        out.turns = turns_of(record)
        return out


class ErrorOut(BaseModel):
    detail: str
    errors: dict[str, str] = {}


class RateLimitOut(BaseModel):
    """429: the user is over a rate limit; the Retry-After header repeats `retry_after_s`."""

    detail: str
    limit: str  # "requests_per_minute" | "tokens_per_day"
    retry_after_s: float
