"""The Judge panel under a finished comparison: pick a judge model and a rubric, start the
judge, and read each pair's result with the verdict and rationale of both orders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.i18n import said, t, t_var
from components.layout import field_error
from components.model_select import model_select


@dataclass(frozen=True)
class JudgeProps:
    judgements: ArrayVar[Sequence[Any]]  # list[JudgementRow], newest first
    models: rx.Var  # list[ModelOption]: the catalog
    judge_model: rx.Var[str]
    rubric: rx.Var[str]
    rubric_note: rx.Var[str]
    rubric_count: rx.Var[str]
    can_run: rx.Var[bool]
    can_manage: rx.Var[bool]
    judging: rx.Var[bool]
    model_error: rx.Var[str]
    rubric_error: rx.Var[str]
    general_error: rx.Var[str]
    notice: rx.Var[str]
    on_model: EventCallback[str]
    on_rubric: EventCallback[str]
    on_start: EventCallback[()]
    on_save_rubric: EventCallback[()]
    turn: rx.Var[str]  # the conversation turn to judge
    turn_options: ArrayVar[Sequence[Any]]  # every turn of the comparison ("1", "2" …)
    on_turn: EventCallback[str]


def _order(order: Any) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(t_var(order.shown), size="2", weight="medium"),
            rx.cond(
                order.verdict != "",
                rx.badge(t_var(order.verdict), variant="soft", color_scheme="indigo"),
                rx.badge(t_var(order.status), variant="outline", color_scheme="gray"),
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(order.rationale != "", rx.text(order.rationale, size="2")),
        rx.cond(order.error != "", rx.text(t_var(order.error), size="2", color_scheme="red")),
        rx.cond(
            order.text != "",
            rx.text(
                order.text,
                size="1",
                font_family="var(--code-font-family)",
                white_space="pre-wrap",
                word_break="break-word",
                color_scheme="gray",
            ),
        ),
        padding_left="0.75em",
        border_left="2px solid var(--gray-a5)",
        width="100%",
        role="group",
        aria_label=t("Judge order"),
    )


def _pair(pair: Any) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(t_var(pair.title), size="2", as_="h4"),
            rx.badge(
                t_var(pair.result),
                size="2",
                color_scheme=rx.match(pair.status, ("done", "green"), ("error", "red"), "gray"),
                role="group",
                aria_label=t("Pair result"),
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(pair.note != "", rx.text(t_var(pair.note), size="1", color_scheme="gray")),
        rx.foreach(pair.orders, _order),
        spacing="2",
        width="100%",
        data_testid="judge-pair",
    )


def _judgement(judgement: Any, conversation: rx.Var[bool]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(said(judgement.heading), size="3", as_="h3"),
            rx.cond(conversation, rx.badge(t("Turn {n}", n=judgement.turn), color_scheme="gray")),
            rx.badge(t_var(judgement.status), color_scheme=rx.cond(judgement.finished, "green", "amber")),
            rx.text(t_var(judgement.rubric_note), size="1", color_scheme="gray"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.foreach(judgement.pairs, _pair),
        spacing="3",
        width="100%",
        padding_top="0.5em",
        border_top="1px solid var(--gray-a5)",
        role="group",
        aria_label=t("Judgement"),
    )


def _controls(p: JudgeProps) -> rx.Component:
    return rx.hstack(
        model_select(p.models, p.judge_model, p.on_model, t("Judge model"), max_width="min(22em, 100%)"),
        rx.cond(
            p.turn_options.length() > 1,
            rx.el.select(
                rx.foreach(p.turn_options, lambda n: rx.el.option(t("Turn {n}", n=n), value=n)),
                value=p.turn,
                on_change=p.on_turn,
                aria_label=t("Turn to judge"),
            ),
        ),
        rx.button(
            rx.icon("scale", size=14),
            rx.cond(p.judging, t("Judging…"), t("Judge")),
            on_click=p.on_start,
            disabled=p.judging,
            type="button",
        ),
        align="center",
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def _rubric(p: JudgeProps) -> rx.Component:
    return rx.vstack(
        rx.el.label(
            rx.text(t("Rubric"), size="2", weight="medium"),
            rx.text_area(
                value=p.rubric,
                on_change=p.on_rubric,
                read_only=~p.can_run & ~p.can_manage,
                rows="5",
                width="100%",
            ),
            width="100%",
            display="flex",
            flex_direction="column",
            gap="0.25em",
        ),
        rx.hstack(
            rx.text(t_var(p.rubric_note), size="1", color_scheme="gray"),
            rx.text(p.rubric_count, size="1", color_scheme="gray"),
            justify="between",
            width="100%",
            wrap="wrap",
        ),
        field_error(t_var(p.rubric_error), "rubric-error"),
        rx.cond(
            p.can_manage,
            rx.hstack(
                rx.button(
                    t("Save as project rubric"),
                    on_click=p.on_save_rubric,
                    variant="soft",
                    size="1",
                    type="button",
                ),
                rx.text(t("Saving an empty rubric restores the default."), size="1", color_scheme="gray"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
        ),
        rx.cond(p.notice != "", rx.text(t_var(p.notice), size="2", color_scheme="green", role="status")),
        spacing="1",
        width="100%",
    )


def judge_panel(p: JudgeProps) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(t("Judge"), size="4", as_="h2"),
            rx.text(
                t(
                    "An LLM judges every pair of answers, in both orders; "
                    "orders that disagree count as a tie."
                ),
                size="2",
                color_scheme="gray",
            ),
            rx.cond(p.can_run, _controls(p)),
            field_error(t_var(p.model_error), "judge-model-error"),
            _rubric(p),
            field_error(t_var(p.general_error), "judge-error"),
            rx.cond(
                p.judgements.length() == 0,
                rx.text(t("No judge has run on this comparison yet."), size="2", color_scheme="gray"),
            ),
            rx.foreach(p.judgements, lambda j: _judgement(j, p.turn_options.length() > 1)),
            spacing="3",
            width="100%",
        ),
        width="100%",
        role="region",
        aria_label=t("Judge"),
        data_testid="judge-panel",
    )
