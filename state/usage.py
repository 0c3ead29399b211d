"""The usage page: spend, tokens, runs, errors and latency by model over time for one project, all
of mine (or, for an admin, everyone's), this month's budget burn-down, and the runs export.

Everything comes from backend.services.usage (SQL aggregates; membership checked there). The
export is served through this state's event (rx.download), because the HTTP API takes API
tokens, not the page's session cookie; it is bounded (PAGE_EXPORT_MAX_RUNS) since it travels
over the page's socket; larger exports go through the API, which streams.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import Principal
from backend.auth.permissions import AccessDenied
from backend.db.usage import UsageRow
from backend.i18n import N_, Message, Number, Usd, format_usd, in_every_language, joined_in_every_language
from backend.services.access import NotFound
from backend.services.metrics import format_ms, format_rate
from backend.services.usage import BurnDown, InvalidUsageQuery
from state.current_user import with_user
from state.events import Followup, event
from state.language import language_of, localized
from state.rows import ProjectChoice

ALL_PROJECTS = "all"
EVERYONE = "everyone"
GROUPS = ("day", "week")
WINDOWS = {"7d": 7, "30d": 30, "90d": 90}
FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
PAGE_EXPORT_MAX_RUNS = 20_000
TOO_MANY_RUNS = N_(
    "More than 20,000 runs in this window: pick a shorter one, or use the API "
    "(GET /api/v1/runs/export with an API token), which streams any number."
)
assert f"{PAGE_EXPORT_MAX_RUNS:,}" in TOO_MANY_RUNS


@dataclasses.dataclass
class ModelUsageRow:
    model: str
    runs: int
    error_rate: str
    tokens_in: int
    tokens_out: int
    cost: str
    ttft_p50: str
    ttft_p95: str
    tps_p50: str
    tps_p95: str


def _window(window: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    # Up to the next whole hour, so a page opened twice in an hour asks the same window.
    until = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return until - timedelta(days=WINDOWS.get(window, 30)), until


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def model_row(r: UsageRow, language: str | None = None) -> ModelUsageRow:
    return ModelUsageRow(
        model=r.model,
        runs=r.runs,
        error_rate=_percent(r.error_rate),
        tokens_in=r.input_tokens,
        tokens_out=r.output_tokens,
        cost=format_usd(r.cost_usd, language),
        ttft_p50=format_ms(r.ttft_p50_ms),
        ttft_p95=format_ms(r.ttft_p95_ms),
        tps_p50=format_rate(r.tokens_per_s_p50),
        tps_p95=format_rate(r.tokens_per_s_p95),
    )


def over_time(rows: tuple[UsageRow, ...]) -> list[dict[str, Any]]:
    """One point per day or week: the bucket's rows (one per model, a few dozen at most) summed."""
    points: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = points.setdefault(
            r.bucket,
            {"bucket": r.bucket, "cost": 0.0, "runs": 0, "errors": 0, "tokens_in": 0, "tokens_out": 0},
        )
        p["cost"] += r.cost_usd
        p["runs"] += r.runs
        p["errors"] += r.errors
        p["tokens_in"] += r.input_tokens
        p["tokens_out"] += r.output_tokens
    return [{**p, "cost": round(p["cost"], 6)} for p in sorted(points.values(), key=lambda p: p["bucket"])]


def burn_points(burn: BurnDown) -> list[dict[str, Any]]:
    return [
        {
            "day": d.day[8:],  # the day of the month
            "spent": round(d.cumulative_usd, 6),
            **({} if d.remaining_usd is None else {"remaining": round(d.remaining_usd, 6)}),
            **({} if d.ideal_remaining_usd is None else {"even pace": round(d.ideal_remaining_usd, 6)}),
        }
        for d in burn.days
    ]


# The summaries are kept in every language (amounts as each writes them): the page shows its own,
# and again at once when the person switches.
def burn_summary(burn: BurnDown) -> str:
    spent = Usd(burn.spent_usd)
    if burn.budget_usd is None:
        no_budget = Message(
            "{spent} spent in {month}. No monthly budget set (Settings).", spent=spent, month=burn.month
        )
        return in_every_language(no_budget)
    left = Usd(max(burn.budget_usd - burn.spent_usd, 0.0))
    said = Message(
        "{spent} of {budget} spent in {month}; {left} left.",
        spent=spent,
        budget=Usd(burn.budget_usd),
        month=burn.month,
        left=left,
    )
    return in_every_language(said)


def total_summary(runs: int, cost_usd: float, days: int) -> str:
    cost = Usd(cost_usd)
    if runs == 1:
        return in_every_language(Message("1 run, {cost} in the last {days} days.", cost=cost, days=days))
    return in_every_language(
        Message("{runs} runs, {cost} in the last {days} days.", runs=Number(runs), cost=cost, days=days)
    )


