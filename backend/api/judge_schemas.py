"""Request and response bodies of the LLM-as-judge and rubric routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from backend.db.judgements import JudgeRunRecord
from backend.db.models import RUBRIC_MAX_CHARS
from backend.i18n import DEFAULT_LANGUAGE, gettext
from backend.judging.pairs import Pair
from backend.judging.service import JudgementView, RubricView
from backend.judging.verdicts import pane_winner, verdict_error_message

RUBRIC_LIMIT = f"At most {RUBRIC_MAX_CHARS:,} characters (longer: 422, nothing saved)."


class JudgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    judge_model: str = Field(
        min_length=1, max_length=255, description="A catalog model id, e.g. simulated:judge."
    )
    rubric: str | None = Field(
        default=None, description="This judgement only; default: the project's. " + RUBRIC_LIMIT
    )
    turn: StrictInt | None = Field(
        default=None, ge=1, description="The conversation turn to judge (from 1); default: the latest."
    )


class RubricIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rubric: str = Field(description="Empty: back to the default rubric. " + RUBRIC_LIMIT)


class RubricOut(BaseModel):
    project_id: str
    rubric: str
    is_default: bool
    max_chars: int

    @classmethod
    def of(cls, view: RubricView) -> RubricOut:
        return cls(
            project_id=view.project_id, rubric=view.text, is_default=view.is_default, max_chars=view.max_chars
        )


class JudgeRunOut(BaseModel):
    """One order of one pair as the judge saw it: its run (live while it streams) and verdict."""

    run_id: str | None
    run_comparison_id: str = Field(description="Follow it live at /comparisons/{id}/events.")
    first_pane: int = Field(description="The pane shown as answer A.")
    second_pane: int = Field(description="The pane shown as answer B.")
    status: str = Field(description="The judge run's status: queued, running, done, error, cancelled.")
    output_text: str
    winner: Literal["A", "B", "tie"] | None = Field(description="Null until a verdict is parsed.")
    preferred_pane: int | None = Field(description="The pane the verdict prefers; null for a tie or none.")
    rationale: str
    error: str = Field(
        description="Why this order has no verdict (the run failed, or its answer did not parse)."
    )

    @classmethod
    def of(cls, r: JudgeRunRecord, language: str = DEFAULT_LANGUAGE) -> JudgeRunOut:
        run = r.run
        return cls(
            run_id=None if run is None else run.id,
            run_comparison_id=r.run_comparison_id,
            first_pane=r.first_pane,
            second_pane=r.second_pane,
            status="error" if run is None else run.status,
            output_text="" if run is None else run.output_text,
            winner=r.winner if r.winner in ("A", "B", "tie") else None,
            preferred_pane=None if r.winner is None else pane_winner(r.winner, r.first_pane, r.second_pane),
            rationale=r.rationale,
            error=gettext(language, verdict_error_message(r.error)),
        )


class PairOut(BaseModel):
    pane_a: int
    pane_b: int
    model_a: str
    model_b: str
    status: Literal["pending", "done", "error"]
    result: Literal["a_wins", "b_wins", "tie"] | None = Field(
        description="Both orders combined; orders that disagree are a tie (position bias cancels)."
    )
    agreed: bool | None

    @classmethod
    def of(cls, pair: Pair, models: tuple[str, ...]) -> PairOut:
        def model(position: int) -> str:
            return models[position] if position < len(models) else ""

        return cls(
            pane_a=pair.pane_a,
            pane_b=pair.pane_b,
            model_a=model(pair.pane_a),
            model_b=model(pair.pane_b),
            status=pair.status,
            result=pair.result,
            agreed=pair.agreed,
        )


class JudgementOut(BaseModel):
    id: str
    comparison_id: str
    judge_model: str
    rubric: str
    created_at: datetime
    finished: bool = Field(description="Every pair has a result or an error.")
    runs: list[JudgeRunOut] = Field(description="By pair, then order.")
    pairs: list[PairOut]
    turn: int = Field(default=1, description="The conversation turn judged (the latest when it started).")

    @classmethod
    def of(cls, view: JudgementView, language: str = DEFAULT_LANGUAGE) -> JudgementOut:
        """`language`: the request's, for the orders' errors (messages for people)."""
        j = view.judgement
        return cls(
            id=j.id,
            comparison_id=j.comparison_id,
            judge_model=j.judge_model,
            rubric=j.rubric,
            created_at=j.created_at,
            finished=view.finished,
            runs=[JudgeRunOut.of(r, language) for r in j.runs],
            pairs=[PairOut.of(p, view.models) for p in view.pairs],
            turn=j.turn,
        )
