"""Typed rows the state sends to the browser, and how they are built from records.

Only what a pane shows goes here: no keys, no other users' data.
"""

from __future__ import annotations

import dataclasses
import uuid

from backend.catalog import estimate_tokens, load_catalog
from backend.db.attempts import AttemptRecord
from backend.db.records import ComparisonRecord, RunRecord
from backend.i18n import N_, Message, in_every_language
from backend.providers.registry import ModelEntry, picker_reason
from backend.run_errors import run_error_message
from backend.run_options import VISION
from backend.runs_model import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, RunOutcome, final_outcome
from backend.services.blind import HIDDEN_ERROR, pane_label
from backend.services.metrics import RunFigures, format_cost, format_ms, format_rate
from backend.streaming.follow import RunChange
from backend.streaming.follower import short_key
from state.run_option_fields import show_saved_options

ACTIVE_STATUSES = ("queued", "running")


@dataclasses.dataclass
class ModelOption:
    id: str
    label: str
    family: str
    available: bool
    reason: str
    simulated: bool
    vision: bool = False  # reads images in the prompt
    caps: list[str] = dataclasses.field(default_factory=list)  # optional parameters it takes
    key_failed: bool = False  # the stored key it would run with failed its last test


@dataclasses.dataclass
class ExchangeRow:
    """An earlier turn of one pane's conversation: the user's message and this pane's answer."""

    turn: int
    message: str
    answer: str


@dataclasses.dataclass
class PaneRow:
    pane_id: str
    model: str
    label: str
    simulated: bool = False
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = DEFAULT_MAX_TOKENS
    run_id: str = ""
    run_key: str = ""  # "<run id>:<attempt>": which attempt of which run this pane follows
    live_key: str = ""  # its short form, the key of the browser's live store (see follower.short_key)
    status: str = "idle"  # idle | queued | running | done | error | cancelled
    error: str = ""
    # field name -> message: the person's invalid typing (state/pane_params.py) or the service's
    field_errors: dict[str, str] = dataclasses.field(default_factory=dict)
    typed: dict[str, str] = dataclasses.field(default_factory=dict)  # invalid text, shown as typed
    text: str = ""  # saved text only; live text travels outside the state
    ttft: str = ""
    tps: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    elapsed: str = ""
    cost: str = ""
    cached: bool = False  # replayed from the response cache
    original: str = ""  # on a replay: the original call's figures, shown next to the replay's
    expanded: bool = False
    masked: bool = False  # a blind pane not yet revealed: `model` is its label ("Model A")
    blind_label: str = ""  # a blind comparison's pane: its label, kept once the model shows
    # The model's optional parameters (backend/run_options.py) and their values as typed; a field
    # shows, and its value is sent, only when `caps` lists it. "" = not set.
    caps: list[str] = dataclasses.field(default_factory=list)
    show_options: bool = False
    top_p: str = ""
    seed: str = ""
    stop: str = ""  # one stop sequence a line
    presence_penalty: str = ""
    frequency_penalty: str = ""
    response_format: str = "text"
    json_schema: str = ""
    # A conversation (issue 19): the turns before the one shown live, and that turn's message
    # ("" on turn 1: the prompt above is its message).
    earlier: list[ExchangeRow] = dataclasses.field(default_factory=list)
    message: str = ""
    turn: int = 1
    attempt: int = 1  # which attempt of the run the pane shows (Retry makes another): 1-based
    # The attempt before the one shown (a Retry replaced it), as saved: to be looked at.
    earlier_status: str = ""
    earlier_error: str = ""
    earlier_text: str = ""
    tokens_sent: int = 0  # estimated input tokens of the prompt, shown when a run fails or is stopped


@dataclasses.dataclass
class HistoryRow:
    id: str
    title: str
    models: str
    created: str
    status: str
    version: str = ""  # "v2": the comparison is that version of a prompt (an accepted improvement)
    turns: int = 1  # turns of its conversation (issue 19)
    can_delete: bool = False  # the user edits in its project (editor or owner)


def option_from_entry(entry: ModelEntry) -> ModelOption:
    """A picker's row; a reason with figures (an address, an error) kept in every language, a
    fixed one as its msgid (the page shows either in its language, and again on a switch)."""
    capabilities = load_catalog().resolve(entry.id).capabilities
    return ModelOption(
        id=entry.id,
        label=entry.display_name,
        family=entry.family,
        available=entry.available,
        reason="" if entry.available else in_every_language(picker_reason(entry.family, entry.reason)),
        simulated=entry.simulated,
        vision=VISION in capabilities,
        caps=sorted(capabilities - {VISION}),
        key_failed=bool(entry.key_failed),
    )


