"""The vote panel under a finished comparison: my vote (best answer, thumbs, comment) and the tally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.i18n import t, t_var
from components.layout import field_error
from components.table import data_table, header_cell


@dataclass(frozen=True)
class VoteProps:
    panes: rx.Var  # list[VotePaneRow]
    best: rx.Var[str]
    comment: rx.Var[str]
    tie: rx.Var[int]
    all_bad: rx.Var[int]
    votes_label: rx.Var[str]
    save_label: rx.Var[str]
    error: rx.Var[str]
    notice: rx.Var[str]
    on_best: EventCallback[str]
    on_comment: EventCallback[str]
    on_thumb: EventCallback[int, str]
    on_submit: EventCallback[()]


def turn_picker(
    turn: rx.Var[str], turns: ArrayVar[Sequence[Any]], on_turn: EventCallback[str]
) -> rx.Component:
    """In a conversation: which turn the vote and tally below are about (one vote per turn)."""
    return rx.hstack(
        rx.el.label(t("Vote on turn"), html_for="vote-turn", class_name="field-label"),
        rx.el.select(
            rx.foreach(turns, lambda n: rx.el.option(t("Turn {n}", n=n), value=n)),
            id="vote-turn",
            value=turn,
            on_change=on_turn,
        ),
        rx.text(t("Each turn has its own vote."), size="2", color_scheme="gray"),
        align="center",
        spacing="2",
        wrap="wrap",
    )


def _thumb(pane: Any, thumb: str, icon: str, on_thumb: EventCallback[int, str]) -> rx.Component:
    pressed = pane.thumb == thumb
    return rx.icon_button(
        rx.icon(icon, size=16),
        on_click=on_thumb(pane.position, thumb),
        variant=rx.cond(pressed, "solid", "outline"),
        color_scheme="green" if thumb == "up" else "red",
        size="2",
        aria_label=(
            t("Thumbs up for pane {n}", n=pane.position + 1)
            if thumb == "up"
            else t("Thumbs down for pane {n}", n=pane.position + 1)
        ),
        aria_pressed=rx.cond(pressed, "true", "false"),
        type="button",
    )


def _pane_choice(pane: Any, on_thumb: EventCallback[int, str]) -> rx.Component:
    return rx.hstack(
        rx.radio_group.item(t_var(pane.label), value=pane.position.to_string()),
        rx.text(pane.model_name, size="2", color_scheme="gray"),
        rx.spacer(),
        _thumb(pane, "up", "thumbs-up", on_thumb),
        _thumb(pane, "down", "thumbs-down", on_thumb),
        align="center",
        width="100%",
        wrap="wrap",
    )


def _tally(p: VoteProps) -> rx.Component:
    def row(pane: Any) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(t_var(pane.label)),
            rx.table.cell(pane.best_count),
            rx.table.cell(pane.thumbs_up),
            rx.table.cell(pane.thumbs_down),
        )

    return rx.vstack(
        rx.heading(t("Tally"), size="3", as_="h3"),
        data_table(
            t("Votes per pane"),
            [header_cell(h) for h in (t("Pane"), t("Best"), t("Thumbs up"), t("Thumbs down"))],
            rx.foreach(p.panes, row),
        ),
        rx.text(
            t("Tie: "),
            p.tie,
            " · ",
            t("All bad: "),
            p.all_bad,
            " · ",
            t_var(p.votes_label),
            size="2",
            role="group",
            aria_label=t("Vote totals"),
        ),
        spacing="2",
        width="100%",
    )


def vote_panel(p: VoteProps) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(t("Your vote"), size="4", as_="h2"),
            rx.text(
                t("Which answer is best? One vote per person; you can change it."),
                size="2",
                color_scheme="gray",
            ),
            rx.radio_group.root(
                rx.vstack(
                    rx.foreach(p.panes, lambda pane: _pane_choice(pane, p.on_thumb)),
                    rx.hstack(
                        rx.radio_group.item(t("Tie"), value="tie"),
                        rx.radio_group.item(t("All bad"), value="all_bad"),
                        spacing="5",
                    ),
                    spacing="2",
                    width="100%",
                ),
                value=p.best,
                on_change=p.on_best,
                aria_label=t("Best answer"),
                width="100%",
            ),
            rx.el.label(
                rx.text(t("Comment (optional)"), size="2", weight="medium"),
                rx.text_area(
                    value=p.comment,
                    on_change=p.on_comment,
                    rows="2",
                    width="100%",
                ),
                width="100%",
                display="flex",
                flex_direction="column",
                gap="0.25em",
            ),
            rx.hstack(
                rx.button(t_var(p.save_label), on_click=p.on_submit, type="button"),
                rx.cond(
                    p.notice != "",
                    rx.text(t_var(p.notice), size="2", color_scheme="green", role="status"),
                ),
                align="center",
                wrap="wrap",
            ),
            field_error(t_var(p.error), "vote-error"),
            rx.divider(),
            _tally(p),
            spacing="3",
            width="100%",
        ),
        width="100%",
        role="region",
        aria_label=t("Your vote"),
        data_testid="vote-panel",
    )
