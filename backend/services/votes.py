"""Votes on comparisons: who may vote, what a valid vote is, and a comparison's tally.

Any member of the comparison's project may vote, viewers included (reading is all a vote
needs); anyone else is told the comparison does not exist. A vote waits until every pane
has finished: a half-streamed answer is not the one being judged. Each person has one vote
per comparison per conversation turn (the latest turn unless the vote names one); voting on
that turn again replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.permissions import Action, Principal
from backend.db import votes as repo
from backend.db.engine import Database
from backend.db.models import VOTE_COMMENT_MAX_CHARS
from backend.db.records import FINAL_STATUSES
from backend.db.votes import Pane, VoteRecord
from backend.i18n import N_, Message
from backend.ranking import VoteChoice
from backend.services.access import Access
from backend.services.blind import BlindView, pane_label
from backend.services.validation import InvalidComparison

log = logging.getLogger(__name__)

THUMBS = ("up", "down")


class InvalidVote(InvalidComparison):
    """A vote refused, with every problem keyed by field (the API answers 422 with them)."""


@dataclass(frozen=True, slots=True)
class PaneTally:
    position: int
    model: str
    best: int  # votes naming this pane the best
    thumbs_up: int
    thumbs_down: int


@dataclass(frozen=True, slots=True)
class Tally:
    comparison_id: str
    panes: tuple[PaneTally, ...]
    tie: int
    all_bad: int
    votes: int
    mine: VoteRecord | None  # the asking person's own vote on this turn
    turn: int = 1  # the conversation turn tallied
    latest_turn: int = 1  # the comparison's latest turn


class VoteService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._access = Access(db)
        self._blind = BlindView(db)
        # Told after a vote is saved (the search indexer re-indexes: "has votes", the winner).
        self.on_change: Callable[[str], Awaitable[None]] | None = None

    async def vote(
        self,
        principal: Principal,
        comparison_id: str,
        best: int | str,
        thumbs: Sequence[str | None] = (),
        comment: str = "",
        turn: int | None = None,
    ) -> Tally:
        """Save (or replace) the principal's vote on ``turn`` (default: the latest) and return
        that turn's new tally.

        Raises NotFound for a non-member, InvalidVote (nothing saved) for a turn the comparison
        does not have or still running, a pane index it does not have, a thumb other than
        up/down or a long comment.
        """
        await self._access.require_comparison(principal, Action.READ, comparison_id)
        async with self._db.session() as session:
            chosen = await _turn(session, comparison_id, turn)
            panes = await repo.panes_of(session, comparison_id, chosen)
            best_pane, no_winner, padded = _checked(panes, best, thumbs, comment)
            await repo.save_vote(
                session,
                comparison_id=comparison_id,
                user_id=principal.user_id,
                best_pane=best_pane,
                no_winner=no_winner,
                thumbs=padded,
                comment=comment,
                turn=chosen,
            )
        if self.on_change is not None:
            try:
                await self.on_change(comparison_id)
            except Exception:  # the vote is saved; search catches up on the next reindex
                log.exception("could not request re-indexing of %s after a vote", comparison_id)
        return await self.tally(principal, comparison_id, chosen)

    async def tally(self, principal: Principal, comparison_id: str, turn: int | None = None) -> Tally:
        """The votes on ``turn`` (default: the latest), with my own. InvalidVote for a turn the
        comparison does not have."""
        await self._access.require_comparison(principal, Action.READ, comparison_id)
        async with self._db.session() as session:
            latest = await repo.latest_turn(session, comparison_id)
            chosen = await _turn(session, comparison_id, turn)
            panes = await repo.panes_of(session, comparison_id, chosen)
            votes = await repo.votes_of(session, comparison_id, chosen)
        if await self._blind.hides_models(principal, comparison_id):
            panes = [replace(p, model=pane_label(p.position)) for p in panes]
        tally = _tally(comparison_id, panes, votes, principal.user_id)
        return replace(tally, turn=chosen, latest_turn=latest)


async def _turn(session: AsyncSession, comparison_id: str, turn: int | None) -> int:
    """The turn a vote or tally is about: ``turn`` if the comparison has it, else InvalidVote."""
    latest = await repo.latest_turn(session, comparison_id)
    if turn is None:
        return latest
    if isinstance(turn, bool) or not isinstance(turn, int) or not 1 <= turn <= latest:
        raise InvalidVote(
            {
                "turn": Message(
                    "This comparison has turns 1 to {latest}; there is no turn {turn} to vote on.",
                    latest=latest,
                    turn=turn,
                )
            }
        )
    return turn


def _checked(
    panes: Sequence[Pane], best: int | str, thumbs: Sequence[str | None], comment: str
) -> tuple[int | None, str | None, list[str | None]]:
    errors: dict[str, str] = {}
    unfinished = sum(1 for p in panes if p.status not in FINAL_STATUSES)
    if unfinished:
        errors["comparison"] = Message(
            "This comparison is still running ({unfinished} of {total} panes unfinished): "
            "vote once every pane has finished.",
            unfinished=unfinished,
            total=len(panes),
        )
    best_pane: int | None = None
    no_winner: str | None = None
    if isinstance(best, int) and not isinstance(best, bool) and 0 <= best < len(panes):
        best_pane = best
    elif best in (VoteChoice.TIE.value, VoteChoice.ALL_BAD.value):
        no_winner = str(best)
    else:
        errors["best"] = Message(
            "Name the best pane by its index, 0 to {last}, or say 'tie' or 'all_bad' (got {value!r}).",
            last=len(panes) - 1,
            value=best,
        )
    if len(thumbs) > len(panes):
        errors["thumbs"] = Message(
            "This comparison has {panes} panes; got {thumbs} thumbs.", panes=len(panes), thumbs=len(thumbs)
        )
    elif any(t is not None and t not in THUMBS for t in thumbs):
        errors["thumbs"] = N_("Each pane's thumb is 'up', 'down' or null.")
    if len(comment) > VOTE_COMMENT_MAX_CHARS:
        errors["comment"] = Message("The comment is longer than {n:,} characters.", n=VOTE_COMMENT_MAX_CHARS)
    elif "\x00" in comment:
        errors["comment"] = N_("The comment contains a NUL character.")
    if errors:
        raise InvalidVote(errors)
    return best_pane, no_winner, [*thumbs, *[None] * (len(panes) - len(thumbs))]


def _tally(comparison_id: str, panes: Sequence[Pane], votes: Sequence[VoteRecord], user_id: str) -> Tally:
    def count_thumbs(position: int, thumb: str) -> int:
        return sum(1 for v in votes if position < len(v.thumbs) and v.thumbs[position] == thumb)

    return Tally(
        comparison_id=comparison_id,
        panes=tuple(
            PaneTally(
                position=p.position,
                model=p.model,
                best=sum(1 for v in votes if v.best_pane == p.position),
                thumbs_up=count_thumbs(p.position, "up"),
                thumbs_down=count_thumbs(p.position, "down"),
            )
            for p in panes
        ),
        tie=sum(1 for v in votes if v.no_winner == VoteChoice.TIE),
        all_bad=sum(1 for v in votes if v.no_winner == VoteChoice.ALL_BAD),
        votes=len(votes),
        mine=next((v for v in votes if v.user_id == user_id), None),
    )
