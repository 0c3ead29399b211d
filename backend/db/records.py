"""Plain frozen records returned by the repository.

Callers get these instead of ORM objects, so nothing ever lazy-loads from a
closed session. ``settings`` dicts are copies owned by the record; a run's ``params`` and
its outcome's fields are declared once in backend/runs_model.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from backend.runs_model import OUTCOME_FIELDS, RunOutcome, RunParams, tokens_per_second

if TYPE_CHECKING:
    from backend.db.models import Comparison, Run


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"


FINAL_STATUSES: frozenset[str] = frozenset({RunStatus.DONE, RunStatus.ERROR, RunStatus.CANCELLED})
ACTIVE_STATUSES: frozenset[str] = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
PROMPT_LINE_CHARS = 120
INTERRUPTED = "interrupted"
"""``error_kind`` of runs failed by :func:`fail_unfinished_runs`."""


@dataclass(frozen=True, slots=True)
class NewRun:
    """One pane of a comparison to be created."""

    model: str
    provider: str
    params: RunParams = field(default_factory=RunParams)


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    email: str
    display_name: str
    created_at: datetime
    default_project_id: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    comparison_id: str
    position: int
    provider: str
    model: str
    params: RunParams
    attempt: int
    status: str
    output_text: str
    error: str
    error_kind: str
    ttft_ms: float | None
    total_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cache_hit: bool
    created_at: datetime
    finished_at: datetime | None
    original_ttft_ms: float | None = None
    """On a cache replay: time to first token of the call that produced the answer."""
    original_total_ms: float | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def outcome(self) -> RunOutcome:
        """Its latest attempt's result (the empty queued one until that attempt ended)."""
        return RunOutcome(**{name: getattr(self, name) for name in OUTCOME_FIELDS})

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.ttft_ms, self.total_ms, self.output_tokens)


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    id: str
    project_id: str
    user_id: str
    prompt: str
    system_prompt: str
    settings: dict[str, Any]
    created_at: datetime
    runs: tuple[RunRecord, ...]
    """Ordered by ``position`` (pane order)."""
    masked: bool = False
    """A blind comparison as someone sees it before voting or revealing: each run's model is
    its pane label and what would identify it (provider, cost, input tokens, error text) is
    blank (backend/services/blind.py)."""

    @property
    def blind(self) -> bool:
        return bool(self.settings.get("blind", False))


@dataclass(frozen=True, slots=True)
class ComparisonSummary:
    """One row of the history list."""

    id: str
    project_id: str
    prompt_first_line: str
    models: tuple[str, ...]
    """Full model ids in pane order."""
    created_at: datetime
    n_runs: int
    n_done: int
    n_error: int
    n_cancelled: int
    n_active: int
    """Runs still queued or running."""
    blind: bool = False
    masked: bool = False
    """As in ComparisonRecord: ``models`` holds pane labels."""


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: tuple[ComparisonSummary, ...]
    total: int
    """Comparisons matching the filter, over all pages."""
    page: int
    """1-based."""
    page_size: int

    @property
    def n_pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.n_pages


# --- converters from ORM rows -------------------------------------------------


def run_record(run: Run) -> RunRecord:
    return RunRecord(
        id=run.id,
        comparison_id=run.comparison_id,
        position=run.position,
        provider=run.provider,
        model=run.model,
        params=RunParams.of(run.params),
        attempt=run.attempt,
        status=run.status,
        output_text=run.output_text,
        error=run.error,
        error_kind=run.error_kind,
        ttft_ms=run.ttft_ms,
        total_ms=run.total_ms,
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        cost_usd=run.cost_usd,
        cache_hit=run.cache_hit,
        created_at=run.created_at,
        finished_at=run.finished_at,
        original_ttft_ms=run.original_ttft_ms,
        original_total_ms=run.original_total_ms,
    )


def comparison_record(comparison: Comparison) -> ComparisonRecord:
    return ComparisonRecord(
        id=comparison.id,
        project_id=comparison.project_id,
        user_id=comparison.user_id,
        prompt=comparison.prompt,
        system_prompt=comparison.system_prompt,
        settings=dict(comparison.settings or {}),
        created_at=comparison.created_at,
        runs=tuple(run_record(r) for r in sorted(comparison.runs, key=lambda r: r.position)),
    )


def prompt_first_line(prompt: str, limit: int = PROMPT_LINE_CHARS) -> str:
    """The first non-blank line, stripped, cut to ``limit`` chars with an ellipsis."""
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
