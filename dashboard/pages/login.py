"""Sign in or create an account."""

from __future__ import annotations

import reflex as rx

from components.auth_form import AuthFormProps, auth_form
from components.layout import bare_shell
from state.auth import AuthState as A


def login_page() -> rx.Component:
    return bare_shell(
        auth_form(
            AuthFormProps(
                mode=A.mode,
                message=A.message,
                email_error=A.email_error,
                password_error=A.password_error,
                sign_up_allowed=A.sign_up_allowed,
                on_sign_in=A.sign_in,
                on_sign_up=A.sign_up,
                on_mode=A.set_mode,
            )
        ),
        title="Sign in",
    )
