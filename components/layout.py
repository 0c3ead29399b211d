"""The page shell: header with navigation, then the page's content."""

from __future__ import annotations

import reflex as rx


def _nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", underline="none")


def shell(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.hstack(
                rx.icon("columns-3", size=22),
                rx.heading("LLM Dashboard", size="5"),
                align="center",
                spacing="2",
            ),
            rx.hstack(
                _nav_link("Compare", "/"),
                _nav_link("History", "/history"),
                rx.link("API", href="/api/v1/docs", size="3", is_external=True, underline="none"),
                spacing="5",
            ),
            justify="between",
            align="center",
            padding_x="1.5em",
            padding_y="0.75em",
            border_bottom="1px solid var(--gray-a5)",
            width="100%",
        ),
        rx.box(
            rx.heading(title, size="6", margin_bottom="0.75em", class_name="sr-only"),
            *children,
            padding="1.25em 1.5em",
            width="100%",
        ),
        width="100%",
        min_height="100vh",
    )


def field_error(message: rx.Var[str], test_id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(message, color_scheme="red", size="2", role="alert", data_testid=test_id),
    )
