"""History's search box and its results: a form (query and filters) and one card per hit."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.i18n import said, t, t_var

TEXT: dict[str, rx.Var[str]] = {
    "query": t("Search comparisons"),
    "placeholder": t("Search prompts and answers, in any language"),
    "button": t("Search"),
    "clear": t("Clear search"),
    "project": t("Search in project"),
    "all_projects": t("All projects"),
    "model": t("Search model"),
    "any_model": t("Any model"),
    "from": t("From date"),
    "to": t("To date"),
    "has_votes": t("Has votes"),
}


def _select(name: str, label: rx.Var[str], first: rx.Var[str], choices: rx.Var) -> rx.Component:
    return rx.el.select(
        rx.el.option(first, value="all"),
        rx.foreach(choices, lambda c: rx.el.option(c.name, value=c.id)),
        name=name,
        default_value="all",
        aria_label=label,
        class_name="model-picker",
    )


def search_form(
    projects: rx.Var, models: rx.Var, on_submit: EventCallback[Any], on_clear: EventCallback[()]
) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="q",
                placeholder=TEXT["placeholder"],
                aria_label=TEXT["query"],
                type="search",
                max_length=2000,
                # Wide enough for the placeholder in Japanese too (full-width characters), and
                # never wider than the screen.
                flex="1 1 28em",
                max_width="100%",
                min_width="min(100%, 18em)",
            ),
            _select("project", TEXT["project"], TEXT["all_projects"], projects),
            _select("model", TEXT["model"], TEXT["any_model"], models),
            rx.input(name="from", type="date", aria_label=TEXT["from"], width="10em"),
            rx.input(name="to", type="date", aria_label=TEXT["to"], width="10em"),
            rx.el.label(
                rx.el.input(type="checkbox", name="has_votes"),
                TEXT["has_votes"],
                style={"display": "flex", "alignItems": "center", "gap": "0.3em"},
            ),
            rx.button(TEXT["button"], type="submit", size="2"),
            rx.button(TEXT["clear"], type="button", size="2", variant="soft", on_click=on_clear),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        role="search",
        width="100%",
    )


def _hit(row: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.link(said(row.title), href="/?c=" + row.id, weight="medium", data_testid="search-link"),
            rx.text(row.snippet, size="2", data_testid="search-snippet"),
            rx.hstack(
                rx.text(row.models, size="1"),
                rx.cond(row.winner != "", rx.badge(t("Winner: {name}", name=row.winner), variant="soft")),
                rx.text(t_var(row.created), size="1", color_scheme="gray"),
                rx.text(t_var(row.matched), size="1", color_scheme="gray"),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            spacing="1",
            align="start",
        ),
        width="100%",
        role="listitem",
    )


def search_results(
    rows: ArrayVar[Any], note: rx.Var[str], error: rx.Var[str], empty: rx.Var[str]
) -> rx.Component:
    return rx.vstack(
        rx.cond(
            error != "",
            rx.callout(t_var(error), color_scheme="red", role="alert", data_testid="search-error"),
        ),
        rx.cond(
            note != "",
            rx.callout(
                t_var(note),
                color_scheme="amber",
                high_contrast=True,
                role="status",
                data_testid="search-note",
            ),
        ),
        rx.cond(empty != "", rx.text(t_var(empty), size="2", role="status")),
        rx.cond(
            rows.length() > 0,
            rx.vstack(
                rx.foreach(rows, _hit),
                width="100%",
                spacing="2",
                role="list",
                aria_label=t("Search results"),
            ),
        ),
        width="100%",
        spacing="2",
    )
