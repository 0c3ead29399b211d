""" "Improve prompt" on the comparison on screen, and the versions of its prompt.

A chosen model proposes a revised prompt and system prompt with a reason (nothing saved);
"Accept" runs it on the same panes as the prompt's next version and opens that comparison
(`/?c=<id>`, as Run does); "Discard" drops it. Mounted anew for each finished comparison,
reading its id from CompareState on the server. The prompt service decides who may propose
and accept (editors and owners); any member reads the versions.

While a comparison is blind to this person (models not revealed), the panel offers no
improvement and lists no versions: both would name the models (the versions' win rates are
per model; an accepted version runs the same models in the open).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import AccessDenied, Action, Principal, allowed
from backend.i18n import in_every_language, joined_in_every_language
from backend.prompting.service import VersionView
from backend.services.access import NotFound
from backend.services.comparisons import InvalidComparison, RateLimitExceeded
from backend.services.metrics import format_cost
from state.compare import CompareState
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized
from state.rows import prompt_title
from state.session_guard import BoundSocket

DEFAULT_PROPOSER = "simulated:judge"
PROMPT_HEAD_CHARS = 140


@dataclasses.dataclass
class VersionRow:
    comparison_id: str
    label: str  # "v2"
    current: bool  # the comparison on screen
    prompt: str  # the prompt's start, on one line
    reason: str
    votes: int
    vote_win_rates: str  # "simulated:swift 67% · simulated:ponder 33%", or "—"
    judge_win_rates: str
    cost: str


def _rates(rates: dict[str, float]) -> str:
    return " · ".join(f"{m} {r:.0%}" for m, r in sorted(rates.items(), key=lambda kv: -kv[1])) or "—"


def version_row(view: VersionView, current_id: str) -> VersionRow:
    v = view.record
    head = " ".join(v.prompt.split())  # one line: a revision often adds lines at the end
    if len(head) > PROMPT_HEAD_CHARS:
        head = head[: PROMPT_HEAD_CHARS - 1] + "…"
    return VersionRow(
        comparison_id=v.comparison_id,
        label=f"v{v.version}",
        current=v.comparison_id == current_id,
        prompt=prompt_title(head),
        reason=v.reason,
        votes=view.votes,
        vote_win_rates=_rates(view.vote_win_rates),
        judge_win_rates=_rates(view.judge_win_rates),
        cost=format_cost(v.cost_usd),
    )


class ImproveState(rx.State):
    model: rx.Field[str] = rx.field(DEFAULT_PROPOSER)
    can_run: rx.Field[bool] = rx.field(False)  # may propose and accept (editors and owners)
    masked: rx.Field[bool] = rx.field(False)  # the comparison is blind to this person
    proposing: rx.Field[bool] = rx.field(False)
    has_proposal: rx.Field[bool] = rx.field(False)
    proposed_prompt: rx.Field[str] = rx.field("")
    proposed_system_prompt: rx.Field[str] = rx.field("")
    reason: rx.Field[str] = rx.field("")
    versions: rx.Field[list[VersionRow]] = rx.field(default_factory=list)
    version: rx.Field[int] = rx.field(0)  # the comparison on screen is this version (0: none)
    error: rx.Field[str] = rx.field("")
    _comparison_id: str = ""
    _proposed_by: str = ""  # the model that proposed what is shown

    # --- loading -------------------------------------------------------------
    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        compare = await self.get_state(CompareState)
        self._comparison_id, self.masked = compare.comparison_id, compare.masked
        available = [m.id for m in compare.models if m.available]
        if self.model not in available and available:
            self.model = DEFAULT_PROPOSER if DEFAULT_PROPOSER in available else available[0]
        self._discard()
        self.error, self.versions, self.version, self.can_run = "", [], 0, False
        if not self._comparison_id:
            return None
        rt = runtime.current()
        try:
            role = await rt.comparisons.role_for(user, self._comparison_id)
            views = [] if self.masked else await rt.prompts.versions(user, self._comparison_id)
        except NotFound as exc:
            self.error = await localized(self, str(exc))
            return None
        self.can_run = allowed(role, Action.RUN)
        self.versions = [version_row(v, self._comparison_id) for v in views]
        self.version = next(
            (v.record.version for v in views if v.record.comparison_id == self._comparison_id), 0
        )
        return None

    def _discard(self) -> None:
        self.has_proposal, self.proposed_prompt, self.proposed_system_prompt, self.reason = False, "", "", ""
        self._proposed_by = ""

    # --- editing -------------------------------------------------------------
    @event
    def set_model(self, value: str) -> None:
        self.model = value
        self.error = ""

    @event
    def discard(self) -> None:
        self._discard()
        self.error = ""

    # --- acting --------------------------------------------------------------
    @event(background=True)
    @with_user
    async def propose(self, user: Principal) -> AsyncGenerator[EventSpec, None]:
        """Ask the chosen model for a revision (the call may take a while: outside the lock)."""
        async with self:
            if self.proposing or self.masked or not self._comparison_id:
                return
            self.proposing, self.error = True, ""
            self._discard()
            comparison_id, model = self._comparison_id, self.model
            socket = BoundSocket.of(self)  # the answer reaches this connection only
        errors: list[str] = []  # each shown in the page's language below
        try:
            proposal = await runtime.current().prompts.propose(user, comparison_id, model)
        except InvalidComparison as exc:  # InvalidImprovement: the model, or the comparison
            errors = list(exc.errors.values())
        except RateLimitExceeded as exc:
            errors = [exc.message]
        except (AccessDenied, NotFound) as exc:
            errors = [str(exc)]
        async with self:
            self.proposing = False
            if not socket.holds_the_tab():
                return  # the tab closed or another socket took its token: keep the answer from it
            if self._comparison_id != comparison_id:
                return  # the panel moved to another comparison meanwhile
            if errors:  # each in the page's language
                self.error = joined_in_every_language(errors)
                return
            self.has_proposal, self._proposed_by = True, model
            self.proposed_prompt, self.proposed_system_prompt = proposal.prompt, proposal.system_prompt
            self.reason = proposal.reason
        return
        yield  # an async generator, as @with_user's background form needs

    @event
    @with_user
    async def accept(self, user: Principal) -> Followup:
        """Run the proposal on the same panes as the prompt's next version, and open it."""
        if not self.has_proposal or not self._comparison_id:
            return None
        try:
            accepted = await runtime.current().prompts.accept(
                user,
                self._comparison_id,
                prompt=self.proposed_prompt,
                system_prompt=self.proposed_system_prompt,
                reason=self.reason,
                proposed_by=self._proposed_by,
            )
        except InvalidComparison as exc:
            self.error = joined_in_every_language(exc.errors.values())
            return None
        except RateLimitExceeded as exc:
            self.error = in_every_language(exc.message)
            return None
        except (AccessDenied, NotFound) as exc:
            self.error = await localized(self, str(exc))
            return None
        self._discard()
        self.error = ""
        return rx.redirect(f"/?c={accepted.comparison.id}")
