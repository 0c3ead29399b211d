"""Per-user monthly budgets: refuse a run that could take a user past their limit.

The check is made before anything is saved or queued, with the most a run can
cost: its estimated prompt tokens (each image counted as its model's fixed
``image_tokens``, backend/catalog/models.toml) at the input price plus all of its max tokens
at the output price (list prices from the catalog; unlisted models are free).
Spend is what the user's runs that finished this calendar month (UTC) cost.
A refusal is a :class:`RateLimitExceeded`, so the API answers 429 with
Retry-After (the start of next month) and the page shows it where it shows
rate limits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.auth.permissions import Principal
from backend.catalog import estimate_cost_usd, estimate_tokens, image_tokens, load_catalog
from backend.db import spend as repo
from backend.db.engine import Database
from backend.db.records import ComparisonRecord, RunRecord
from backend.files.images import images_of
from backend.i18n import N_, Message, Usd
from backend.limits import RateLimitExceeded
from backend.providers.base import Usage
from backend.services.validation import ComparisonInput

BUDGET_LIMIT = "monthly_budget"


class BudgetExceeded(RateLimitExceeded):
    """The run could take its user past their monthly budget; retry after the month ends."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s, BUDGET_LIMIT)


@dataclass(frozen=True, slots=True)
class MonthlySpend:
    budget_usd: float | None  # None: no limit
    spent_usd: float


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def max_cost_usd(system_prompt: str, prompt: str, panes: Iterable[tuple[str, int]], images: int = 0) -> float:
    """The most these runs can cost: each pane is (model id, max tokens); ``images``: how many
    images go with the prompt."""
    # The same prompt estimate the token rate limit and the context check use.
    prompt_tokens = estimate_tokens(system_prompt + "\n" + prompt)
    catalog = load_catalog()
    return sum(
        estimate_cost_usd(
            catalog.get(model),
            Usage(input_tokens=prompt_tokens + images * image_tokens(model), output_tokens=max_tokens),
        )
        for model, max_tokens in panes
    )


def parse_budget(text: str) -> float | None:
    """A monthly budget as typed: "" -> no limit; "5" or "$5.00" -> 5.0; raises ValueError for
    anything else."""
    cleaned = text.strip().removeprefix("$").replace(",", "").strip()
    if not cleaned:
        return None
    value = float(cleaned)
    if not math.isfinite(value):
        raise ValueError(cleaned)
    return value


# What would pass the budget (`what`: a noun phrase such as "This comparison", marked N_ where
# it is named), and whose budget: the person's own, or the owner's of the comparison they add to.
OVER_OWN_BUDGET = N_(
    "{what} could cost up to {up_to}, which would pass your monthly budget of {budget} "
    "({spent} spent this month)."
)
OVER_OWNER_BUDGET = N_(
    "{what} could cost up to {up_to}, which would pass the comparison owner's monthly budget "
    "of {budget} ({spent} spent this month)."
)


class BudgetGuard:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def spend(self, user_id: str, now: datetime | None = None) -> MonthlySpend:
        now = now or datetime.now(UTC)
        async with self._db.session() as session:
            budget = await repo.monthly_budget(session, user_id)
            spent = await repo.spent_since(session, user_id, month_start(now))
        return MonthlySpend(budget_usd=budget, spent_usd=spent)

    async def check(self, principal: Principal, data: ComparisonInput) -> None:
        """Raise BudgetExceeded if the new comparison could take the user past their budget."""
        cost = max_cost_usd(
            data.system_prompt,
            data.prompt,
            ((pane.model, pane.max_tokens) for pane in data.panes),
            len(data.images),
        )
        await self._check(principal.user_id, cost, N_("This comparison"), own=True)

    async def check_many(
        self, principal: Principal, datas: Iterable[ComparisonInput], what: str, payer_id: str | None = None
    ) -> None:
        """Raise BudgetExceeded if these comparisons together could take the user past their budget
        (``what``: an N_-marked noun phrase, "This batch"; ``payer_id``: another user who pays
        for them, as a comparison's owner pays its follow-ups)."""
        cost = sum(
            max_cost_usd(
                data.system_prompt,
                data.prompt,
                ((pane.model, pane.max_tokens) for pane in data.panes),
                len(data.images),
            )
            for data in datas
        )
        payer = payer_id or principal.user_id
        await self._check(payer, cost, what, own=payer == principal.user_id)

    async def check_retry(self, principal: Principal, record: ComparisonRecord, run: RunRecord) -> None:
        """A retry is spent by the comparison's owner (their keys, their budget)."""
        images = len(images_of(record.settings))
        cost = max_cost_usd(record.system_prompt, record.prompt, [(run.model, run.params.max_tokens)], images)
        await self._check(record.user_id, cost, N_("This retry"), own=principal.user_id == record.user_id)

    async def _check(self, user_id: str, cost: float, what: str, *, own: bool) -> None:
        if cost <= 0:  # free models never move the spend
            return
        now = datetime.now(UTC)
        async with self._db.session() as session:
            budget = await repo.monthly_budget(session, user_id)
            if budget is None:  # most users: one primary-key lookup and done
                return
            spent = await repo.spent_since(session, user_id, month_start(now))
        if spent + cost <= budget:
            return
        message = Message(
            OVER_OWN_BUDGET if own else OVER_OWNER_BUDGET,
            what=Message(what),
            up_to=Usd(cost, 4 if cost < 1 else 2),
            budget=Usd(budget),
            spent=Usd(spent),
        )
        raise BudgetExceeded(message, (next_month_start(now) - now).total_seconds())
