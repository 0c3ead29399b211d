"""The Judge panel of the comparison on screen: start an LLM judge, follow its runs, show the
verdicts per order and each pair's result; the project's rubric (owners save it).

Like the vote panel, it is mounted anew for each finished comparison (keyed on its id) and
reads the comparison id from CompareState on the server, never from the browser. The judge
service decides who may do what (a viewer reads verdicts but may not start a judge; only
owners save the rubric) and masks a blind comparison's models as "Model A" … until the person
votes or reveals; the panel only mirrors the role to hide controls that would be refused.

While a judgement is unfinished, the background `follow` event re-reads the judgements every
POLL_SECONDS (the judge's runs stream into the live store; each read carries their live text)
and holds the state lock only to write what it read.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, Sequence

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import AccessDenied, Action, Principal, allowed
from backend.db.judgements import JudgeRunRecord
from backend.db.models import RUBRIC_MAX_CHARS
from backend.i18n import (
    N_,
    Message,
    in_every_language,
    joined_in_every_language,
    utc_moment_in_every_language,
)
from backend.judging.pairs import Pair
from backend.judging.service import InvalidJudgement, JudgementView
from backend.judging.verdicts import pane_winner, verdict_error_message
from backend.services.access import NotFound
from backend.services.blind import pane_label
from backend.services.comparisons import RateLimitExceeded
from state.compare import CompareState
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized, localized_all
from state.session_guard import BoundSocket

DEFAULT_JUDGE = "simulated:judge"
POLL_SECONDS = 0.5
RUBRIC_MAX_SHOWN = f"{RUBRIC_MAX_CHARS:,}"  # the page's "{count} of {max} characters"
GENERAL = "comparison"  # errors not about the model or the rubric go under this key


@dataclasses.dataclass
class JudgeOrderRow:
    key: str
    shown: str  # "A: Pane 1 (simulated:swift) · B: Pane 2 (…)": the rationale names them A and B
    status: str  # the judge run's status: queued, running, done, error, cancelled
    verdict: str  # "Prefers Pane 2 (simulated:ponder)", "Tie", or "" until a verdict is stored
    rationale: str
    error: str
    text: str  # the judge's output while it streams; "" once the verdict is stored


@dataclasses.dataclass
class JudgePairRow:
    key: str
    title: str  # "Pane 1 (simulated:swift) vs Pane 2 (simulated:ponder)"
    status: str  # pending | done | error
    result: str  # "Pane 2 (simulated:ponder) wins", "Tie", "Judging…", "No verdict"
    note: str  # whether the two orders agreed
    orders: list[JudgeOrderRow] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class JudgementRow:
    id: str
    heading: str  # "simulated:judge · 2026-12-04 17:51 UTC"
    finished: bool
    status: str  # "Judging…" | "Finished"
    rubric_note: str  # "Project rubric" or "Rubric edited for this judgement"
    pairs: list[JudgePairRow] = dataclasses.field(default_factory=list)
    turn: int = 1  # the conversation turn judged


def _names(models: Sequence[str]) -> list[str]:
    """How the panel names each pane: its label while the comparison is blind to this person
    (the service sends labels then), else its position and model."""
    if models and all(m == pane_label(i) for i, m in enumerate(models)):
        return list(models)
    return [Message("Pane {n} ({model})", n=i + 1, model=m) for i, m in enumerate(models)]


def _name(names: list[str], position: int) -> str:
    return names[position] if position < len(names) else Message("Pane {n}", n=position + 1)


# Fixed texts stay English msgids, texts with a pane's name in them are Messages kept in every
# language: the page shows both in its language, and again when the person switches it.
def _order_row(r: JudgeRunRecord, names: list[str]) -> JudgeOrderRow:
    status = "error" if r.run is None else r.run.status
    verdict = ""
    if r.winner == "tie":
        verdict = N_("Tie")
    elif r.winner is not None:
        preferred = pane_winner(r.winner, r.first_pane, r.second_pane)
        if preferred is not None:
            verdict = in_every_language(Message("Prefers {pane}", pane=_name(names, preferred)))
    settled = r.settled_at is not None
    return JudgeOrderRow(
        key=r.id,
        shown=in_every_language(
            Message("A: {a} · B: {b}", a=_name(names, r.first_pane), b=_name(names, r.second_pane))
        ),
        status=status,
        verdict=verdict,
        rationale=r.rationale,
        error=in_every_language(verdict_error_message(r.error)),  # shown in the page's language
        text="" if settled or r.run is None else r.run.output_text,
    )


def _pair_row(pair: Pair, names: list[str]) -> JudgePairRow:
    a, b = _name(names, pair.pane_a), _name(names, pair.pane_b)
    if pair.status == "pending":
        result, note = N_("Judging…"), ""
    elif pair.status == "error" or pair.result is None:
        result, note = N_("No verdict"), N_("An order has no verdict (see below); this pair is left out.")
    else:
        winner = {"a_wins": a, "b_wins": b}.get(pair.result)
        result = N_("Tie") if winner is None else in_every_language(Message("{pane} wins", pane=winner))
        note = (
            N_("Both orders agree.")
            if pair.agreed
            else N_("The two orders disagree, so the pair counts as a tie (position bias cancels).")
        )
    orders = [_order_row(r, names) for r in (pair.a_first, pair.b_first) if r is not None]
    return JudgePairRow(
        key=f"{pair.pane_a}-{pair.pane_b}",
        title=in_every_language(Message("{a} vs {b}", a=a, b=b)),
        status=pair.status,
        result=result,
        note=note,
        orders=orders,
    )


def judgement_row(view: JudgementView, project_rubric: str) -> JudgementRow:
    names = _names(view.models)
    j = view.judgement
    return JudgementRow(
        id=j.id,
        heading=f"{j.judge_model} · " + utc_moment_in_every_language(j.created_at),
        finished=view.finished,
        status=N_("Finished") if view.finished else N_("Judging…"),
        rubric_note=N_("Project rubric")
        if j.rubric.strip() == project_rubric.strip()
        else N_("Edited rubric"),
        pairs=[_pair_row(p, names) for p in view.pairs],
        turn=j.turn,
    )


class JudgeState(rx.State):
    judgements: rx.Field[list[JudgementRow]] = rx.field(default_factory=list)  # newest first
    judge_model: rx.Field[str] = rx.field(DEFAULT_JUDGE)
    rubric: rx.Field[str] = rx.field("")  # the textarea: the project's rubric until edited
    project_rubric: rx.Field[str] = rx.field("")  # the rubric the project's judges use now
    rubric_is_default: rx.Field[bool] = rx.field(True)  # the project uses the default rubric
    can_run: rx.Field[bool] = rx.field(False)  # may start a judge (editors and owners)
    can_manage: rx.Field[bool] = rx.field(False)  # may save the project's rubric (owners)
    errors: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    notice: rx.Field[str] = rx.field("")
    turn: rx.Field[str] = rx.field("")  # the conversation turn to judge ("1", "2" …)
    turn_options: rx.Field[list[str]] = rx.field(default_factory=list)  # every turn, "1" first
    _comparison_id: str = ""
    _project_id: str = ""
    _generation: int = 0  # a poll of an earlier mount stops when this moves on

    @rx.var(cache=True)
    def judging(self) -> bool:
        return any(not j.finished for j in self.judgements)

    @rx.var(cache=True)
    def rubric_edited(self) -> bool:
        return self.rubric.strip() != self.project_rubric.strip()

    @rx.var(cache=True)
    def rubric_note(self) -> str:
        if self.rubric.strip() != self.project_rubric.strip():
            return N_("Edited: this judgement only, unless an owner saves it as the project's rubric.")
        return N_("The default rubric.") if self.rubric_is_default else N_("This project's rubric.")

    @rx.var(cache=True)
    def rubric_count(self) -> str:
        return f"{len(self.rubric.strip()):,}"  # the page says "{count} of {max} characters"

    @rx.var(cache=True)
    def model_error(self) -> str:
        return self.errors.get("judge_model", "")

    @rx.var(cache=True)
    def rubric_error(self) -> str:
        return self.errors.get("rubric", "")

    @rx.var(cache=True)
    def general_error(self) -> str:
        return joined_in_every_language(
            v for k, v in self.errors.items() if k not in ("judge_model", "rubric")
        )

    # --- loading -------------------------------------------------------------
    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        """The judgements of the comparison CompareState shows, the rubric and my rights."""
        self._generation += 1
        compare = await self.get_state(CompareState)
        self._comparison_id = compare.comparison_id
        available = [m.id for m in compare.models if m.available]
        if self.judge_model not in available and available:
            self.judge_model = DEFAULT_JUDGE if DEFAULT_JUDGE in available else available[0]
        self.errors, self.notice, self.judgements = {}, "", []
        self.can_run = self.can_manage = False
        if not self._comparison_id:
            return None
        rt = runtime.current()
        try:
            record = await rt.comparisons.get(user, self._comparison_id)
            role = await rt.comparisons.role_for(user, self._comparison_id)
            rubric = await rt.judges.rubric(user, record.project_id)
            views = await rt.judges.judgements(user, self._comparison_id)
        except NotFound as exc:
            self.errors = {GENERAL: await localized(self, str(exc))}
            return None
        self._project_id = record.project_id
        self.turn = str(record.latest_turn)  # the latest turn unless another is picked
        self.turn_options = [str(n) for n in range(1, record.latest_turn + 1)]
        self.can_run, self.can_manage = allowed(role, Action.RUN), allowed(role, Action.MANAGE)
        self.project_rubric, self.rubric_is_default, self.rubric = rubric.text, rubric.is_default, rubric.text
        self._show(views)
        return JudgeState.follow if self.judging else None

    def _show(self, views: Sequence[JudgementView]) -> None:
        self.judgements = [judgement_row(v, self.project_rubric) for v in reversed(views)]

    # --- editing -------------------------------------------------------------
    @event
    def set_judge_model(self, value: str) -> None:
        self.judge_model = value
        self.errors.pop("judge_model", None)

    @event
    def set_turn(self, value: str) -> None:
        self.turn = value
        self.errors.pop("turn", None)

    @event
    def set_rubric(self, value: str) -> None:
        self.rubric = value
        self.errors.pop("rubric", None)
        self.notice = ""

    # --- acting --------------------------------------------------------------
    @event
    @with_user
    async def start(self, user: Principal) -> Followup:
        """Queue the judge's runs over every pair of answers, both orders; then follow them."""
        if not self._comparison_id or self.judging:
            return None
        override = self.rubric if self.rubric_edited else None
        self.notice = ""
        try:
            view = await runtime.current().judges.start(
                user,
                self._comparison_id,
                self.judge_model,
                override,
                int(self.turn) if self.turn.isdigit() else None,
            )
        except InvalidJudgement as exc:
            self.errors = await localized_all(self, dict(exc.errors))
            return None
        except RateLimitExceeded as exc:
            self.errors = {GENERAL: await localized(self, exc.message)}
            return None
        except (AccessDenied, NotFound) as exc:
            self.errors = {GENERAL: await localized(self, str(exc))}
            return None
        self.errors = {}
        self.judgements = [judgement_row(view, self.project_rubric), *self.judgements]
        self._generation += 1  # one poll at a time: an earlier one stops
        return JudgeState.follow

    @event
    @with_user
    async def save_rubric(self, user: Principal) -> Followup:
        """Owners: the text in the box becomes the project's rubric (empty: the default)."""
        if not self._project_id:
            return None
        try:
            saved = await runtime.current().judges.set_rubric(user, self._project_id, self.rubric)
        except InvalidJudgement as exc:
            self.errors, self.notice = await localized_all(self, dict(exc.errors)), ""
            return None
        except (AccessDenied, NotFound) as exc:
            self.errors, self.notice = {GENERAL: await localized(self, str(exc))}, ""
            return None
        self.project_rubric, self.rubric_is_default, self.rubric = saved.text, saved.is_default, saved.text
        self.errors = {}
        self.notice = (
            N_("Default rubric restored.") if saved.is_default else N_("Rubric saved for this project.")
        )
        return None

    @event(background=True)
    @with_user
    async def follow(self, user: Principal) -> AsyncGenerator[EventSpec, None]:
        """Re-read the judgements until every one has finished (or the panel moved on)."""
        async with self:
            generation, comparison_id = self._generation, self._comparison_id
            socket = BoundSocket.of(self)  # writes reach this connection only
        judges = runtime.current().judges
        while comparison_id:
            await asyncio.sleep(POLL_SECONDS)
            try:
                views = await judges.judgements(user, comparison_id)
            except NotFound:
                return
            if not socket.holds_the_tab():
                return
            async with self:
                if self._generation != generation:
                    return
                self._show(views)
                if not self.judging:
                    return
        return
        yield  # an async generator, as @with_user's background form needs
