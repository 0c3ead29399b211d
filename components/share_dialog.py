"""The Share dialog: pick an expiry, make a link (shown once, with Copy), revoke old links.

Pure: every value and handler comes in through ShareDialogProps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.i18n import t, t_var
from components.table import header_cell


@dataclass(frozen=True)
class ShareDialogProps:
    open: rx.Var[bool]
    expiry: rx.Var[str]
    expiry_labels: dict[str, str]
    new_link: rx.Var[str]
    links: ArrayVar[Sequence[Any]]
    error: rx.Var[str]
    on_open: EventCallback[bool]
    on_expiry: EventCallback[str]
    on_create: EventCallback[()]
    on_revoke: EventCallback[str]


def _new_link(p: ShareDialogProps) -> rx.Component:
    return rx.cond(
        p.new_link != "",
        rx.vstack(
            rx.text(t("Anyone with this link can read the comparison. It is shown only now."), size="2"),
            rx.hstack(
                rx.input(
                    value=p.new_link,
                    read_only=True,
                    width="100%",
                    id="share-link",
                    size="2",
                    aria_label=t("Share link"),
                ),
                rx.button(
                    rx.icon("copy", size=14),
                    t("Copy"),
                    on_click=rx.set_clipboard(p.new_link),
                    variant="soft",
                    id="copy-share-link",
                ),
                width="100%",
            ),
            width="100%",
            spacing="2",
        ),
    )


def _link_row(link: Any, on_revoke: EventCallback[str]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(t_var(link.created), size="1")),
        rx.table.cell(rx.text(t_var(link.expires), size="1")),
        rx.table.cell(
            # High contrast: axe measured the soft green text too faint on the dialog's panel.
            rx.badge(
                link.status,
                color_scheme=rx.cond(link.active, "green", "gray"),
                variant="soft",
                high_contrast=True,
            )
        ),
        rx.table.cell(
            rx.cond(
                link.active,
                rx.button(
                    t("Revoke"),
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    on_click=on_revoke(link.id),
                    data_testid="revoke-share",
                ),
            )
        ),
        data_testid="share-row",
    )


def _existing(p: ShareDialogProps) -> rx.Component:
    return rx.cond(
        p.links.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    header_cell(t("Created")),
                    header_cell(t("Expires")),
                    header_cell(t("Status")),
                    header_cell(rx.el.span(t("Actions"), class_name="sr-only")),
                )
            ),
            rx.table.body(rx.foreach(p.links, lambda link: _link_row(link, p.on_revoke))),
            size="1",
            width="100%",
        ),
        rx.text(t("No links yet."), size="2", color_scheme="gray"),
    )


def share_dialog(p: ShareDialogProps) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("share-2", size=14), t("Share"), variant="soft", id="share-button"),
        ),
        rx.dialog.content(
            rx.dialog.title(t("Share a read-only link")),
            rx.dialog.description(
                t(
                    "The link shows the prompt, each answer and its metrics as saved, to anyone who has it, "
                    "without an account. Your projects, keys and email stay private."
                ),
                size="2",
            ),
            rx.vstack(
                rx.hstack(
                    rx.text(t("Expires"), size="2"),
                    rx.select.root(
                        rx.select.trigger(id="share-expiry", aria_label=t("Expires")),
                        rx.select.content(
                            *[
                                rx.select.item(t_var(rx.Var.create(label)), value=value)
                                for value, label in p.expiry_labels.items()
                            ]
                        ),
                        value=p.expiry,
                        on_change=p.on_expiry,
                        size="2",
                    ),
                    rx.spacer(),
                    rx.button(t("Create link"), on_click=p.on_create, id="create-share-link"),
                    width="100%",
                    align="center",
                ),
                rx.cond(
                    p.error != "",
                    rx.callout(
                        t_var(p.error), icon="triangle-alert", color_scheme="red", size="1", width="100%"
                    ),
                ),
                _new_link(p),
                rx.heading(t("Links"), size="3"),
                _existing(p),
                rx.hstack(
                    rx.dialog.close(rx.button(t("Close"), variant="outline", color_scheme="gray")),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
                margin_top="0.75em",
            ),
            max_width="640px",
        ),
        open=p.open,
        on_open_change=p.on_open,
    )
