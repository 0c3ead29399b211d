"""The leaderboard page's parts: filters, the table, the strength chart, the win-rate matrix and
the recommendation panel. Pure functions of typed rows and event handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.fields import labelled_select
from components.i18n import t, t_var
from components.layout import field_error
from components.table import data_table, header_cell

SOURCE_LABELS = (("human", t("Human votes")), ("judge", t("Judge verdicts")))
WINDOW_LABELS = (("all", t("All time")), ("30d", t("Last 30 days")), ("7d", t("Last 7 days")))


@dataclass(frozen=True)
class LeaderboardProps:
    projects: rx.Var  # list[ProjectChoice]
    project_id: rx.Var[str]
    source: rx.Var[str]
    window: rx.Var[str]
    style_control: rx.Var[bool]
    style_effects: rx.Var[str]
    rows: rx.Var  # list[LeaderRow]
    chart: rx.Var  # list[dict]: model, strength, error [below, above]
    chart_domain: rx.Var  # [low, high] of the strength axis
    matrix_models: rx.Var  # list[str]
    matrix: rx.Var  # list[MatrixRow]
    summary: rx.Var[str]
    empty: rx.Var[bool]
    loaded: rx.Var[bool]
    error: rx.Var[str]
    on_project: EventCallback[str]
    on_source: EventCallback[str]
    on_window: EventCallback[str]
    on_style_control: EventCallback[bool]


@dataclass(frozen=True)
class RecommendationProps:
    models: rx.Var  # list[str]: the board's models
    baseline: rx.Var[str]
    min_win_rate: rx.Var[str]
    error: rx.Var[str]
    answered: rx.Var[bool]
    model: rx.Var[str]  # "" when there is not enough evidence
    detail: rx.Var[str]
    on_baseline: EventCallback[str]
    on_min_win_rate: EventCallback[str]
    on_recommend: EventCallback[()]


def filters(p: LeaderboardProps) -> rx.Component:
    return rx.hstack(
        labelled_select(
            t("Project"),
            p.project_id,
            p.on_project,
            rx.el.option(t("All my projects"), value="all"),
            rx.foreach(p.projects, lambda pr: rx.el.option(pr.name, value=pr.id)),
        ),
        labelled_select(
            t("Source"), p.source, p.on_source, *[rx.el.option(text, value=v) for v, text in SOURCE_LABELS]
        ),
        labelled_select(
            t("Time window"),
            p.window,
            p.on_window,
            *[rx.el.option(text, value=v) for v, text in WINDOW_LABELS],
        ),
        rx.el.label(
            rx.switch(checked=p.style_control, on_change=p.on_style_control, size="1"),
            " ",
            t("Style control"),
            class_name="switch-label",
            title=t(
                "Fit answer length, headers, lists and bold as covariates, so formatting does not "
                "rank a model up (human votes only)"
            ),
        ),
        rx.cond(p.style_effects != "", rx.text(t_var(p.style_effects), size="1", color_scheme="gray")),
        spacing="4",
        wrap="wrap",
        align="center",
    )


def _row(row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.cond(row.ranked, rx.text(row.rank, weight="bold"), rx.badge(t_var(row.rank), variant="soft"))
        ),
        rx.table.row_header_cell(rx.text(row.name), rx.text(row.model, size="1", color_scheme="gray")),
        rx.table.cell(row.strength),
        rx.table.cell(row.comparisons),
        rx.table.cell(row.cost),
        rx.table.cell(row.ttft),
        rx.table.cell(row.tps),
        data_testid="leaderboard-row",
    )


def board_table(rows: rx.Var) -> rx.Component:
    headers = (
        t("Rank"),
        t("Model"),
        t("Strength (95% CI)"),
        t("Comparisons"),
        t("Cost / 1k output"),
        t("Median TTFT"),
        t("Median tok/s"),
    )
    return data_table(
        t("Models ranked by strength"), [header_cell(h) for h in headers], rx.foreach(rows, _row), size=None
    )


def strength_chart(chart: rx.Var, domain: rx.Var) -> rx.Component:
    """Each model's strength as a point with its 95% interval as an error bar."""
    return rx.box(
        rx.recharts.line_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(
                data_key="model",
                interval=0,
                angle=-20,
                text_anchor="end",
                height=80,
                padding={"left": 60, "right": 60},  # room for the first and last labels
            ),
            # A domain from the intervals themselves, so no interval is cut off.
            rx.recharts.y_axis(domain=domain, allow_decimals=False, allow_data_overflow=True),
            rx.recharts.graphing_tooltip(),
            # Points only (the line is transparent): models on a category axis are not a series.
            rx.recharts.line(
                rx.recharts.error_bar(
                    data_key="error",
                    direction="y",
                    width=8,
                    stroke_width=2,
                    custom_attrs={"isAnimationActive": False},  # drawn at once, like the points
                ),
                data_key="strength",
                name=t("Strength"),
                stroke="transparent",
                dot={"r": 5, "fill": "var(--accent-9)", "stroke": "var(--accent-9)"},
                is_animation_active=False,
            ),
            data=chart,
            margin={"top": 10, "right": 20, "left": 10, "bottom": 10},
            height=320,
            width="100%",
        ),
        role="img",
        aria_label=t("Strength of each model with its 95% interval"),
        width="100%",
    )


