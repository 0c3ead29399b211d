"""Form fields shared by pages."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventCallback


def labelled_select(
    label: rx.Var[str], value: rx.Var[str], on_change: EventCallback[str], *options: rx.Component
) -> rx.Component:
    """A select inside its visible label: the label's text is the select's accessible name, with
    no id to keep unique when a page shows the same filter twice."""
    return rx.el.label(
        rx.text(label, size="2", weight="medium"),
        rx.el.select(*options, value=value, on_change=on_change, class_name="model-picker"),
        class_name="switch-label",
    )
