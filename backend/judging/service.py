"""Start an LLM judge over a finished comparison, read its verdicts, edit a project's rubric.

Starting a judge is running comparisons: one one-pane comparison per (pair of panes, order),
created through ``ComparisonService.create_linked``, so the judge's runs are validated,
budgeted, rate-limited (all or nothing), queued, streamed and saved like any run. The
judgement and its rows are written before any of those runs is queued.

Who may do what: reading judgements and the rubric is for any member; starting a judge needs
the right to run comparisons (a viewer gets AccessDenied); editing the rubric is the owners'
(project management). Anyone else is told the comparison or project does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

from backend.auth.permissions import Action, Principal
from backend.db import judgements as repo
from backend.db.engine import Database
from backend.db.judgements import JudgementRecord, NewJudgeRun
from backend.db.models import RUBRIC_MAX_CHARS
from backend.db.records import FINAL_STATUSES, ComparisonRecord, RunRecord, RunStatus
from backend.i18n import N_, Message
from backend.judging.pairs import Pair, pairs_of
from backend.judging.prompts import DEFAULT_RUBRIC, judge_messages
from backend.judging.settle import settle
from backend.queue.messages import FinalEvent
from backend.services.access import Access
from backend.services.comparisons import ComparisonService
from backend.services.validation import InvalidComparison

JUDGE_MAX_TOKENS = 1024
JUDGE_TEMPERATURE = 0.0
TRACKED_RUNS = 10_000  # judge runs this process settles as soon as they finish (others: on read)


class InvalidJudgement(InvalidComparison):
    """A judge or rubric refused, with every problem keyed by field (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class RubricView:
    project_id: str
    text: str
    is_default: bool
    max_chars: int = RUBRIC_MAX_CHARS


@dataclass(frozen=True, slots=True)
class JudgementView:
    judgement: JudgementRecord  # with each judge run's live output while it streams
    pairs: tuple[Pair, ...]
    models: tuple[str, ...]  # the judged comparison's pane models, by position

    @property
    def finished(self) -> bool:
        return all(p.status != "pending" for p in self.pairs)


class JudgeService:
    def __init__(self, db: Database, comparisons: ComparisonService) -> None:
        self._db = db
        self._comparisons = comparisons
        self._access = Access(db)
        self._tracked: dict[str, None] = {}  # run ids of judge runs started here, oldest first

    # --- rubric ------------------------------------------------------------
    async def rubric(self, principal: Principal, project_id: str) -> RubricView:
        await self._access.require_project(principal, Action.READ, project_id)
        return await self._rubric(project_id)

    async def _rubric(self, project_id: str) -> RubricView:
        async with self._db.session() as session:
            text = await repo.project_rubric(session, project_id)
        return RubricView(project_id, text or DEFAULT_RUBRIC, text is None)

    async def set_rubric(self, principal: Principal, project_id: str, text: str) -> RubricView:
        """An empty rubric goes back to the default. InvalidJudgement (nothing saved) when too long."""
        await self._access.require_project(principal, Action.MANAGE, project_id)
        cleaned = _checked_rubric(text, "rubric")
        async with self._db.session() as session:
            await repo.save_rubric(session, project_id, cleaned or None, principal.user_id)
        return await self._rubric(project_id)

    # --- judging -------------------------------------------------------------
    async def start(
        self,
        principal: Principal,
        comparison_id: str,
        judge_model: str,
        rubric: str | None = None,
        turn: int | None = None,
    ) -> JudgementView:
        """Queue the judge's runs over every pair of the answers to ``turn`` (default: the
        latest), both orders.

        NotFound for a non-member, AccessDenied for a viewer; InvalidJudgement for a turn the
        comparison does not have, a turn still running or with fewer than two answers, an
        unknown or unavailable judge model or a rubric over its limit; RateLimitExceeded (a
        budget too) for runs over the user's limits. Nothing is saved or queued on any of these.
        """
        project_id = await self._access.require_comparison(principal, Action.RUN, comparison_id)
        record = await self._comparisons.get_unchecked(comparison_id)
        chosen = record.latest_turn if turn is None else turn
        errors = await self._comparison_errors(record, chosen)
        try:
            override = _checked_rubric(rubric, "rubric")
        except InvalidJudgement as exc:
            errors.update(exc.errors)
        if errors:
            raise InvalidJudgement(errors)
        rubric_text = override or (await self._rubric(project_id)).text
        answers = {r.position: r.output_text for r in _runs_of(record, chosen) if r.status == RunStatus.DONE}
        orders = [
            order for low, high in combinations(sorted(answers), 2) for order in ((low, high), (high, low))
        ]
        payloads = [
            _judge_input(record, chosen, project_id, judge_model, rubric_text, (answers[a], answers[b]))
            for a, b in orders
        ]
        created: list[str] = []

        async def link(records: list[ComparisonRecord]) -> None:
            async with self._db.session() as session:
                created.append(
                    await repo.create_judgement(
                        session,
                        comparison_id=comparison_id,
                        judge_model=judge_model,
                        rubric=rubric_text,
                        created_by=principal.user_id,
                        turn=chosen,
                        runs=[
                            NewJudgeRun(r.id, first, second)
                            for r, (first, second) in zip(records, orders, strict=True)
                        ],
                    )
                )
            self._track(run.id for r in records for run in r.runs)

        try:
            await self._comparisons.create_linked(
                principal, project_id, payloads, link, N_("This judge's runs")
            )
        except InvalidJudgement:
            raise
        except InvalidComparison as exc:
            raise InvalidJudgement(_judge_errors(exc.errors)) from None
        return await self._view(created[0], await self._comparisons.blind.record(principal, record))

    async def _comparison_errors(self, record: ComparisonRecord, turn: int) -> dict[str, str]:
        async with self._db.session() as session:
            if await repo.is_judge_comparison(session, record.id):
                return {
                    "comparison": N_("This comparison holds a judge's run; judge the comparison it judged.")
                }
        if isinstance(turn, bool) or not isinstance(turn, int) or not 1 <= turn <= record.latest_turn:
            return {
                "turn": Message(
                    "This comparison has turns 1 to {latest}; there is no turn {turn} to judge.",
                    latest=record.latest_turn,
                    turn=turn,
                )
            }
        runs = _runs_of(record, turn)
        unfinished = sum(1 for r in runs if r.status not in FINAL_STATUSES)
        if unfinished:
            return {
                "comparison": Message(
                    "This comparison is still running ({unfinished} of {panes} panes unfinished): "
                    "judge it once every pane has finished.",
                    unfinished=unfinished,
                    panes=len(runs),
                )
            }
        if sum(1 for r in runs if r.status == RunStatus.DONE) < 2:
            if turn == 1:
                return {
                    "comparison": N_(
                        "A judge compares answers: fewer than two panes of this comparison answered."
                    )
                }
            return {
                "comparison": Message(
                    "A judge compares answers: fewer than two panes of this comparison answered turn {turn}.",
                    turn=turn,
                )
            }
        return {}

    def _track(self, run_ids: Iterable[str]) -> None:
        for run_id in run_ids:
            self._tracked[run_id] = None
        while len(self._tracked) > TRACKED_RUNS:
            self._tracked.pop(next(iter(self._tracked)))

    async def run_finished(self, event: FinalEvent) -> None:
        """The event pump's hook: a judge run started here was saved; store its verdict now."""
        if event.run_id in self._tracked:
            self._tracked.pop(event.run_id, None)
            await settle(self._db, run_ids=[event.run_id])

    # --- read ----------------------------------------------------------------
    async def judgements(self, principal: Principal, comparison_id: str) -> list[JudgementView]:
        """The comparison's judgements, oldest first, with verdicts per order and per pair."""
        project_id = await self._access.require_comparison(principal, Action.READ, comparison_id)
        await settle(self._db, project_id=project_id)
        record = await self._comparisons.get(principal, comparison_id)  # labels while blind
        async with self._db.session() as session:
            found = await repo.judgements_of(session, [comparison_id])
        return [self._live(j, record) for j in found]

    async def _view(self, judgement_id: str, record: ComparisonRecord) -> JudgementView:
        async with self._db.session() as session:
            found = await repo.judgements_of(session, [record.id])
        return self._live(next(j for j in found if j.id == judgement_id), record)

    def _live(self, judgement: JudgementRecord, record: ComparisonRecord) -> JudgementView:
        runs = tuple(
            r if r.run is None else replace(r, run=self._comparisons.live_run(r.run)) for r in judgement.runs
        )
        live = replace(judgement, runs=runs)
        return JudgementView(live, tuple(pairs_of(live)), tuple(r.model for r in record.runs))


def _checked_rubric(text: str | None, field: str) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) > RUBRIC_MAX_CHARS:
        raise InvalidJudgement(
            {
                field: Message(
                    "The rubric is {length} characters long; at most {limit} are allowed.",
                    length=format(len(cleaned), ","),
                    limit=format(RUBRIC_MAX_CHARS, ","),
                )
            }
        )
    if "\x00" in cleaned:
        raise InvalidJudgement({field: N_("The rubric contains a NUL character.")})
    return cleaned


