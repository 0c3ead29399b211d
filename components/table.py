"""The data table every page shows the same way.

A hidden caption names the table for screen readers (Radix puts the root's props on a wrapper
div, so an aria-label there would name the wrapper, not the table), and the table scrolls sideways
inside its own box on a narrow screen instead of widening the page.
"""

from __future__ import annotations

from typing import Any

import reflex as rx


def header_cell(text: rx.Var[str] | str | rx.Component, **props: Any) -> rx.Component:
    # One line: in a narrow column a Japanese header ("ベスト", "最終使用") broke a character a line.
    return rx.table.column_header_cell(text, white_space="nowrap", **props)


def data_table(
    caption: rx.Var[str] | str,
    headers: list[rx.Component],
    body_rows: rx.Component,
    *,
    size: str | None = "1",
) -> rx.Component:
    """`headers` are header cells (`header_cell`, or an rx.foreach of them for a dynamic part);
    `body_rows` is what goes in the body, usually an rx.foreach of rows."""
    sizing = {"size": size} if size else {}
    return rx.box(
        rx.table.root(
            rx.el.caption(caption, class_name="sr-only"),
            rx.table.header(rx.table.row(*headers)),
            rx.table.body(body_rows),
            width="100%",
            **sizing,
        ),
        overflow_x="auto",
        width="100%",
    )
