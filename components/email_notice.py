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
                rx.text(t("Check your email"), weight="bold"),
                rx.text(
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
                    rx.cond(message != "", rx.text(t_var(message), size="2", role="status")),
                    align="center",
                    spacing="3",
                    wrap="wrap",
                ),
                direction="column",
                spacing="1",
            ),
            role="region",
            aria_label=t("Check your email"),
            color_scheme="amber",
            margin_bottom="1em",
            data_testid="email-notice",
        ),
    )
