"""'Similar comparisons' under the prompt: past comparisons like the draft, with their winners,
and the models that won them offered as a one-click pane set."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.i18n import said, t

TEXT: dict[str, rx.Var[str]] = {
    "title": t("Similar comparisons"),
    "won": t("Won on similar prompts: "),
    "use": t("Use these models"),
}


def _item(row: Any) -> rx.Component:
    return rx.hstack(
        rx.link(said(row.title), href="/?c=" + row.id, size="2", data_testid="similar-link"),
        rx.cond(row.winner != "", rx.badge(t("Winner: {name}", name=row.winner), variant="soft")),
        rx.text(row.created, size="1", color_scheme="gray"),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def similar_panel(
    items: ArrayVar[Any],
    winners_label: rx.Var[str],
    winners_csv: rx.Var[str],
    on_use: EventCallback[str],
) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.el.section(
            rx.vstack(
                rx.text(TEXT["title"], weight="medium", size="2", id="similar-title"),
                rx.foreach(items, _item),
                rx.cond(
                    winners_label != "",
                    rx.hstack(
                        rx.text(TEXT["won"], winners_label, size="2"),
                        rx.button(
                            TEXT["use"], size="1", variant="soft", on_click=on_use(winners_csv), type="button"
                        ),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                ),
                spacing="1",
                width="100%",
            ),
            aria_labelledby="similar-title",
            data_testid="similar",
            style={"width": "100%"},
        ),
    )
