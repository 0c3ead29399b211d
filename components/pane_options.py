"""A pane's optional parameters under "More settings": each field only when the pane's model
takes it (its catalog capabilities, `pane.caps`)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t


def _number(
    pane: Any,
    field: str,
    label: rx.Var[str],
    active: rx.Var[bool],
    on_set: EventCallback[str, str, str],
    **props: Any,
) -> rx.Component:
    value = getattr(pane, field)
    return rx.cond(
        pane.caps.contains(field),
        rx.hstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.input(
                default_value=value,
                key=pane.pane_id + "-" + field + "-" + value,
                on_blur=lambda v: on_set(pane.pane_id, field, v),
                type="number",
                size="1",
                width="6em",
                disabled=active,
                aria_label=label,
                **props,
            ),
            align="center",
            spacing="2",
        ),
    )


def _format_select(pane: Any, active: rx.Var[bool], on_set: EventCallback[str, str, str]) -> rx.Component:
    return rx.cond(
        pane.caps.contains("json_mode") | pane.caps.contains("json_schema"),
        rx.hstack(
            rx.text(t("Output format"), size="1", color_scheme="gray"),
            rx.el.select(
                rx.el.option(t("Text"), value="text"),
                rx.cond(pane.caps.contains("json_mode"), rx.el.option(t("JSON"), value="json")),
                rx.cond(
                    pane.caps.contains("json_schema"), rx.el.option(t("JSON schema"), value="json_schema")
                ),
                value=pane.response_format,
                on_change=lambda v: on_set(pane.pane_id, "response_format", v),
                disabled=active,
                aria_label=t("Output format"),
                class_name="pane-model-select",
            ),
            align="center",
            spacing="2",
        ),
    )


def _text_box(
    pane: Any,
    field: str,
    label: rx.Var[str],
    active: rx.Var[bool],
    on_set: EventCallback[str, str, str],
    **props: Any,
) -> rx.Component:
    value = getattr(pane, field)
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text_area(
            default_value=value,
            key=pane.pane_id + "-" + field + "-" + value,
            on_blur=lambda v: on_set(pane.pane_id, field, v),
            size="1",
            width="100%",
            disabled=active,
            aria_label=label,
            **props,
        ),
        spacing="1",
        width="100%",
    )


def pane_options(
    pane: Any, active: rx.Var[bool], on_set: EventCallback[str, str, str], on_toggle: EventCallback[str]
) -> rx.Component:
    return rx.vstack(
        rx.button(
            rx.cond(pane.show_options, rx.icon("chevron-down", size=12), rx.icon("chevron-right", size=12)),
            t("More settings"),
            size="1",
            variant="ghost",
            on_click=on_toggle(pane.pane_id),
            aria_expanded=rx.cond(pane.show_options, "true", "false"),
        ),
        rx.cond(
            pane.show_options,
            rx.vstack(
                rx.hstack(
                    _number(pane, "top_p", t("Top P"), active, on_set, step="0.05", min="0", max="1"),
                    _number(pane, "seed", t("Seed"), active, on_set, step="1", min="0"),
                    _number(pane, "presence_penalty", t("Presence penalty"), active, on_set, step="0.1"),
                    _number(pane, "frequency_penalty", t("Frequency penalty"), active, on_set, step="0.1"),
                    _format_select(pane, active, on_set),
                    wrap="wrap",
                    spacing="3",
                ),
                rx.cond(
                    pane.caps.contains("stop"),
                    _text_box(pane, "stop", t("Stop sequences (one per line)"), active, on_set, rows="2"),
                ),
                rx.cond(
                    pane.caps.contains("json_schema") & (pane.response_format == "json_schema"),
                    _text_box(pane, "json_schema", t("JSON schema"), active, on_set, rows="5"),
                ),
                rx.cond(
                    pane.caps.length() == 0,
                    rx.text(t("This model takes no other settings."), size="1", color_scheme="gray"),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="1",
        width="100%",
        align="start",
    )
