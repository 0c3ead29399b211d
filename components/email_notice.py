"""The "check your email" notice (state/email_notice.py says when it shows)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.i18n import t, t_var


def email_notice(
    address: rx.Var[str], invitations: rx.Var[int], message: rx.Var[str], on_send: Any
) -> rx.Component:
    return rx.cond(
        address != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("mail")),
            rx.flex(
                rx.callout.text(t("Check your email"), weight="bold"),
                rx.callout.text(
                    rx.cond(
                        invitations == 1,
                        t(
                            "You were invited to a project. It appears once you confirm {address} "
                            "with the link we sent there.",
                            address=address,
                        ),
                        t(
                            "You were invited to {n} projects. They appear once you confirm {address} "
                            "with the link we sent there.",
                            n=invitations,
                            address=address,
                        ),
                    )
                ),
                rx.hstack(
                    rx.button(t("Send the link again"), on_click=on_send, variant="soft", size="1"),
                    rx.cond(message != "", rx.callout.text(t_var(message), role="status")),
                    align="center",
                    spacing="3",
                    wrap="wrap",
                ),
                direction="column",
                spacing="1",
            ),
            role="region",
            aria_label=t("Check your email"),
            color_scheme="indigo",  # as the blind notice: its text passes axe's contrast check
            size="1",
            width="100%",
            margin_bottom="1em",
            data_testid="email-notice",
        ),
    )
