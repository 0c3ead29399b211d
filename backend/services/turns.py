"""Follow-up turns (issue 19): after a comparison's panes finish, one more message to every pane
(each model goes on with its own conversation: the earlier messages and its own answers) or to
one pane. A follow-up is checked as a new comparison would be (role, models still available,
the whole conversation within each model's context window, budget, rate limits), saved as the
next turn with one queued run per pane it goes to, and queued through the same path as any run
(ComparisonService.enqueue: the queue, the workers, leases, the response cache)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from backend.auth.permissions import Action, Principal
from backend.catalog import estimate_tokens, image_tokens, load_catalog
from backend.db.engine import Database
from backend.db.records import ComparisonRecord, RunRecord
from backend.db.turns import TurnConflict, holds_judge_runs, save_turn
from backend.files.images import images_of
from backend.i18n import N_, Message
from backend.services.access import Access
from backend.services.comparisons import ComparisonService
from backend.services.validation import (
    DEFAULT_CONTEXT_WINDOW,
    MAX_PROMPT_CHARS,
    ComparisonInput,
    InvalidComparison,
    PaneInput,
    context_message,
)

MAX_TURNS = 50  # a conversation this long is far past any use a side-by-side comparison has


class TurnInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=MAX_PROMPT_CHARS, description="The follow-up message.")
    position: int | None = Field(
        default=None,
        ge=0,
        description="Send to this pane only (its position, 0-based); null: to every pane.",
    )
    run_id: str | None = Field(
        default=None,
        max_length=64,
        description="Send to the pane of this run only (another way to name one pane).",
    )

    @field_validator("message")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise PydanticCustomError("nul_character", "Text must not contain NUL (\\x00) characters.")
        return value


@dataclass(frozen=True, slots=True)
class PaneTurn:
    """What a follow-up asks of one pane: its conversation so far and its new run's model."""

    run: RunRecord
    history: list[tuple[str, str]]


def parse_turn(payload: object) -> TurnInput:
    if isinstance(payload, TurnInput):
        return payload
    try:
        return TurnInput.model_validate(payload)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "body"
            errors.setdefault(field, err["msg"])
        raise InvalidComparison(errors) from None


def conversation_text(record: ComparisonRecord, run: RunRecord, message: str) -> str:
    """What a pane's model reads for a follow-up after ``run`` (its latest answer), system
    prompt aside: every earlier message with this pane's answers, then the new message."""
    earlier = [text for pair in record.history_of(run) for text in pair]
    return "\n".join([*earlier, record.message_of(run.turn), run.output_text, message])


def conversation_tokens(record: ComparisonRecord, run: RunRecord, message: str) -> int:
    """The estimate the context check uses (as validation estimates a prompt), the comparison's
    images included: they go with every turn's request."""
    images = len(images_of(record.settings)) * image_tokens(run.model)
    return estimate_tokens(record.system_prompt + "\n" + conversation_text(record, run, message)) + images


class TurnService:
    def __init__(self, db: Database, comparisons: ComparisonService) -> None:
        self._db = db
        self._comparisons = comparisons
        self._access = Access(db)

    async def send(self, principal: Principal, comparison_id: str, payload: object) -> ComparisonRecord:
        """Save and queue the next turn; answers the comparison as the principal may see it.
        Raises NotFound, AccessDenied (viewers), InvalidComparison (422), BudgetExceeded or
        RateLimitExceeded before anything is written."""
        data = parse_turn(payload)
        await self._access.require_comparison(principal, Action.RUN, comparison_id)
        record = await self._comparisons.get_unchecked(comparison_id)
        async with self._db.session() as session:
            if await holds_judge_runs(session, comparison_id):
                raise InvalidComparison({"message": N_("A judge's verdict takes no follow-up.")})
        targets = self._targets(record, data)
        checks = self._checked_inputs(record, targets, data.message)
        for check in checks:  # models still available (a key may have gone since the first turn)
            try:
                await self._comparisons.validate(check, principal)
            except InvalidComparison as exc:
                raise InvalidComparison({_turn_field(k): v for k, v in exc.errors.items()}) from None
        # The images go with every turn: the budget and the token rate limit count them (by
        # number only; validation above must not look them up among this sender's uploads).
        if images := [ref.key for ref in images_of(record.settings)]:
            checks = [check.model_copy(update={"images": images}) for check in checks]
        # The comparison's owner pays (its runs use the owner's keys), as for a retry.
        await self._comparisons.admit_many(principal, checks, N_("This follow-up"), record.user_id)
        position = targets[0].position if len(targets) == 1 and len(record.runs) > 1 else None
        try:
            _, runs = await save_turn(
                self._db,
                comparison_id=comparison_id,
                user_id=principal.user_id,
                turn=record.latest_turn + 1,
                message=data.message,
                position=position,
                previous=targets,
            )
        except TurnConflict:
            raise InvalidComparison({"message": N_("Another follow-up was just sent; reload.")}) from None
        saved = await self._comparisons.get_unchecked(comparison_id)
        await self._comparisons.enqueue(saved, runs)
        return await self._comparisons.blind.record(principal, saved)

    def _targets(self, record: ComparisonRecord, data: TurnInput) -> list[RunRecord]:
        errors: dict[str, str] = {}
        if not data.message.strip():
            errors["message"] = N_("Enter a message.")
        if any(not run.is_final for run in record.runs):
            errors["message"] = N_("Wait until every pane has finished before sending a follow-up.")
        if record.latest_turn >= MAX_TURNS:
            errors["message"] = Message("A comparison holds at most {n} turns.", n=MAX_TURNS)
        targets = list(record.runs)
        if data.run_id is not None:
            targets = [r for r in record.runs if r.id == data.run_id]
            if not targets:
                errors["run_id"] = N_("No such pane in this comparison.")
        if data.position is not None:
            targets = [r for r in targets if r.position == data.position]
            if not targets:
                errors["position"] = N_("No such pane in this comparison.")
        if errors:
            raise InvalidComparison(errors)
        return targets

    def _checked_inputs(
        self, record: ComparisonRecord, targets: list[RunRecord], message: str
    ) -> list[ComparisonInput]:
        """One input per pane, its prompt the whole conversation it sends, so the budget and the
        token rate limit count all of it; refused when a conversation outgrows its context."""
        catalog = load_catalog()
        inputs: list[ComparisonInput] = []
        for run in targets:
            tokens = conversation_tokens(record, run, message)
            info = catalog.get(run.model)
            window = info.context_window if info else DEFAULT_CONTEXT_WINDOW
            if tokens + run.params.max_tokens > window:
                message_ = context_message(
                    tokens,
                    len(images_of(record.settings)),
                    image_tokens(run.model),
                    run.params.max_tokens,
                    info.display_name if info else run.model,
                    window,
                    "conversation",
                )
                raise InvalidComparison({"message": message_})
            conversation = conversation_text(record, run, message)
            pane = PaneInput(
                model=run.model,
                temperature=run.params.temperature,
                max_tokens=run.params.max_tokens,
                seed=run.params.seed,
            )
            inputs.append(
                ComparisonInput.model_construct(
                    prompt=conversation,
                    system_prompt=record.system_prompt,
                    panes=[pane],
                    project_id=record.project_id,
                    use_cache=False,
                    blind=False,
                    battle=False,
                )
            )
        return inputs


def _turn_field(key: str) -> str:
    """A comparison check's field as a follow-up's: its prompt is the message."""
    return "message" if key in ("prompt", "system_prompt") else key
