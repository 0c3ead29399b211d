"""The leaderboard page: one project's board (or all of mine), its chart and win rates, and the
recommendation against a baseline.

Everything comes from backend.services.leaderboard (one shared, cached service per database),
which checks membership; the page only ever shows projects the person can read.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import reflex as rx

from backend import runtime
from backend.auth import Principal
from backend.catalog import load_catalog
from backend.i18n import N_, Message, in_every_language, joined_in_every_language
from backend.ranking import ELO_PER_LOGIT, Recommendation, Source, StyleEffect
from backend.services.access import NotFound
from backend.services.leaderboard import (
    InvalidLeaderboardQuery,
    ProjectLeaderboard,
)
from backend.services.metrics import format_ms, format_rate
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized
from state.rows import ProjectChoice

ALL_PROJECTS = "all"
SOURCES = {"human": Source.HUMAN, "judge": Source.JUDGE}
WINDOWS = {"all": None, "30d": 30, "7d": 7}  # days back; None: all time
DEFAULT_MIN_WIN_RATE = "50"
BAD_MIN_WIN_RATE = N_("Enter a minimum win rate between 0 and 100 (%).")
PICK_BASELINE = N_("Pick a baseline model first.")


@dataclasses.dataclass
class LeaderRow:
    model: str
    name: str  # the catalog's display name
    rank: str  # "1", or "needs 12 more" / "not connected" while unranked
    ranked: bool
    strength: str  # "1012 (985–1040)": the rating and its 95% interval
    comparisons: int
    cost: str  # list price per 1k output tokens
    ttft: str
    tps: str


@dataclasses.dataclass
class MatrixRow:
    model: str
    cells: list[str]  # this model's win rate against each column's model ("–": never met)


def _display_name(model: str) -> str:
    info = load_catalog().get(model)
    return info.display_name if info else model


def _money(cost: float | None) -> str:
    if cost is None:
        return "–"
    return "$0" if cost == 0 else f"${cost:.4g}"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _since(window: str) -> datetime | None:
    days = WINDOWS.get(window)
    if days is None:
        return None
    # Whole hours: the service caches a board per `since`, and a time to the microsecond
    # would make every visit a new key (a fresh fit).
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=days)


def _rank(rank: int | None, needs_more: int) -> str:
    """The rank, or why there is none (in every language: the page shows it in its own)."""
    if rank is not None:
        return str(rank)
    if needs_more > 0:
        return in_every_language(Message(N_("needs {n} more"), n=needs_more))
    return N_("not connected")


def _strength(rating: float | None, low: float | None, high: float | None) -> str:
    if rating is None:
        return "–"
    if low is None or high is None:
        return f"{rating:.0f}"
    return f"{rating:.0f} ({low:.0f}–{high:.0f})"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


class LeaderboardState(rx.State):
    projects: rx.Field[list[ProjectChoice]] = rx.field(default_factory=list)  # those I can read
    project_id: rx.Field[str] = rx.field(ALL_PROJECTS)
    source: rx.Field[str] = rx.field("human")
    window: rx.Field[str] = rx.field("all")
    style_control: rx.Field[bool] = rx.field(False)  # length and formatting fitted as covariates
    style_effects: rx.Field[str] = rx.field("")  # what style control found, in words
    rows: rx.Field[list[LeaderRow]] = rx.field(default_factory=list)
    chart: rx.Field[list[dict[str, Any]]] = rx.field(default_factory=list)
    matrix_models: rx.Field[list[str]] = rx.field(default_factory=list)
    matrix: rx.Field[list[MatrixRow]] = rx.field(default_factory=list)
    n_outcomes: rx.Field[int] = rx.field(0)
    min_comparisons: rx.Field[int] = rx.field(0)
    loaded: rx.Field[bool] = rx.field(False)
    error: rx.Field[str] = rx.field("")
    baseline: rx.Field[str] = rx.field("")
    min_win_rate: rx.Field[str] = rx.field(DEFAULT_MIN_WIN_RATE)
    recommendation_error: rx.Field[str] = rx.field("")
    recommended: rx.Field[bool] = rx.field(False)  # a recommendation was asked for and answered
    recommended_model: rx.Field[str] = rx.field("")  # "" with recommended: not enough evidence
    recommendation_detail: rx.Field[str] = rx.field("")

    @rx.var(cache=True)
    def empty(self) -> bool:
        return self.loaded and self.n_outcomes == 0

    @rx.var(cache=True)
    def summary(self) -> str:
        if self.n_outcomes == 1:
            said = Message(
                N_("1 head-to-head result; a model is ranked after {n} comparisons."), n=self.min_comparisons
            )
        else:
            said = Message(
                N_("{count} head-to-head results; a model is ranked after {n} comparisons."),
                count=self.n_outcomes,
                n=self.min_comparisons,
            )
        return in_every_language(said)

    @rx.var(cache=True)
    def chart_domain(self) -> list[int]:
        """The strength axis: every interval, with a margin, in steps of 50."""
        lows = [p["strength"] - p["error"][0] for p in self.chart]
        highs = [p["strength"] + p["error"][1] for p in self.chart]
        if not lows:
            return [0, 2000]
        return [int(min(lows) // 50 * 50 - 50), int(-(-max(highs) // 50) * 50 + 50)]

    @rx.var(cache=True)
    def baseline_options(self) -> list[str]:
        return [r.model for r in self.rows]

    # --- loading -----------------------------------------------------------
    @event
    @with_user
    async def load(self, user: Principal) -> None:
        rt = runtime.current()
        self.projects = [ProjectChoice(id=p.id, name=p.name) for p in await rt.projects.list_for(user)]
        if self.project_id != ALL_PROJECTS and self.project_id not in {p.id for p in self.projects}:
            self.project_id = ALL_PROJECTS
        service = rt.leaderboard
        source, since = SOURCES.get(self.source, Source.HUMAN), _since(self.window)
        self.error = ""
        self._forget_recommendation()
        style = self.style_control and source is Source.HUMAN  # a judge is told to ignore style
        try:
            if self.project_id == ALL_PROJECTS:
                result = await service.leaderboard_all(user, source=source, since=since, style_control=style)
            else:
                result = await service.leaderboard(
                    user, self.project_id, source=source, since=since, style_control=style
                )
        except NotFound as exc:
            self._show(None)
            self.error = await localized(self, str(exc))
        except InvalidLeaderboardQuery as exc:
            self._show(None)
            self.error = joined_in_every_language(exc.errors.values())
        else:
            self._show(result)
        self.loaded = True

    def _show(self, result: ProjectLeaderboard | None) -> None:
        board = result.board if result is not None else None
        board_rows = board.rows if board is not None else ()
        figures = result.figures if result is not None else {}
        self.n_outcomes = board.n_outcomes if board is not None else 0
        self.style_effects = _style_words(board.style) if board is not None else ""
        self.min_comparisons = board.min_comparisons if board is not None else 0
        self.rows = [
            LeaderRow(
                model=r.model,
                name=_display_name(r.model),
                rank=_rank(r.rank, r.needs_more),
                ranked=r.rank is not None,
                strength=_strength(_finite(r.rating), _finite(r.ci_low), _finite(r.ci_high)),
                comparisons=r.comparisons,
                cost=_money(figures[r.model].cost_per_1k_output_usd),
                ttft=format_ms(figures[r.model].median_ttft_ms),
                tps=format_rate(figures[r.model].median_tokens_per_second),
            )
            for r in board_rows
        ]
        self.chart = [
            {
                "model": r.model,
                "strength": round(rating, 1),
                "error": [round(rating - low, 1), round(high - rating, 1)],
            }
            for r in board_rows
            if (rating := _finite(r.rating)) is not None
            and (low := _finite(r.ci_low)) is not None
            and (high := _finite(r.ci_high)) is not None
        ]
        rates = board.win_rates if board is not None else None
        self.matrix_models = list(rates.models) if rates is not None else []
        self.matrix = [
            MatrixRow(model=model, cells=[_percent(v) for v in row])
            for model, row in zip(self.matrix_models, rates.rates if rates is not None else (), strict=True)
        ]
        if self.baseline not in {r.model for r in board_rows}:
            most = max(board_rows, key=lambda r: r.comparisons, default=None)
            self.baseline = most.model if most is not None else ""

    def _forget_recommendation(self) -> None:
        self.recommended, self.recommended_model = False, ""
        self.recommendation_detail, self.recommendation_error = "", ""

    # --- filters -----------------------------------------------------------
    @event
    def set_project(self, project_id: str) -> Followup:
        self.project_id = project_id  # load keeps it only if I can read that project
        return LeaderboardState.load

    @event
    def set_source(self, source: str) -> Followup:
        self.source = source if source in SOURCES else "human"
        return LeaderboardState.load

    @event
    def set_style_control(self, value: bool) -> Followup:
        self.style_control = value
        return LeaderboardState.load

    @event
    def set_window(self, window: str) -> Followup:
        self.window = window if window in WINDOWS else "all"
        return LeaderboardState.load

    # --- recommendation ----------------------------------------------------
    @event
    def set_baseline(self, model: str) -> None:
        self.baseline = model
        self._forget_recommendation()

    @event
    def set_min_win_rate(self, value: str) -> None:
        self.min_win_rate = value
        self._forget_recommendation()

    @event
    @with_user
    async def recommend(self, user: Principal) -> None:
        self._forget_recommendation()
        try:
            percent = float(self.min_win_rate.strip().rstrip("%"))
        except ValueError:
            percent = math.nan
        if not math.isfinite(percent) or not 0.0 <= percent <= 100.0:
            self.recommendation_error = BAD_MIN_WIN_RATE
            return
        if not self.baseline:
            self.recommendation_error = PICK_BASELINE
            return
        service = runtime.current().leaderboard
        source, since = SOURCES.get(self.source, Source.HUMAN), _since(self.window)
        try:
            if self.project_id == ALL_PROJECTS:
                advice = await service.recommendation_all(
                    user, baseline=self.baseline, min_win_rate=percent / 100.0, source=source, since=since
                )
            else:
                advice = await service.recommendation(
                    user,
                    self.project_id,
                    baseline=self.baseline,
                    min_win_rate=percent / 100.0,
                    source=source,
                    since=since,
                )
        except NotFound as exc:
            self.recommendation_error = await localized(self, str(exc))
            return
        except InvalidLeaderboardQuery as exc:
            self.recommendation_error = joined_in_every_language(exc.errors.values())
            return
        self._show_recommendation(advice, percent)

    def _show_recommendation(self, advice: Recommendation, percent: float) -> None:
        # Kept in every language: the page shows its own, and again at once on a switch.
        self.recommended = True
        evidence = advice.evidence
        baseline = _display_name(advice.baseline)
        if advice.model is None or evidence is None:
            self.recommended_model = ""
            none_yet = Message(
                "No priced model's 95% interval of wins and ties against {baseline} lies at or above "
                "{percent}% yet. More votes that compare models with {baseline} will settle it.",
                baseline=baseline,
                percent=format(percent, "g"),
            )
            self.recommendation_detail = in_every_language(none_yet)
            return
        self.recommended_model = f"{_display_name(advice.model)} ({advice.model})"
        interval = f"{_percent(evidence.ci_low)}–{_percent(evidence.ci_high)}"
        cheapest = Message(
            "The cheapest model that wins or ties at least {percent}% against {baseline}: "
            "{count} of {comparisons} comparisons ({rate}, 95% interval {interval}), "
            "at {cost} per 1k output tokens.",
            percent=format(percent, "g"),
            baseline=baseline,
            count=evidence.wins + evidence.ties,
            comparisons=evidence.comparisons,
            rate=_percent(evidence.rate),
            interval=interval,
            cost=_money(evidence.cost_per_1k_output),
        )
        self.recommendation_detail = in_every_language(cheapest)


def _style_words(effects: tuple[StyleEffect, ...]) -> str:
    """E.g. "Style effects on the rating (Elo): tokens +35 (10 to 60) · bold -4 (-20 to 12)"."""
    parts = [
        f"{e.name} {e.elo:+.0f} ({e.ci_low * ELO_PER_LOGIT:.0f} to {e.ci_high * ELO_PER_LOGIT:.0f})"
        for e in effects
        if math.isfinite(e.coefficient) and math.isfinite(e.ci_low) and math.isfinite(e.ci_high)
    ]
    if not parts:
        return ""
    return in_every_language(
        Message(N_("Style effects on the rating (Elo): {effects}"), effects=" · ".join(parts))
    )
