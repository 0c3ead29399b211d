"""The notice above a blind comparison's panes, with its "Reveal models" button."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t


def blind_notice(on_reveal: EventCallback[()]) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("eye-off")),
        # Text and button share the callout's second column: the button sits after the text
        # (below it on a phone) at its own width, not stretched into a bar.
        rx.flex(
            rx.callout.text(
                t(
                    "Blind comparison: the panes are labelled Model A, Model B … in a random order. "
                    "Which model wrote which answer, and what each cost, shows once you vote or reveal. "
                    "Run waits until then; New starts another comparison."
                ),
                flex="1 1 20em",
            ),
            rx.button(
                rx.icon("eye", size=14),
                t("Reveal models"),
                variant="soft",
                size="1",
                on_click=on_reveal,
                title=t("Show the models now (for you only); voting shows them too"),
            ),
            align="center",
            gap="3",
            wrap="wrap",
        ),
        color_scheme="indigo",
        size="1",
        width="100%",
        role="status",
        data_testid="blind-notice",
    )
