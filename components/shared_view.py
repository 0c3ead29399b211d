"""A shared comparison as its public page shows it (pure: values and handlers come in as props).

Nothing here links to a private page: a signed-out visitor gets "Sign in" only.
The prompt and errors are plain text; answers go through the strict SafeMarkdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t, t_var
from components.pane import run_metrics, status_badge
from components.safe_markdown import safe_markdown
from components.turns import conversation_view


@dataclass(frozen=True)
class SharedViewProps:
    loaded: rx.Var[bool]
    found: rx.Var[bool]
    prompt: rx.Var[str]
    system_prompt: rx.Var[str]
    owner_name: rx.Var[str]  # who shared it ('' when unknown)
    created: rx.Var[str]
    expires: rx.Var[str]
    panes: rx.Var
    image_hosts: rx.Var[Sequence[str]]
    fork_error: rx.Var[str]
    forking: rx.Var[bool]
    viewer_signed_in: rx.Var[bool]
    login_href: rx.Var[str]
    on_fork: EventCallback[()]
    confirm_fork: rx.Var[bool] | None = None  # already forked once: the question is open
    on_fork_again: EventCallback[()] | None = None
    on_confirm_fork: EventCallback[bool] | None = None  # the question opened or closed


def _fork_again_dialog(p: SharedViewProps) -> rx.Component:
    """A second Fork of the same comparison asks before making another copy."""
    if p.confirm_fork is None or p.on_fork_again is None or p.on_confirm_fork is None:
        return rx.fragment()
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(t("Fork this comparison again?")),
            rx.alert_dialog.description(
                t("You already have a copy of it (see History). Another Fork makes a second copy.")
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(t("Cancel"), variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(t("Fork again"), on_click=p.on_fork_again)),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=p.confirm_fork,
        on_open_change=p.on_confirm_fork,
    )


def _top_bar(p: SharedViewProps) -> rx.Component:
    return rx.hstack(
        rx.badge(t("Read-only shared link"), color_scheme="gray", variant="soft"),
        rx.spacer(),
        rx.cond(
            p.viewer_signed_in,
            rx.link(t("Open your dashboard"), href="/", size="2", id="share-dashboard"),
            rx.link(t("Sign in"), href=p.login_href, size="2", id="share-sign-in"),
        ),
        width="100%",
        align="center",
    )


def _metrics(pane: Any) -> rx.Component:
    return run_metrics(pane, cached_label=t("cached · "))


def _pane(pane: Any, image_hosts: rx.Var[Sequence[str]]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(pane.label, weight="bold", size="2"),
                rx.cond(pane.label != pane.model, rx.code(pane.model, size="1", variant="ghost")),
                rx.spacer(),
                status_badge(pane.status),
                align="center",
                width="100%",
                spacing="2",
            ),
            rx.cond(
                pane.error != "",
                rx.callout(
                    t_var(pane.error),
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    width="100%",
                    data_testid="shared-error",
                ),
            ),
            conversation_view(pane.earlier, pane.message, pane.turn),
            safe_markdown(
                text=pane.text,
                image_hosts=image_hosts,
                height="55vh",
                label=t("Answer: {model}", model=pane.label),
                data_testid="shared-output",
            ),
            _metrics(pane),
            spacing="2",
            width="100%",
        ),
        role="group",
        aria_label=pane.label,
        data_testid="shared-pane",
        data_model=pane.model,
        data_status=pane.status,
        min_width="0",
        overflow="hidden",
    )


def _comparison(p: SharedViewProps) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.heading(t("Shared comparison"), size="5"),
                rx.text(
                    rx.cond(
                        p.owner_name != "", t("Shared by {name}", name=p.owner_name), t("Shared comparison")
                    ),
                    rx.cond(p.created != "", rx.fragment(" · ", t_var(p.created))),
                    size="2",
                    color_scheme="gray",
                    role="group",
                    aria_label=t("Shared by"),
                ),
                rx.cond(
                    p.expires != "",
                    rx.text(t("Link expires {when}", when=t_var(p.expires)), size="1", color_scheme="gray"),
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("git-fork", size=14),
                t("Fork"),
                id="fork-button",
                on_click=p.on_fork,
                loading=p.forking,
                title=t("Copy this comparison into your own project to edit and run it again"),
            ),
            width="100%",
            align="start",
        ),
        _fork_again_dialog(p),
        rx.cond(
            p.fork_error != "",
            rx.callout(
                t_var(p.fork_error), icon="triangle-alert", color_scheme="red", size="1", width="100%"
            ),
        ),
        rx.cond(
            p.system_prompt != "",
            rx.box(
                rx.text(t("System prompt"), size="1", weight="medium", color_scheme="gray"),
                rx.text(
                    p.system_prompt, size="2", white_space="pre-wrap", data_testid="shared-system-prompt"
                ),
                width="100%",
            ),
        ),
        rx.box(
            rx.text(t("Prompt"), size="1", weight="medium", color_scheme="gray"),
            rx.text(p.prompt, size="3", white_space="pre-wrap", role="group", aria_label=t("Shared prompt")),
            width="100%",
        ),
        rx.grid(
            rx.foreach(p.panes, lambda pane: _pane(pane, p.image_hosts)),
            columns="repeat(auto-fit, minmax(340px, 1fr))",
            gap="1em",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def shared_view(p: SharedViewProps) -> rx.Component:
    return rx.vstack(
        _top_bar(p),
        rx.cond(
            p.loaded,
            rx.cond(
                p.found,
                _comparison(p),
                rx.callout(
                    t("This share link does not exist, has expired or was revoked."),
                    icon="link-2-off",
                    color_scheme="gray",
                    width="100%",
                    data_testid="share-not-found",
                ),
            ),
            rx.spinner(size="3"),
        ),
        spacing="4",
        width="min(1400px, 100%)",
    )
