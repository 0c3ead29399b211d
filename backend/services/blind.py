"""Blind comparisons and battles: panes labelled "Model A", "Model B" … until the person votes
or presses "Reveal".

The order of the panes is shuffled on the server when the comparison is created (runs are
saved at their shuffled positions), so the label of a pane says nothing about which model the
person picked first. Everything that reaches a person goes through :meth:`BlindView.record` or
:meth:`BlindView.page`: for a blind comparison they have not revealed, each run's model becomes
its label and what would identify the model — provider, cost, input tokens (tokenizers differ),
the provider's error text — is blanked. The worker, the ranking and share-link owners' reveal
read the unmasked records through ``get_unchecked``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import replace

from backend.auth.permissions import Action, Principal
from backend.catalog import load_catalog
from backend.db.engine import Database
from backend.db.records import ComparisonRecord, ComparisonSummary, HistoryPage, RunRecord
from backend.db.reveals import add_reveal, is_blind, revealed_among
from backend.i18n import N_, Message
from backend.providers.registry import ModelEntry
from backend.services.access import Access
from backend.services.validation import InvalidComparison, PaneInput

BLIND_SETTING = "blind"
BATTLE_SIZE = 2
JUDGE_STYLE = "judge"  # the catalog's simulation style of a model that only judges
HIDDEN_ERROR = N_("This model's call failed; the details show once you vote or reveal the models.")

_shuffler = random.SystemRandom()  # the order must not be predictable from the outside


def pane_label(position: int) -> str:
    """ "Model A" … "Model Z", then "Model 27" onwards (MAX_PANES is far below that)."""
    letters = string.ascii_uppercase
    return f"Model {letters[position]}" if position < len(letters) else f"Model {position + 1}"


def shuffled(panes: Sequence[PaneInput]) -> list[PaneInput]:
    order = list(panes)
    _shuffler.shuffle(order)
    return order


def _answers_prompts(model_id: str) -> bool:
    """False for a judge-only model (``simulated:judge``): it answers a verdict on two answers,
    not the prompt, which would be no contest and would name it at once."""
    info = load_catalog().get(model_id)
    return info is None or info.simulation is None or info.simulation.style != JUDGE_STYLE


BATTLE_NEEDS = N_("A battle needs at least two available models (found {n}).")
BATTLE_NEEDS_POOL = N_(
    "A battle needs at least two available models of this project's battle pool (found {n})."
)


def draw_battle(entries: Sequence[ModelEntry], pool: Sequence[str] = ()) -> list[str]:
    """Two different models, at random, from the available ones (within ``pool`` if given;
    without a pool, models that only judge are left out)."""
    candidates = sorted(
        {e.id for e in entries if e.available and (e.id in pool if pool else _answers_prompts(e.id))}
    )
    if len(candidates) < BATTLE_SIZE:
        needs = BATTLE_NEEDS_POOL if pool else BATTLE_NEEDS
        raise InvalidComparison({"panes": Message(needs, n=len(candidates))})
    return _shuffler.sample(candidates, BATTLE_SIZE)


def _masked_run(run: RunRecord) -> RunRecord:
    return replace(
        run,
        model=pane_label(run.position),
        provider="",
        cost_usd=0.0,
        input_tokens=0,
        error=HIDDEN_ERROR if run.error else "",
    )


def masked(record: ComparisonRecord) -> ComparisonRecord:
    return replace(
        record,
        runs=tuple(_masked_run(r) for r in record.runs),
        past_runs=tuple(_masked_run(r) for r in record.past_runs),  # earlier turns too
        masked=True,
    )


def _masked_summary(summary: ComparisonSummary) -> ComparisonSummary:
    labels = tuple(pane_label(i) for i in range(len(summary.models)))
    return replace(summary, models=labels, masked=True)


class BlindView:
    """What one person may see of comparisons, and their "Reveal"."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._access = Access(db)

    async def record(self, principal: Principal | None, record: ComparisonRecord) -> ComparisonRecord:
        """The record as ``principal`` may see it (None: an anonymous share-link visitor)."""
        if not record.blind or record.masked:
            return record
        if principal is not None and await self._revealed(principal, [record.id]):
            return record
        return masked(record)

    async def shared(self, record: ComparisonRecord) -> ComparisonRecord:
        """The record behind a share link: masked until its creator has voted or revealed."""
        if not record.blind or record.masked:
            return record
        async with self._db.session() as session:
            revealed = await revealed_among(session, record.user_id, [record.id])
        return record if revealed else masked(record)

    async def page(self, principal: Principal, page: HistoryPage) -> HistoryPage:
        blind_ids = [item.id for item in page.items if item.blind]
        if not blind_ids:
            return page
        revealed = await self._revealed(principal, blind_ids)
        items = tuple(
            _masked_summary(item) if item.blind and item.id not in revealed else item for item in page.items
        )
        return replace(page, items=items)

    async def hides_models(self, principal: Principal, comparison_id: str) -> bool:
        """Whether the comparison is blind and the principal has neither voted nor revealed."""
        async with self._db.session() as session:
            if not await is_blind(session, comparison_id):
                return False
            return not await revealed_among(session, principal.user_id, [comparison_id])

    async def reveal(self, principal: Principal, comparison_id: str) -> None:
        """Any member who may read the comparison may reveal it, for themselves only."""
        await self._access.require_comparison(principal, Action.READ, comparison_id)
        async with self._db.session() as session:
            await add_reveal(session, comparison_id, principal.user_id)

    async def _revealed(self, principal: Principal, comparison_ids: list[str]) -> set[str]:
        async with self._db.session() as session:
            return await revealed_among(session, principal.user_id, comparison_ids)
