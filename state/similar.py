"""'Similar comparisons' on the Compare page (issue 17): while a prompt is typed, the nearest past
comparisons by meaning, with their winners, and the models that won them as a one-click pane set.

Each keystroke only bumps a counter (`typed`); the lookup runs in a background event after the
typing pauses (DEBOUNCE_S) and is dropped if another keystroke came meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from backend import runtime
from state.auth import AuthState, signed_in_user_for
from state.events import Followup, event

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

    @rx.var(cache=True)
    def winners_csv(self) -> str:
        return ",".join(self.winners)

    @rx.var(cache=True)
    def winners_label(self) -> str:
        return ", ".join(self.winners)

    @event
    def typed(self, value: str) -> Followup:
        self._generation += 1
        return SimilarState.settle(self._generation, value)

    @event
    def clear(self) -> None:
        self._generation += 1
        self.items, self.winners = [], []

    @event(background=True)
    async def settle(self, generation: int, value: str) -> None:
        """After the typing pauses: only the latest draft is looked up (and only then is the
        session checked, so keystrokes cost no database round trip)."""
        await asyncio.sleep(DEBOUNCE_S)
        async with self:
            if generation != self._generation:
                return
            token = (await self.get_state(AuthState)).session_token
        user = await signed_in_user_for(token)
        if user is None:
            return
        try:
            found = await runtime.current().search.similar(user, value)
        except Exception:  # a hint only: never in the way of typing
            return
        async with self:
            if generation != self._generation:
                return
            self.items = [
                SimilarRow(
                    id=hit.comparison_id,
                    title=hit.prompt_first_line or "(empty prompt)",
                    winner=hit.winner,
                    created=hit.created_at.strftime("%Y-%m-%d"),
                )
                for hit in found.hits
            ]
            self.winners = list(found.winning_models)