class UsageState(rx.State):
    projects: rx.Field[list[ProjectChoice]] = rx.field(default_factory=list)  # those I can read
    is_admin: rx.Field[bool] = rx.field(False)
    project_id: rx.Field[str] = rx.field(ALL_PROJECTS)
    group: rx.Field[str] = rx.field("day")
    window: rx.Field[str] = rx.field("30d")
    rows: rx.Field[list[ModelUsageRow]] = rx.field(default_factory=list)
    chart: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    burn: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    has_budget: rx.Field[bool] = rx.field(False)
    burn_text: rx.Field[str] = rx.field("")
    total_text: rx.Field[str] = rx.field("")
    loaded: rx.Field[bool] = rx.field(False)
    error: rx.Field[str] = rx.field("")
    export_error: rx.Field[str] = rx.field("")

    @rx.var(cache=True)
    def empty(self) -> bool:
        return self.loaded and not self.rows and not self.error

    def _scope(self) -> tuple[str | None, bool]:
        """(project id or None for all, everyone?) of the current filter."""
        if self.project_id == EVERYONE:
            return None, True
        return (None if self.project_id == ALL_PROJECTS else self.project_id), False

    @event
    @with_user
    async def load(self, user: Principal) -> None:
        rt = runtime.current()
        self.projects = [ProjectChoice(id=p.id, name=p.name) for p in await rt.projects.list_for(user)]
        self.is_admin = user.is_admin
        known = {p.id for p in self.projects} | {ALL_PROJECTS} | ({EVERYONE} if user.is_admin else set())
        if self.project_id not in known:
            self.project_id = ALL_PROJECTS
        project_id, everyone = self._scope()
        since, until = _window(self.window)
        group = self.group if self.group in GROUPS else "day"
        language = await language_of(self)  # figures and sentences made here, as the reader writes them
        self.error, self.export_error = "", ""
        try:
            by_model = await rt.usage.usage(
                user, project_id, group_by="model", since=since, until=until, everyone=everyone
            )
            by_time = await rt.usage.usage(
                user, project_id, group_by=group, since=since, until=until, everyone=everyone
            )
        except (NotFound, AccessDenied) as exc:
            self.rows, self.chart, self.total_text, self.error = [], [], "", await localized(self, str(exc))
        except InvalidUsageQuery as exc:
            self.rows, self.chart, self.total_text = [], [], ""
            self.error = joined_in_every_language(exc.errors.values())
        else:
            self.rows = [model_row(r, language) for r in by_model.rows]
            self.chart = over_time(by_time.rows)
            self.total_text = total_summary(by_model.runs, by_model.cost_usd, WINDOWS[self.window])
        burn = await rt.usage.burn_down(user)
        self.burn = burn_points(burn)
        self.has_budget = burn.budget_usd is not None
        self.burn_text = burn_summary(burn)
        self.loaded = True

    @event
    def set_project(self, project_id: str) -> Followup:
        self.project_id = project_id  # load keeps it only if I may read it
        return UsageState.load

    @event
    def set_group(self, group: str) -> Followup:
        self.group = group if group in GROUPS else "day"
        return UsageState.load

    @event
    def set_window(self, window: str) -> Followup:
        self.window = window if window in WINDOWS else "30d"
        return UsageState.load

    @event
    @with_user
    async def export(self, user: Principal, format: str) -> EventSpec | None:
        """The page's filters' runs as a file (read again here, with the user's rights now)."""
        if format not in FORMATS:
            format = "csv"
        project_id, everyone = self._scope()
        since, until = _window(self.window)
        self.export_error = ""
        try:
            body = await runtime.current().exports.runs(
                user, format=format, project_id=project_id, since=since, until=until, everyone=everyone
            )
            parts: list[bytes] = []
            lines, limit = 0, PAGE_EXPORT_MAX_RUNS + (1 if format == "csv" else 0)  # CSV has a header
            async for chunk in body:
                lines += chunk.count(b"\n")  # about one a run (an error text may hold a few)
                if lines > limit:
                    await body.aclose()  # type: ignore[attr-defined]
                    self.export_error = TOO_MANY_RUNS
                    return None
                parts.append(chunk)
        except (NotFound, AccessDenied) as exc:
            self.export_error = await localized(self, str(exc))
            return None
        name = f"runs-{since:%Y%m%d}-{until:%Y%m%d}.{format}"
        return rx.download(data=b"".join(parts), filename=name, mime_type=FORMATS[format])
