"""Acts that cannot be undone ask first: a dialog whose "Delete"/"Remove" button acts and
whose other button keeps things as they are (a comparison, a key, a project member)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.i18n import t


def confirm_dialog(
    trigger: rx.Component,
    question: rx.Var[str] | str,
    consequence: rx.Var[str] | str,
    confirm_label: rx.Var[str] | str,
    on_confirm: Any,
) -> rx.Component:
    """`trigger` opens the question; only the confirm button in it acts."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(question),
            rx.alert_dialog.description(consequence),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(t("Keep it"), variant="soft")),
                # Soft red: the solid red button's white text fails axe's contrast check.
                rx.alert_dialog.action(
                    rx.button(confirm_label, color_scheme="red", variant="soft", on_click=on_confirm)
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
    )


def delete_comparison_dialog(on_confirm: Any, trigger: rx.Component) -> rx.Component:
    return confirm_dialog(
        trigger,
        t("Delete this comparison?"),
        t("Its answers, votes, verdicts and share links are deleted too. This cannot be undone."),
        t("Delete"),
        on_confirm,
    )


def delete_icon_button(**props: Any) -> rx.Component:
    return rx.icon_button(
        rx.icon("trash-2", size=14),
        variant="ghost",
        color_scheme="red",
        size="1",
        aria_label=t("Delete comparison"),
        title=t("Delete comparison"),
        **props,
    )


def delete_button() -> rx.Component:
    return rx.button(
        rx.icon("trash-2", size=14),
        t("Delete"),
        variant="soft",
        color_scheme="red",
        aria_label=t("Delete comparison"),
    )
