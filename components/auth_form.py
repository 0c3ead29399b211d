"""Sign-in and sign-up forms (pure: every value and handler comes in as an argument)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx
from reflex.event import EventCallback

from components.i18n import t
from components.layout import field_error


@dataclass(frozen=True)
class AuthFormProps:
    mode: rx.Var[str]
    message: rx.Var[str]
    email_error: rx.Var[str]
    password_error: rx.Var[str]
    sign_up_allowed: rx.Var[bool]
    on_sign_in: EventCallback[dict[str, str]]
    on_sign_up: EventCallback[dict[str, str]]
    on_mode: EventCallback[str]


def _input(name: str, label: rx.Var[str], kind: str = "text", auto: str = "") -> rx.Component:
    return rx.vstack(
        # A real <label for>: rx.text(as_="label") put html_for into the CSS, leaving the field unnamed.
        rx.el.label(label, html_for=f"auth-{name}", class_name="field-label"),
        rx.input(id=f"auth-{name}", name=name, type=kind, auto_complete=auto, width="100%", size="3"),
        spacing="1",
        width="100%",
    )


def auth_form(p: AuthFormProps) -> rx.Component:
    sign_in = rx.form(
        rx.vstack(
            _input("email", t("Email"), "email", "username"),
            field_error(p.email_error, "email-error"),
            _input("password", t("Password"), "password", "current-password"),
            field_error(p.password_error, "password-error"),
            rx.button(t("Sign in"), type="submit", size="3", width="100%", id="sign-in-button"),
            spacing="3",
            width="100%",
        ),
        on_submit=p.on_sign_in,
        reset_on_submit=False,
        width="100%",
    )
    sign_up = rx.form(
        rx.vstack(
            _input("display_name", t("Name (shown to people you work with)"), "text", "name"),
            _input("email", t("Email"), "email", "username"),
            field_error(p.email_error, "email-error"),
            _input("password", t("Password (8 characters or more)"), "password", "new-password"),
            field_error(p.password_error, "password-error"),
            rx.button(t("Create account"), type="submit", size="3", width="100%", id="sign-up-button"),
            spacing="3",
            width="100%",
        ),
        on_submit=p.on_sign_up,
        reset_on_submit=False,
        width="100%",
    )
    return rx.card(
        rx.vstack(
            rx.heading(rx.cond(p.mode == "sign_up", t("Create an account"), t("Sign in")), size="6"),
            rx.cond(
                p.message != "",
                rx.callout(p.message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
            ),
            rx.cond(p.mode == "sign_up", sign_up, sign_in),
            rx.cond(
                p.mode == "sign_up",
                rx.button(
                    t("I have an account: sign in"), on_click=p.on_mode("sign_in"), variant="ghost", size="2"
                ),
                rx.cond(
                    p.sign_up_allowed,
                    rx.button(
                        t("New here? Create an account"),
                        on_click=p.on_mode("sign_up"),
                        variant="ghost",
                        size="2",
                        id="to-sign-up",
                    ),
                ),
            ),
            spacing="4",
            width="100%",
        ),
        width="min(420px, 100%)",
        size="4",
    )
