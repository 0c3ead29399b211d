"""'Similar comparisons' on the Compare page (issue 17): while a prompt is typed, the nearest past
comparisons by meaning, with their winners, and the models that won them as a one-click pane set.

Each keystroke only remembers the draft (`typed`); the lookup (`load`, a background event) waits
until the typing pauses (DEBOUNCE_S) and is dropped if another keystroke came meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import Principal
from state.current_user import with_user
from state.events import Followup, event
from state.rows import prompt_title

DEBOUNCE_S = 0.6


@dataclasses.dataclass
class SimilarRow:
    id: str
    title: str
    winner: str
    created: str


class SimilarState(rx.State):
    items: rx.Field[list[SimilarRow]] = rx.field(default_factory=list)
    winners: rx.Field[list[str]] = rx.field(default_factory=list)
    _generation: int = 0
    _draft: str = ""

    @rx.var(cache=True)
    def winners_csv(self) -> str:
        return ",".join(self.winners)

    @rx.var(cache=True)
    def winners_label(self) -> str:
        return ", ".join(self.winners)

    @event
    def typed(self, value: str) -> Followup:
        """Each keystroke: remember the draft; `load` looks it up once the typing pauses."""
        self._generation += 1
        self._draft = value
        return SimilarState.load

    @event
    def clear(self) -> None:
        self._generation += 1
        self.items, self.winners = [], []

    @event(background=True)
    @with_user
    async def load(self, user: Principal) -> AsyncGenerator[EventSpec, None]:
        """After DEBOUNCE_S without a newer keystroke, the nearest past comparisons of the draft."""
        async with self:
            generation = self._generation
        await asyncio.sleep(DEBOUNCE_S)
        async with self:
            if generation != self._generation:
                return
            draft = self._draft
        try:
            found = await runtime.current().search.similar(user, draft)
        except Exception:  # a hint only: never in the way of typing
            return
        async with self:
            if generation != self._generation:
                return
            self.items = [
                SimilarRow(
                    id=hit.comparison_id,
                    title=prompt_title(hit.prompt_first_line),
                    winner=hit.winner,
                    created=hit.created_at.strftime("%Y-%m-%d"),
                )
                for hit in found.hits
            ]
            self.winners = list(found.winning_models)
        return
        yield  # a generator: with_user's lock handling for background events needs one
