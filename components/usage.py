"""The usage page's parts: filters, spend and runs over time, the table by model, the month's
budget burn-down and the export buttons. Pure functions of typed rows and event handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.fields import labelled_select
from components.i18n import t, t_var
from components.layout import field_error
from components.table import data_table, header_cell

TEXT = {
    "project": t("Project"),
    "all": t("All my projects"),
    "everyone": t("Everyone (admin)"),
    "group": t("Group by"),
    "window": t("Time window"),
    "over_time": t("Spend and runs over time"),
    "over_time_chart": t("Spend (USD) and runs per day or week"),
    "by_model": t("By model"),
    "by_model_caption": t("Usage by model"),
    "burn": t("Budget burn-down this month"),
    "burn_chart": t("This month's spend against the monthly budget, day by day"),
    "export": t("Export runs"),
    "csv": t("Download CSV"),
    "jsonl": t("Download JSON Lines"),
    "empty": t(
        "No finished runs in this window. Run a comparison, or pick a longer window or another project."
    ),
}
GROUP_LABELS = (("day", t("Day")), ("week", t("Week")))
WINDOW_LABELS = (("7d", t("Last 7 days")), ("30d", t("Last 30 days")), ("90d", t("Last 90 days")))
HEADERS = (
    t("Model"),
    t("Runs"),
    t("Error rate"),
    t("Tokens in"),
    t("Tokens out"),
    t("Spend"),
    t("TTFT p50"),
    t("TTFT p95"),
    t("tok/s p50"),
    t("tok/s p95"),
)


@dataclass(frozen=True)
class UsageProps:
    projects: rx.Var  # list[ProjectChoice]
    is_admin: rx.Var[bool]
    project_id: rx.Var[str]
    group: rx.Var[str]
    window: rx.Var[str]
    rows: rx.Var  # list[ModelUsageRow]
    chart: rx.Var  # list[dict]: bucket, cost, runs, errors, tokens_in, tokens_out
    burn: rx.Var  # list[dict]: day, spent, remaining, even pace
    has_budget: rx.Var[bool]
    burn_text: rx.Var[str]
    total_text: rx.Var[str]
    loaded: rx.Var[bool]
    empty: rx.Var[bool]
    error: rx.Var[str]
    export_error: rx.Var[str]
    on_project: EventCallback[str]
    on_group: EventCallback[str]
    on_window: EventCallback[str]
    on_export_csv: Any  # EventSpec: export("csv")
    on_export_jsonl: Any


def filters(p: UsageProps) -> rx.Component:
    return rx.hstack(
        labelled_select(
            TEXT["project"],
            p.project_id,
            p.on_project,
            rx.el.option(TEXT["all"], value="all"),
            rx.cond(p.is_admin, rx.el.option(TEXT["everyone"], value="everyone")),
            rx.foreach(p.projects, lambda pr: rx.el.option(pr.name, value=pr.id)),
        ),
        labelled_select(
            TEXT["group"], p.group, p.on_group, *[rx.el.option(label, value=v) for v, label in GROUP_LABELS]
        ),
        labelled_select(
            TEXT["window"],
            p.window,
            p.on_window,
            *[rx.el.option(label, value=v) for v, label in WINDOW_LABELS],
        ),
        spacing="4",
        wrap="wrap",
        align="center",
    )


def over_time_chart(chart: rx.Var) -> rx.Component:
    return rx.box(
        rx.recharts.composed_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="bucket"),
            rx.recharts.y_axis(y_axis_id="cost", orientation="left", width=60),
            rx.recharts.y_axis(y_axis_id="runs", orientation="right", allow_decimals=False, width=40),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            rx.recharts.bar(data_key="cost", name=t("Spend (USD)"), y_axis_id="cost", fill="var(--accent-9)"),
            rx.recharts.line(
                data_key="runs",
                name=t("Runs"),
                y_axis_id="runs",
                stroke="var(--orange-9)",
                is_animation_active=False,
            ),
            rx.recharts.line(
                data_key="errors",
                name=t("Errors"),
                y_axis_id="runs",
                stroke="var(--red-9)",
                is_animation_active=False,
            ),
            data=chart,
            margin={"top": 10, "right": 10, "left": 0, "bottom": 10},
            height=280,
            width="100%",
        ),
        role="img",
        aria_label=TEXT["over_time_chart"],
        width="100%",
    )


def _row(row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.model),
        rx.table.cell(row.runs),
        rx.table.cell(row.error_rate),
        rx.table.cell(row.tokens_in),
        rx.table.cell(row.tokens_out),
        rx.table.cell(row.cost),
        rx.table.cell(row.ttft_p50),
        rx.table.cell(row.ttft_p95),
        rx.table.cell(row.tps_p50),
        rx.table.cell(row.tps_p95),
    )


def model_table(rows: rx.Var) -> rx.Component:
    return data_table(TEXT["by_model_caption"], [header_cell(h) for h in HEADERS], rx.foreach(rows, _row))


def burn_down(p: UsageProps) -> rx.Component:
    lines = [
        rx.recharts.line(
            data_key="spent", name=t("Spent (USD)"), stroke="var(--accent-9)", is_animation_active=False
        ),
    ]
    budget_lines = [
        rx.recharts.line(
            data_key="remaining",
            name=t("Remaining (USD)"),
            stroke="var(--green-9)",
            is_animation_active=False,
        ),
        rx.recharts.line(
            data_key="even pace",
            name=t("Even pace (USD)"),
            stroke="var(--gray-9)",
            stroke_dasharray="4 4",
            is_animation_active=False,
        ),
    ]

    def chart(*series: rx.Component) -> rx.Component:
        return rx.recharts.line_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="day"),
            rx.recharts.y_axis(width=60),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            *series,
            data=p.burn,
            margin={"top": 10, "right": 10, "left": 0, "bottom": 10},
            height=240,
            width="100%",
        )

    return rx.vstack(
        rx.heading(TEXT["burn"], size="4", as_="h2"),
        rx.text(t_var(p.burn_text), size="2", role="group", aria_label=t("Budget burn-down summary")),
        rx.box(
            # Without a budget there is nothing to burn down: the spend alone.
            rx.cond(p.has_budget, chart(*lines, *budget_lines), chart(*lines)),
            role="img",
            aria_label=TEXT["burn_chart"],
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def export_buttons(p: UsageProps) -> rx.Component:
    return rx.vstack(
        rx.heading(TEXT["export"], size="4", as_="h2"),
        rx.hstack(
            rx.button(rx.icon("download", size=16), TEXT["csv"], on_click=p.on_export_csv, type="button"),
            rx.button(
                rx.icon("download", size=16),
                TEXT["jsonl"],
                on_click=p.on_export_jsonl,
                type="button",
                variant="soft",
            ),
            spacing="3",
            wrap="wrap",
        ),
        field_error(t_var(p.export_error), "export-error"),
        spacing="2",
        width="100%",
    )


def usage_view(p: UsageProps) -> rx.Component:
    return rx.vstack(
        filters(p),
        field_error(t_var(p.error), "usage-error"),
        rx.cond(
            p.empty,
            rx.callout(TEXT["empty"], icon="info", role="status", aria_label=t("Usage status"), width="100%"),
        ),
        rx.cond(
            p.loaded & ~p.empty & (p.error == ""),
            rx.vstack(
                rx.text(
                    t_var(p.total_text),
                    size="2",
                    color_scheme="gray",
                    role="group",
                    aria_label=t("Usage total"),
                ),
                rx.heading(TEXT["over_time"], size="4", as_="h2"),
                over_time_chart(p.chart),
                rx.heading(TEXT["by_model"], size="4", as_="h2"),
                model_table(p.rows),
                spacing="4",
                width="100%",
            ),
        ),
        rx.cond(p.loaded, burn_down(p)),
        export_buttons(p),
        spacing="4",
        width="100%",
    )