def _runs_of(record: ComparisonRecord, turn: int) -> list[RunRecord]:
    """The runs that answered ``turn`` (a follow-up sent to one pane has one)."""
    return [r for r in (*record.past_runs, *record.runs) if r.turn == turn]


def _judge_input(
    record: ComparisonRecord,
    turn: int,
    project_id: str,
    judge_model: str,
    rubric: str,
    answers: tuple[str, str],
) -> dict[str, Any]:
    """A one-pane comparison asking the judge about one order of one pair, as a raw payload (so
    a malformed judge model id is refused by the comparison's own validation)."""
    system_prompt, prompt = judge_messages(
        rubric=rubric,
        prompt=record.message_of(turn),  # the turn judged (issue 19)
        system_prompt=record.system_prompt,
        # what every pane was asked before it (a message sent to one pane is not common context)
        earlier=[record.prompt, *(t.message for t in record.turns if t.turn < turn and t.position is None)]
        if turn > 1
        else (),
        answer_a=answers[0],
        answer_b=answers[1],
    )
    return {
        "prompt": prompt,
        "system_prompt": system_prompt,
        "panes": [{"model": judge_model, "temperature": JUDGE_TEMPERATURE, "max_tokens": JUDGE_MAX_TOKENS}],
        "project_id": project_id,
    }


def _judge_errors(errors: dict[str, str]) -> dict[str, str]:
    """The comparison's field names, as a judge request names them."""
    renamed: dict[str, str] = {}
    for key, message in errors.items():
        if key.startswith("panes"):
            renamed.setdefault("judge_model", message)
        elif key == "prompt":
            renamed.setdefault(
                "comparison", Message("The answers are too long for this judge: {why}", why=message)
            )
        else:
            renamed.setdefault(key, message)
    return renamed
