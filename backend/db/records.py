"""Plain frozen records returned by the repository.

Callers get these instead of ORM objects, so nothing ever lazy-loads from a
closed session. ``settings`` dicts are copies owned by the record; a run's ``params`` and
its outcome's fields are declared once in backend/runs_model.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from backend.runs_model import OUTCOME_FIELDS, RunOutcome, RunParams, tokens_per_second

if TYPE_CHECKING:
    from sqlalchemy import Row

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
    turn: int = 1
    """The conversation turn this run answers (1: the comparison's prompt)."""

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
class TurnRecord:
    """A follow-up message of a comparison's conversation (turn 2 on; turn 1 is the prompt)."""

    turn: int
    message: str
    position: int | None
    """None: sent to every pane; else the one pane it was sent to."""
    created_at: datetime


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
    """Each pane's latest run (the answer to the latest turn it took part in), in pane order."""
    masked: bool = False
    """A blind comparison as someone sees it before voting or revealing: each run's model is
    its pane label and what would identify it (provider, cost, input tokens, error text) is
    blank (backend/services/blind.py)."""
    past_runs: tuple[RunRecord, ...] = ()
    """The panes' earlier answers (turns before each pane's latest), by position then turn."""
    turns: tuple[TurnRecord, ...] = ()
    """The follow-up messages, turn 2 on, in order."""

    @property
    def blind(self) -> bool:
        return bool(self.settings.get("blind", False))

    @property
    def latest_turn(self) -> int:
        return self.turns[-1].turn if self.turns else 1

    def message_of(self, turn: int) -> str:
        """The user's message of a turn (turn 1: the prompt)."""
        return self.prompt if turn == 1 else next(t.message for t in self.turns if t.turn == turn)

    def pane_runs(self, position: int) -> list[RunRecord]:
        """One pane's answers, oldest turn first."""
        runs = [r for r in (*self.past_runs, *self.runs) if r.position == position]
        return sorted(runs, key=lambda r: r.turn)

    def history_of(self, run: RunRecord) -> list[tuple[str, str]]:
        """(user message, this pane's answer) of each earlier turn the run's pane answered: what
        its model is sent before the run's own message. A failed or stopped answer is sent as
        far as it got."""
        earlier = [r for r in self.pane_runs(run.position) if r.turn < run.turn]
        return [(self.message_of(r.turn), r.output_text) for r in earlier]


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
    n_turns: int = 1
    """Turns of its conversation (1: the prompt only)."""


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


def run_record(run: Run | Row[Any]) -> RunRecord:
    """From the ORM's object or a Core row of the runs table (the same attribute names)."""
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
        turn=run.turn,
    )


def comparison_record(
    comparison: Comparison | Row[Any],
    runs: Sequence[Run | Row[Any]],
    turns: tuple[TurnRecord, ...] = (),
) -> ComparisonRecord:
    """From the ORM's objects or Core rows of the comparisons and runs tables (all its runs)."""
    ordered = sorted(runs, key=lambda r: (r.position, r.turn))
    latest = {r.position: r for r in ordered}  # the last turn of each position wins
    return ComparisonRecord(
        id=comparison.id,
        project_id=comparison.project_id,
        user_id=comparison.user_id,
        prompt=comparison.prompt,
        system_prompt=comparison.system_prompt,
        settings=dict(comparison.settings or {}),
        created_at=comparison.created_at,
        runs=tuple(run_record(latest[p]) for p in sorted(latest)),
        past_runs=tuple(run_record(r) for r in ordered if latest[r.position] is not r),
        turns=turns,
    )


def prompt_first_line(prompt: str, limit: int = PROMPT_LINE_CHARS) -> str:
    """The first non-blank line, stripped, cut to ``limit`` chars with an ellipsis."""
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