def win_rate_matrix(models: rx.Var, matrix: rx.Var) -> rx.Component:
    return data_table(
        t("Pairwise win rates"),
        [header_cell(t("Model (row) against (column)")), rx.foreach(models, header_cell)],
        rx.foreach(
            matrix,
            lambda r: rx.table.row(
                rx.table.row_header_cell(r.model),
                rx.foreach(r.cells, lambda c: rx.table.cell(c)),
            ),
        ),
    )


def recommendation_panel(p: RecommendationProps) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(t("Recommendation"), size="4", as_="h2"),
            rx.text(
                t(
                    "The cheapest model that wins or ties at least X% of its comparisons "
                    "against your baseline."
                ),
                size="2",
                color_scheme="gray",
            ),
            rx.hstack(
                labelled_select(
                    t("Baseline model"),
                    p.baseline,
                    p.on_baseline,
                    rx.foreach(p.models, lambda m: rx.el.option(m, value=m)),
                ),
                rx.el.label(
                    rx.text(t("Minimum win rate (%)"), size="2", weight="medium"),
                    rx.input(
                        value=p.min_win_rate,
                        on_change=p.on_min_win_rate,
                        input_mode="decimal",
                        width="6em",
                    ),
                    class_name="switch-label",
                ),
                rx.button(t("Recommend"), on_click=p.on_recommend, type="button"),
                spacing="4",
                wrap="wrap",
                align="center",
            ),
            field_error(t_var(p.error), "recommendation-error"),
            rx.cond(
                p.answered,
                rx.box(
                    rx.cond(
                        p.model != "",
                        rx.heading(p.model, size="3", as_="h3"),
                        rx.heading(t("Not enough evidence"), size="3", as_="h3"),
                    ),
                    rx.text(t_var(p.detail), size="2"),
                    role="status",
                    aria_label=t("Recommendation result"),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def leaderboard_view(p: LeaderboardProps, rec: RecommendationProps) -> rx.Component:
    return rx.vstack(
        filters(p),
        field_error(t_var(p.error), "leaderboard-error"),
        rx.cond(
            p.empty,
            rx.callout(
                rx.vstack(
                    rx.text(t("No votes here yet."), weight="bold"),
                    rx.text(
                        t(
                            "Run a comparison, then pick the best answer under its panes: models appear "
                            "here with their strength once people have voted. Try another project or a "
                            "longer time window."
                        ),
                    ),
                    rx.link(t("Go to Compare"), href="/"),
                    spacing="1",
                ),
                icon="info",
                role="status",
                aria_label=t("Leaderboard status"),
                width="100%",
            ),
        ),
        rx.cond(
            p.loaded & ~p.empty,
            rx.vstack(
                rx.text(t_var(p.summary), size="2", color_scheme="gray"),
                board_table(p.rows),
                rx.heading(t("Strength with 95% intervals"), size="4", as_="h2"),
                strength_chart(p.chart, p.chart_domain),
                rx.heading(t("Pairwise win rates"), size="4", as_="h2"),
                win_rate_matrix(p.matrix_models, p.matrix),
                recommendation_panel(rec),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )
