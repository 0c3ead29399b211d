"""The signed-in page frame: the shell with the account menu wired to AuthState."""

from __future__ import annotations

import reflex as rx

from components.layout import shell, user_menu
from state.auth import AuthState


def signed_in_page(*children: rx.Component, title: str) -> rx.Component:
    return shell(
        *children,
        title=title,
        account=user_menu(AuthState.user_name, AuthState.user_email, AuthState.sign_out),
    )
