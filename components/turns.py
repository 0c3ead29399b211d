"""A comparison as a conversation (issue 19): each pane's earlier turns above its live answer,
and the follow-up box under the panes (pure: values and handlers come in as props)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t, t_var
from components.layout import field_error
from components.safe_markdown import safe_markdown

ALL_PANES = "all"  # state.conversation_state.ALL_PANES (components do not import state)


def _user_message(message: Any, turn: Any) -> rx.Component:
    return rx.box(
        rx.text(t("You · turn {n}", n=turn), size="1", weight="bold", color_scheme="gray"),
        rx.text(message, size="2", white_space="pre-wrap", data_testid="turn-message"),
        padding="0.4em 0.6em",
        border_radius="var(--radius-2)",
        background="var(--gray-a3)",
        width="100%",
    )


def conversation_view(earlier: rx.Var, message: rx.Var[str], turn: Any) -> rx.Component:
    """A pane's earlier turns (message, then its answer) and the message its live answer replies
    to; nothing on a one-turn comparison, whose message is the prompt above."""
    return rx.cond(
        turn > 1,
        rx.vstack(
            rx.foreach(
                earlier,
                lambda ex: rx.vstack(
                    _user_message(ex.message, ex.turn),
                    safe_markdown(
                        text=ex.answer,
                        image_hosts=[],
                        height="auto",
                        max_height="30vh",
                        data_testid="earlier-answer",
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            _user_message(message, turn),
            role="group",
            aria_label=t("Earlier turns"),
            spacing="2",
            width="100%",
        ),
    )


@dataclass(frozen=True)
class FollowUpProps:
    message: rx.Var[str]
    target: rx.Var[str]
    error: rx.Var[str]
    panes: rx.Var  # the compare page's PaneRows: run_id and label
    running: rx.Var[bool]
    can_run: rx.Var[bool]
    on_message: EventCallback[str]
    on_target: EventCallback[str]
    on_send: EventCallback[()]


def follow_up_form(p: FollowUpProps) -> rx.Component:
    """Under a finished comparison: one more message, to every pane or to one."""
    return rx.vstack(
        rx.el.label(t("Follow-up"), html_for="follow-up", class_name="field-label"),
        rx.text_area(
            id="follow-up",
            value=p.message,
            on_change=p.on_message,
            placeholder=t("Ask a follow-up: each model continues its own conversation"),
            rows="2",
            width="100%",
            disabled=~p.can_run,
            aria_invalid=rx.cond(p.error != "", "true", "false"),
        ),
        rx.hstack(
            rx.el.select(
                rx.el.option(t("All panes"), value=ALL_PANES),
                rx.foreach(
                    p.panes,
                    lambda pane, i: rx.el.option(
                        t("Pane {n}: {name}", n=i + 1, name=pane.label), value=pane.run_id
                    ),
                ),
                value=p.target,
                on_change=p.on_target,
                disabled=p.running | ~p.can_run,
                aria_label=t("Send to"),
            ),
            rx.button(
                rx.icon("send", size=14),
                t("Send follow-up"),
                on_click=p.on_send,
                disabled=p.running | ~p.can_run,
                aria_label=t("Send follow-up"),
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        field_error(t_var(p.error), "follow-up-error"),
        rx.cond(
            ~p.can_run,
            rx.text(
                t("Viewers can read this conversation but not continue it."),
                size="2",
                color_scheme="gray",
                data_testid="follow-up-read-only",
            ),
        ),
        role="group",
        aria_label=t("Follow-up"),
        width="100%",
        spacing="2",
    )
