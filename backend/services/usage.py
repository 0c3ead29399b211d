"""Usage: spend, tokens, runs, errors and latency percentiles by model over time, and this
month's budget burn-down.

Who may see what: one project for its members (any role); with no project, every project the
person is a member of; "everyone" for an admin only. The figures are SQL aggregates
(backend/db/usage.py); blind runs the reader has not revealed are counted under a blind label.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend.auth.permissions import AccessDenied, Action, Principal
from backend.db import spend as spend_repo
from backend.db import usage as repo
from backend.db.engine import Database
from backend.db.usage import GroupBy, Scope, UsageRow
from backend.i18n import N_, Message
from backend.services.access import Access
from backend.services.budgets import month_start, next_month_start
from backend.services.validation import InvalidComparison

GROUPS: tuple[GroupBy, ...] = ("model", "day", "week")
DEFAULT_DAYS = 30
MAX_DAYS = 366


class InvalidUsageQuery(InvalidComparison):
    """A usage query with a bad parameter (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class UsageWindow:
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class Usage:
    project_id: str | None  # None: every project of mine (or everyone's, for an admin)
    everyone: bool
    group_by: GroupBy
    since: datetime
    until: datetime
    rows: tuple[UsageRow, ...]

    @property
    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.rows)

    @property
    def runs(self) -> int:
        return sum(r.runs for r in self.rows)


@dataclass(frozen=True, slots=True)
class BurnDay:
    day: str  # 'YYYY-MM-DD'
    spent_usd: float  # that day
    cumulative_usd: float  # the month so far, that day included
    remaining_usd: float | None  # None: no budget
    ideal_remaining_usd: float | None  # an even spend of the budget over the month


@dataclass(frozen=True, slots=True)
class BurnDown:
    month: str  # 'YYYY-MM'
    budget_usd: float | None
    spent_usd: float
    days: tuple[BurnDay, ...]  # every day of the month up to today

    @property
    def remaining_usd(self) -> float | None:
        return None if self.budget_usd is None else self.budget_usd - self.spent_usd


def usage_window(since: datetime | None, until: datetime | None, now: datetime | None = None) -> UsageWindow:
    """The half-open window [since, until): by default the last 30 days up to now."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InvalidUsageQuery(
                {name: Message("{name} needs a time zone, e.g. 2026-12-01T00:00:00Z.", name=name)}
            )
    try:
        end = (until or now or datetime.now(UTC)).astimezone(UTC)
        start = (since or end - timedelta(days=DEFAULT_DAYS)).astimezone(UTC)
    except OverflowError:  # e.g. until=0001-01-01: there is no "30 days before"
        raise InvalidUsageQuery(
            {"since": N_("since and until must be dates between years 1 and 9999.")}
        ) from None
    if start >= end:
        raise InvalidUsageQuery({"since": N_("since must be before until.")})
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidUsageQuery({"since": Message("Ask for at most {n} days at a time.", n=MAX_DAYS)})
    return UsageWindow(start, end)


class UsageService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._access = Access(db)

    async def scope(self, principal: Principal, project_id: str | None, everyone: bool = False) -> Scope:
        """The runs the principal may aggregate or export: NotFound for a project they are not in,
        AccessDenied for "everyone" unless an admin."""
        if project_id and "\x00" in project_id:  # no id holds one; PostgreSQL would refuse it mid-export
            raise InvalidUsageQuery({"project_id": "No project has this id."})
        if everyone:
            if not principal.is_admin:
                raise AccessDenied("Only an admin may see everyone's usage.")
            return Scope(reader_id=principal.user_id, project_id=project_id or None)
        if project_id:
            await self._access.require_project(principal, Action.READ, project_id)
            return Scope(reader_id=principal.user_id, project_id=project_id)
        return Scope(reader_id=principal.user_id, member_id=principal.user_id)

    async def usage(
        self,
        principal: Principal,
        project_id: str | None = None,
        *,
        group_by: str = "model",
        since: datetime | None = None,
        until: datetime | None = None,
        everyone: bool = False,
    ) -> Usage:
        if group_by not in GROUPS:
            raise InvalidUsageQuery(
                {"group_by": Message("group_by must be one of {names}.", names=", ".join(GROUPS))}
            )
        window = usage_window(since, until)
        scope = await self.scope(principal, project_id, everyone)
        async with self._db.session() as session:
            rows = await repo.usage_rows(session, scope, group_by, window.since, window.until)
        return Usage(project_id or None, everyone, group_by, window.since, window.until, tuple(rows))

    async def burn_down(self, principal: Principal, now: datetime | None = None) -> BurnDown:
        """The principal's own monthly budget against what their runs cost, day by day (the
        spend BudgetGuard checks: runs of their comparisons, counted when they finish)."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        start, end = month_start(now), next_month_start(now)
        async with self._db.session() as session:
            budget = await spend_repo.monthly_budget(session, principal.user_id)
            by_day = await repo.daily_spend(session, principal.user_id, start, end)
        days_in_month = calendar.monthrange(start.year, start.month)[1]
        days: list[BurnDay] = []
        cumulative = 0.0
        for n in range(now.day):
            day = (start + timedelta(days=n)).strftime("%Y-%m-%d")
            spent = by_day.get(day, 0.0)
            cumulative += spent
            days.append(
                BurnDay(
                    day=day,
                    spent_usd=spent,
                    cumulative_usd=cumulative,
                    remaining_usd=None if budget is None else budget - cumulative,
                    ideal_remaining_usd=None if budget is None else budget * (1 - (n + 1) / days_in_month),
                )
            )
        return BurnDown(start.strftime("%Y-%m"), budget, cumulative, tuple(days))
