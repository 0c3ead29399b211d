"""Votes on the comparison on screen: my vote (best pane, thumbs, comment) and the tally.

The compare page shows the vote panel only once every pane has finished, and mounts it anew
for each comparison (keyed on its id): mounting loads the tally, so the comparison id is read
from CompareState on the server, never taken from the browser. Any member of the project may
vote, viewers included; the service refuses anyone else and any vote it finds invalid. A vote is
about one conversation turn: the latest when the panel mounts, or the one picked in "Vote on
turn" (each turn has its own vote and tally).
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from backend import runtime
from backend.auth import Principal
from backend.catalog import load_catalog
from backend.i18n import N_, Message, in_every_language, joined_in_every_language
from backend.ranking import VoteChoice
from backend.services.access import NotFound
from backend.services.blind import pane_label
from backend.services.votes import InvalidVote, Tally
from state.compare import CompareState
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized

THUMB_UP, THUMB_DOWN = "up", "down"
TIE, ALL_BAD = VoteChoice.TIE.value, VoteChoice.ALL_BAD.value
PICK_FIRST = N_("Pick the best answer, or Tie or All bad, before saving your vote.")


@dataclasses.dataclass
class VotePaneRow:
    position: int
    # The accessible name of its choice: "Pane 1: simulated:swift"; in a blind comparison
    # "Model A" until the person votes or reveals, then "Model A: simulated:swift".
    label: str
    model_name: str  # the catalog's display name ("" while a blind pane's model is hidden)
    thumb: str = ""  # my thumb: "up", "down" or ""
    best_count: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0


def _choice_label(position: int, model: str, blind: bool) -> str:
    if not blind:  # kept in every language: the page shows its own, and again at once on a switch
        return in_every_language(Message("Pane {n}: {model}", n=position + 1, model=model))
    label = pane_label(position)  # the name the person knew the pane by, before and after
    return label if model == label else f"{label}: {model}"


def _display_name(model: str) -> str:
    info = load_catalog().get(model)
    return info.display_name if info else model


class VoteState(rx.State):
    panes: rx.Field[list[VotePaneRow]] = rx.field(default_factory=list)
    best: rx.Field[str] = rx.field("")  # "" | "0".."7" (a pane's position) | "tie" | "all_bad"
    comment: rx.Field[str] = rx.field("")
    tie: rx.Field[int] = rx.field(0)
    all_bad: rx.Field[int] = rx.field(0)
    votes: rx.Field[int] = rx.field(0)
    voted: rx.Field[bool] = rx.field(False)  # I have a saved vote on this turn
    turn: rx.Field[str] = rx.field("")  # the turn voted on ("1", "2" …)
    turn_options: rx.Field[list[str]] = rx.field(default_factory=list)  # every turn, "1" first
    error: rx.Field[str] = rx.field("")
    notice: rx.Field[str] = rx.field("")
    _comparison_id: str = ""
    _blind: bool = False  # a blind comparison: its choices keep the labels "Model A" …

    @rx.var(cache=True)
    def votes_label(self) -> str:
        return N_("1 vote") if self.votes == 1 else in_every_language(Message(N_("{n} votes"), n=self.votes))

    @rx.var(cache=True)
    def save_label(self) -> str:
        return N_("Change my vote") if self.voted else N_("Save vote")

    @event
    @with_user
    async def load(self, user: Principal) -> None:
        """The tally of the comparison CompareState shows, with my vote in the form."""
        compare = await self.get_state(CompareState)
        self._comparison_id = compare.comparison_id
        self._blind = any(p.blind_label for p in compare.panes)
        self.error, self.notice = "", ""
        if not self._comparison_id:
            self._clear()
            return
        await self._load_turn(user, None)

    @event
    @with_user
    async def set_turn(self, user: Principal, value: str) -> None:
        """Show (and vote on) another turn of the conversation."""
        self.error, self.notice = "", ""
        if self._comparison_id and value.isdigit():
            await self._load_turn(user, int(value))

    async def _load_turn(self, user: Principal, turn: int | None) -> None:
        try:
            tally = await runtime.current().votes.tally(user, self._comparison_id, turn)
        except NotFound as exc:
            self._clear()
            self.error = await localized(self, str(exc))
            return
        except InvalidVote as exc:
            self.error = joined_in_every_language(exc.errors.values())
            return
        self._show(tally, self._blind)

    def _clear(self) -> None:
        self.panes, self.best, self.comment, self.voted = [], "", "", False
        self.tie = self.all_bad = self.votes = 0
        self.turn, self.turn_options = "", []

    def _show(self, tally: Tally, blind: bool) -> None:
        """The tally, and my saved vote in the form (`blind`: the comparison is a blind one)."""
        mine = tally.mine
        thumbs = mine.thumbs if mine is not None else ()
        self.panes = [
            VotePaneRow(
                position=p.position,
                label=_choice_label(p.position, p.model, blind),
                model_name="" if p.model == pane_label(p.position) else _display_name(p.model),
                thumb=(thumbs[p.position] or "") if p.position < len(thumbs) else "",
                best_count=p.best,
                thumbs_up=p.thumbs_up,
                thumbs_down=p.thumbs_down,
            )
            for p in tally.panes
        ]
        self.tie, self.all_bad, self.votes = tally.tie, tally.all_bad, tally.votes
        self.turn = str(tally.turn)
        self.turn_options = [str(n) for n in range(1, tally.latest_turn + 1)]
        self.voted = mine is not None
        if mine is None:
            self.best, self.comment = "", ""
        else:
            self.best = str(mine.best_pane) if mine.best_pane is not None else (mine.no_winner or "")
            self.comment = mine.comment

    @event
    def set_best(self, value: str) -> None:
        self.best = value
        self.error, self.notice = "", ""

    @event
    def set_comment(self, value: str) -> None:
        self.comment = value
        self.notice = ""

    @event
    def toggle_thumb(self, position: int, thumb: str) -> None:
        """Press a thumb; pressing the one already pressed takes it back."""
        if thumb not in (THUMB_UP, THUMB_DOWN):
            return
        for pane in self.panes:
            if pane.position == position:
                pane.thumb = "" if pane.thumb == thumb else thumb
        self.notice = ""

    @event
    @with_user
    async def submit(self, user: Principal) -> Followup:
        if not self.best:
            self.error = PICK_FIRST
            return None
        # A pane's position goes as a number; anything else as typed, for the service to judge.
        best: int | str = int(self.best) if self.best.isdigit() else self.best
        thumbs = [pane.thumb or None for pane in sorted(self.panes, key=lambda p: p.position)]
        turn = int(self.turn) if self.turn.isdigit() else None
        try:
            tally = await runtime.current().votes.vote(
                user, self._comparison_id, best, thumbs, self.comment, turn
            )
        except InvalidVote as exc:
            self.error = joined_in_every_language(exc.errors.values())
            self.notice = ""
            return None
        except NotFound as exc:
            self.error, self.notice = await localized(self, str(exc)), ""
            return None
        self._show(tally, self._blind)
        self.error, self.notice = "", N_("Your vote is saved. You can change it at any time.")
        return CompareState.refresh_models  # a blind comparison shows its models to its voter
