"""The "Improve prompt" panel under a finished comparison: ask a model for a revised prompt,
accept or discard it; and the versions of this prompt with their win rates and cost."""

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
from components.table import data_table, header_cell


@dataclass(frozen=True)
class ImproveProps:
    models: rx.Var  # list[ModelOption]: the catalog
    model: rx.Var[str]
    can_run: rx.Var[bool]
    masked: rx.Var[bool]
    proposing: rx.Var[bool]
    has_proposal: rx.Var[bool]
    proposed_prompt: rx.Var[str]
    proposed_system_prompt: rx.Var[str]
    reason: rx.Var[str]
    versions: ArrayVar[Sequence[Any]]  # list[VersionRow]
    version_label: rx.Var[str]
    error: rx.Var[str]
    on_model: EventCallback[str]
    on_propose: EventCallback[()]
    on_accept: EventCallback[()]
    on_discard: EventCallback[()]


def _labelled_text(label: rx.Var[str], value: rx.Var[str]) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", aria_hidden="true"),
        rx.box(
            rx.text(value, size="2", white_space="pre-wrap", word_break="break-word"),
            padding="0.5em 0.75em",
            background="var(--gray-a3)",
            border_radius="var(--radius-2)",
            width="100%",
            role="group",
            aria_label=label,
        ),
        spacing="1",
        width="100%",
    )


def _proposal(p: ImproveProps) -> rx.Component:
    return rx.vstack(
        rx.heading(t("Proposed revision"), size="3", as_="h3"),
        _labelled_text(t("Revised prompt"), p.proposed_prompt),
        _labelled_text(t("Revised system prompt"), p.proposed_system_prompt),
        _labelled_text(t("Reason"), p.reason),
        rx.hstack(
            rx.button(t("Accept"), on_click=p.on_accept, type="button"),
            rx.button(
                t("Discard"), on_click=p.on_discard, variant="soft", color_scheme="gray", type="button"
            ),
            rx.text(
                t("Accept runs it on the same panes as the next version."), size="1", color_scheme="gray"
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        spacing="2",
        width="100%",
        role="group",
        aria_label=t("Proposed revision"),
    )


def _controls(p: ImproveProps) -> rx.Component:
    return rx.hstack(
        model_select(p.models, p.model, p.on_model, t("Model that improves"), max_width="min(22em, 100%)"),
        rx.button(
            rx.icon("sparkles", size=14),
            rx.cond(p.proposing, t("Asking…"), t("Improve prompt")),
            on_click=p.on_propose,
            disabled=p.proposing,
            type="button",
        ),
        align="center",
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def _version_row(v: Any) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.cond(
                v.current,
                rx.text(t("{version} (this one)", version=v.label), weight="bold"),
                rx.link(v.label, href="/?c=" + v.comparison_id),
            )
        ),
        rx.table.cell(
            rx.text(said(v.prompt), size="2"),
            rx.text(v.reason, size="1", color_scheme="gray"),
            min_width="14em",
        ),
        rx.table.cell(v.votes),
        rx.table.cell(rx.text(v.vote_win_rates, size="2")),
        rx.table.cell(rx.text(v.judge_win_rates, size="2")),
        rx.table.cell(v.cost),
    )


def _versions(p: ImproveProps) -> rx.Component:
    return rx.vstack(
        rx.heading(p.version_label, size="3", as_="h3", data_testid="version-label"),
        data_table(
            t("Versions of this prompt"),
            [
                header_cell(h)
                for h in (
                    t("Version"),
                    t("Prompt"),
                    t("Votes"),
                    t("Best by votes"),
                    t("Judge win rate"),
                    t("Cost"),
                )
            ],
            rx.foreach(p.versions, _version_row),
        ),
        spacing="2",
        width="100%",
    )


def improve_panel(p: ImproveProps) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(t("Improve prompt"), size="4", as_="h2"),
            rx.cond(
                p.masked,
                rx.text(
                    t(
                        "Vote or reveal the models first: an improvement and this prompt's versions "
                        "would name them."
                    ),
                    size="2",
                    color_scheme="gray",
                ),
                rx.fragment(
                    rx.cond(
                        p.can_run,
                        rx.vstack(
                            rx.text(
                                t(
                                    "A model reads the prompt, the answers, the votes and the judge's "
                                    "rationales, and proposes a better prompt."
                                ),
                                size="2",
                                color_scheme="gray",
                            ),
                            _controls(p),
                            spacing="2",
                            width="100%",
                        ),
                    ),
                    field_error(t_var(p.error), "improve-error"),
                    rx.cond(p.has_proposal, _proposal(p)),
                    rx.cond(p.versions.length() > 0, _versions(p)),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        role="region",
        aria_label=t("Improve prompt"),
        data_testid="improve-panel",
    )
