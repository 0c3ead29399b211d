"""The History list: one row per saved comparison, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.delete_dialog import delete_comparison_dialog, delete_icon_button
from components.i18n import said, t, t_var

# A phone keeps the prompt, status and actions; models and date show from the sm breakpoint up.
_WIDE_ONLY = rx.breakpoints(initial="none", sm="table-cell")


def _row(row: Any, on_delete: EventCallback[str] | None) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.link(said(row.title), href="/?c=" + row.id, data_testid="history-link"),
                rx.cond(
                    row.version != "",
                    rx.badge(row.version, variant="soft", title=t("Version of this prompt")),
                ),
                rx.cond(
                    row.turns > 1,
                    rx.badge(t("{n} turns", n=row.turns), variant="outline", data_testid="turns-badge"),
                ),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(rx.text(row.models, size="2"), display=_WIDE_ONLY),
        # Kept in every language (state/history.py): shown in the page's, and again on a switch.
        rx.table.cell(rx.text(t_var(row.status), size="2")),
        rx.table.cell(rx.text(t_var(row.created), size="2", color_scheme="gray"), display=_WIDE_ONLY),
        rx.table.cell(
            rx.cond(row.can_delete, delete_comparison_dialog(on_delete(row.id), delete_icon_button()))
            if on_delete is not None
            else rx.fragment()
        ),
        data_testid="history-row",
    )


def project_filter(projects: rx.Var, project_id: rx.Var[str], on_change: EventCallback[str]) -> rx.Component:
    """The list's own project filter, labelled on screen: beside the search form's "Search in
    project" select, two bare "All projects" selects read as one control shown twice."""
    return rx.hstack(
        rx.el.label(t("Project"), html_for="history-project", style={"fontWeight": 500}),
        rx.el.select(
            rx.el.option(t("All projects"), value="all"),
            rx.foreach(projects, lambda pr: rx.el.option(pr.name, value=pr.id)),
            id="history-project",
            value=project_id,
            on_change=on_change,
            class_name="model-picker",
        ),
        align="center",
        spacing="2",
        margin_top="0.75em",
    )


def history_table(
    rows: ArrayVar[Sequence[Any]],
    page_label: rx.Var[str],
    has_prev: rx.Var[bool],
    has_next: rx.Var[bool],
    on_prev: EventCallback[()],
    on_next: EventCallback[()],
    on_delete: EventCallback[str] | None = None,
) -> rx.Component:
    return rx.vstack(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell(t("Prompt")),
                    rx.table.column_header_cell(t("Models"), display=_WIDE_ONLY),
                    rx.table.column_header_cell(t("Status")),
                    rx.table.column_header_cell(t("Created"), display=_WIDE_ONLY),
                    rx.table.column_header_cell(rx.el.span(t("Actions"), class_name="sr-only")),
                )
            ),
            rx.table.body(rx.foreach(rows, lambda row: _row(row, on_delete))),
            width="100%",
        ),
        rx.cond(rows.length() == 0, rx.text(t("No comparisons yet: run one from the Compare page."))),
        rx.hstack(
            rx.button(t("Newer"), on_click=on_prev, disabled=~has_prev, variant="soft"),
            rx.text(page_label, size="2"),
            rx.button(t("Older"), on_click=on_next, disabled=~has_next, variant="soft"),
            align="center",
            spacing="3",
        ),
        width="100%",
        spacing="3",
    )