def new_pane(
    model: str,
    options: list[ModelOption],
    temperature: float = DEFAULT_TEMPERATURE,
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> PaneRow:
    option = next((o for o in options if o.id == model), None)
    return PaneRow(
        pane_id=uuid.uuid4().hex[:8],
        model=model,
        label=option.label if option else model,
        simulated=model.startswith("simulated:"),
        temperature=temperature,
        max_tokens=max_tokens,
        caps=sorted(load_catalog().resolve(model).capabilities - {VISION}),
    )


def _label(model: str) -> str:
    info = load_catalog().get(model)
    return info.display_name if info else model


EMPTY_PROMPT = N_("(empty prompt)")


def prompt_title(text: str) -> str:
    """A prompt's first line as a list shows it (components/i18n.py's `said`): "(empty prompt)"
    in the page's language when there is none (never the prompt looked up in the catalogs)."""
    return text or in_every_language(Message(EMPTY_PROMPT))


def shown_error(stored: str) -> str:
    """A run's stored error (English) as the page keeps it: its own sentences with figures in
    every language, fixed ones as msgids, a provider's words as written (backend/run_errors.py)."""
    return in_every_language(run_error_message(stored))


def set_figures(
    row: PaneRow, figures: RunFigures, *, status: str, error: str = "", text: str | None = None
) -> None:
    row.status = status
    row.error = shown_error(error)
    row.ttft = format_ms(figures.ttft_ms)
    row.tps = format_rate(figures.tokens_per_second)
    row.tokens_in = figures.input_tokens
    row.tokens_out = figures.output_tokens
    row.elapsed = format_ms(figures.total_ms)
    row.cost = format_cost(figures.cost_usd)
    if text is not None:
        row.text = text


def original_figures(ttft_ms: float | None, total_ms: float | None, output_tokens: int) -> str:
    """The figures of the provider call a cached answer came from."""
    rate = RunFigures(ttft_ms, total_ms, 0, output_tokens, 0.0).tokens_per_second
    said = Message(
        N_("original call: TTFT {ttft} · {rate} · {total}"),
        ttft=format_ms(ttft_ms),
        rate=format_rate(rate),
        total=format_ms(total_ms),
    )
    return in_every_language(said)


def set_cached(row: PaneRow, cached: bool, ttft_ms: float | None, total_ms: float | None) -> None:
    row.cached = cached
    row.original = original_figures(ttft_ms, total_ms, row.tokens_out) if cached else ""


def pane_from_run(run: RunRecord) -> PaneRow:
    row = PaneRow(
        pane_id=run.id[:8],
        model=run.model,
        label=_label(run.model),
        simulated=run.model.startswith("simulated:"),
        temperature=run.params.temperature,
        max_tokens=run.params.max_tokens,
        run_id=run.id,
        run_key=f"{run.id}:{run.attempt}",
        live_key=short_key(f"{run.id}:{run.attempt}"),
        caps=sorted(load_catalog().resolve(run.model).capabilities - {VISION}),
        attempt=run.attempt + 1,
    )
    show_saved_options(row, run.params)
    set_outcome(row, run.outcome, text=run.output_text)
    return row


def panes_from_record(record: ComparisonRecord) -> list[PaneRow]:
    rows = [pane_from_run(run) for run in record.runs]
    sent = estimate_tokens(record.system_prompt + "\n" + record.prompt)  # as validation estimates it
    for run, row in zip(record.runs, rows, strict=True):
        row.turn = run.turn
        row.message = record.message_of(run.turn) if run.turn > 1 else ""
        row.earlier = [
            ExchangeRow(turn=r.turn, message=record.message_of(r.turn), answer=r.output_text)
            for r in record.pane_runs(run.position)
            if r.turn < run.turn
        ]
        row.tokens_sent = sent
        if record.blind:  # revealed, the pane still says which label the person knew it by
            row.blind_label = pane_label(run.position)
        if record.masked:
            row.masked = True
            _hide_identity(row)
    return rows


def show_earlier_attempts(rows: list[PaneRow], attempts: dict[str, list[AttemptRecord]]) -> None:
    """Each retried pane's attempt before the one it shows, under "Show attempt N"."""
    for row in rows:
        if kept := attempts.get(row.run_id):
            last = kept[-1]
            row.earlier_status, row.earlier_text = last.status, last.output_text
            row.earlier_error = (
                HIDDEN_ERROR if row.masked and last.error else shown_error(last.error)
            )  # names no model


def _hide_identity(row: PaneRow) -> None:
    """What would give a blind pane's model away stays hidden (backend/services/blind.py)."""
    row.cost = N_("cost hidden")
    row.tokens_in = 0
    if row.error:
        row.error = HIDDEN_ERROR


def set_outcome(row: PaneRow, outcome: RunOutcome, *, text: str | None = None) -> None:
    """Show a run's outcome: status, error, figures, whether it was a cache replay."""
    figures = RunFigures(
        outcome.ttft_ms, outcome.total_ms, outcome.input_tokens, outcome.output_tokens, outcome.cost_usd
    )
    set_figures(row, figures, status=outcome.status, error=outcome.error, text=text)
    set_cached(row, outcome.cache_hit, outcome.original_ttft_ms, outcome.original_total_ms)
    if row.masked:
        _hide_identity(row)


def apply_live(row: PaneRow, live: RunChange) -> None:
    """Copy a run's status (and, once it has ended, its final figures) into its row."""
    if live.final is None:
        row.status = live.status
        return
    set_outcome(row, final_outcome(live.final, row.model))


def apply_saved(row: PaneRow, run: RunRecord) -> None:
    """A run the hub no longer follows (e.g. after a restart): how the database has it."""
    row.status, row.error, row.text = run.status, shown_error(run.error), run.output_text
    if row.masked:
        _hide_identity(row)


@dataclasses.dataclass
class ProjectRow:
    id: str
    name: str
    role: str
    owner_name: str
    n_comparisons: int
    can_manage: bool = False
    personal: bool = False  # the owner's Personal project: it cannot be renamed or deleted


@dataclasses.dataclass
class MemberRow:
    email: str
    display_name: str
    role: str
    pending: bool = False


@dataclasses.dataclass
class ProjectChoice:
    """A project new comparisons can go to (the user may run in it)."""

    id: str
    name: str
