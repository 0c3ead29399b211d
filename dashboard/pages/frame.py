"""The signed-in page frame: the shell with the account menu wired to AuthState."""

from __future__ import annotations

import reflex as rx

from components.email_notice import email_notice
from components.firebase_login import firebase_token_keeper
from components.layout import Account, shell
from state.auth import AuthState
from state.email_notice import EmailNoticeState
from state.language import LanguageState


def signed_in_page(*children: rx.Component, title: rx.Var[str] | str) -> rx.Component:
    return shell(
        email_notice(
            EmailNoticeState.address,
            EmailNoticeState.invitations,
            EmailNoticeState.message,
            EmailNoticeState.send_again,
        ),
        *children,
        # With Firebase, the ID token in the session cookie lasts an hour: renew it while the page is open.
        rx.cond(
            AuthState.auth_provider == "firebase",
            firebase_token_keeper(AuthState.firebase_config, AuthState.firebase_token_refreshed),
        ),
        title=title,
        on_language=LanguageState.choose,
        account=Account(AuthState.user_name, AuthState.user_email, AuthState.sign_out),
    )
