"""Sign in or create an account: the built-in form, or Firebase's with AUTH_PROVIDER=firebase."""

from __future__ import annotations

import reflex as rx

from components.auth_form import AuthFormProps, auth_form
from components.firebase_login import firebase_sign_in
from components.i18n import t, t_var
from components.layout import bare_shell
from state.auth import AuthState as A
from state.language import LanguageState


def _firebase_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(t("Sign in"), size="6"),
            firebase_sign_in(
                config=A.firebase_config,
                sign_out_first=A.firebase_sign_out,
                allow_sign_up=A.sign_up_allowed,
                message=A.message,
                on_token=A.firebase_signed_in,
            ),
            spacing="4",
            width="100%",
        ),
        width="min(420px, 100%)",
        size="4",
    )


def login_page() -> rx.Component:
    return bare_shell(
        # Nothing to type into before the page knows how this server signs in and which form
        # opens (state/auth.py login_ready): a Firebase server's visitor typing into the built-in
        # form during the first moment would be refused.
        rx.cond(
            ~A.login_ready,
            rx.center(rx.spinner(size="3"), padding="4em"),
            rx.cond(
                A.auth_provider == "firebase",
                _firebase_card(),
                auth_form(
                    AuthFormProps(
                        mode=A.mode,
                        message=t_var(A.message),
                        email_error=t_var(A.email_error),
                        password_error=t_var(A.password_error),
                        sign_up_allowed=A.sign_up_allowed,
                        on_sign_in=A.sign_in,
                        on_sign_up=A.sign_up,
                        on_mode=A.set_mode,
                    )
                ),
            ),
        ),
        title=t("Sign in"),
        on_language=LanguageState.choose,
    )
