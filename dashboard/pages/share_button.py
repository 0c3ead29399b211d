"""The compare page's Share button and dialog, wired to ShareDialogState."""

from __future__ import annotations

import reflex as rx

from components.share_dialog import ShareDialogProps, share_dialog
from state.share_dialog import EXPIRY_LABELS, ShareDialogState


def share_button(*beside: rx.Component) -> rx.Component:
    props = ShareDialogProps(
        open=ShareDialogState.open,
        expiry=ShareDialogState.expiry,
        expiry_labels=EXPIRY_LABELS,
        new_link=ShareDialogState.new_link,
        links=ShareDialogState.links,
        error=ShareDialogState.error,
        on_open=ShareDialogState.set_open,
        on_expiry=ShareDialogState.set_expiry,
        on_create=ShareDialogState.create_link,
        on_revoke=ShareDialogState.revoke,
    )
    return rx.hstack(share_dialog(props), *beside, spacing="2", align="center")
