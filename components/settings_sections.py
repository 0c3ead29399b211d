"""Settings page sections: account, budget and personal API tokens (pure: every value
and handler comes in as an argument).  Provider keys are in `key_sections`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ArrayVar

from components.i18n import t, t_var
from components.layout import field_error
from components.table import header_cell


def section(
    title: rx.Var[str] | str, description: rx.Var[str] | str, *children: rx.Component, test_id: str
) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4", as_="h2"),
            rx.text(description, size="2", color_scheme="gray"),
            *children,
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid=test_id,
    )


def labelled_input(
    name: str, label: rx.Var[str], kind: str = "text", auto: str = "off", **props: Any
) -> rx.Component:
    field_id = f"settings-{name}"
    return rx.vstack(
        # A real <label for>: rx.text(as_="label") put html_for into the CSS, leaving the field unnamed.
        rx.el.label(label, html_for=field_id, class_name="field-label"),
        rx.input(id=field_id, name=name, type=kind, auto_complete=auto, width="100%", **props),
        spacing="1",
        width="100%",
    )


def notice(message: rx.Var[str], color: str = "green", test_id: str = "") -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(t_var(message), color_scheme=color, size="2", role="status", data_testid=test_id),
    )


# --- account ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountProps:
    name: rx.Var[str]
    email: rx.Var[str]
    has_password: rx.Var[bool]
    current_error: rx.Var[str]
    new_error: rx.Var[str]
    confirm_error: rx.Var[str]
    password_message: rx.Var[str]
    sessions_message: rx.Var[str]
    revoke_tokens: rx.Var[bool]
    on_change_password: EventCallback[dict[str, str]]
    on_sign_out_everywhere: EventCallback[()]
    on_revoke_tokens: EventCallback[bool]


def account_section(p: AccountProps) -> rx.Component:
    password_form = rx.form(
        rx.vstack(
            labelled_input("current", t("Current password"), "password", "current-password"),
            field_error(t_var(p.current_error), "current-password-error"),
            labelled_input("new", t("New password (8 characters or more)"), "password", "new-password"),
            field_error(t_var(p.new_error), "new-password-error"),
            labelled_input("confirm", t("New password again"), "password", "new-password"),
            field_error(t_var(p.confirm_error), "confirm-password-error"),
            rx.button(t("Change password"), type="submit", id="change-password"),
            notice(p.password_message, test_id="password-message"),
            spacing="2",
            width="min(420px, 100%)",
        ),
        on_submit=p.on_change_password,
        reset_on_submit=True,
    )
    revoke_text = t(
        "Also revoke my API tokens when I change the password or sign out everywhere "
        "(scripts that use them stop working; a token made from a stolen session ends too)"
    )
    return section(
        t("Account"),
        t("Who you are signed in as."),
        rx.data_list.root(
            rx.data_list.item(rx.data_list.label(t("Name")), rx.data_list.value(p.name)),
            rx.data_list.item(rx.data_list.label(t("Email")), rx.data_list.value(p.email)),
        ),
        rx.cond(
            p.has_password,
            password_form,
            rx.text(t("You sign in with your identity provider; change your password there."), size="2"),
        ),
        rx.el.label(
            # Radix's checkbox is a <button>: the wrapping label's text does not name it for axe.
            rx.checkbox(checked=p.revoke_tokens, on_change=p.on_revoke_tokens, aria_label=revoke_text),
            " ",
            revoke_text,
            class_name="switch-label",
        ),
        rx.hstack(
            rx.button(
                t("Sign out everywhere else"),
                on_click=p.on_sign_out_everywhere,
                color_scheme="red",
                variant="soft",
                id="sign-out-everywhere",
            ),
            notice(p.sessions_message, test_id="sessions-message"),
            align="center",
            spacing="3",
        ),
        test_id="account-section",
    )


# --- budget -------------------------------------------------------------------------------


def budget_section(
    budget_input: rx.Var[str],
    budget_label: rx.Var[str],
    spent_label: rx.Var[str],
    error: rx.Var[str],
    message: rx.Var[str],
    on_save: EventCallback[dict[str, str]],
) -> rx.Component:
    return section(
        t("Budget"),
        t(
            "A monthly spend limit (USD, list prices, calendar month in UTC). A comparison that could "
            "pass it is refused before it runs."
        ),
        rx.text(t_var(budget_label), size="2", role="group", aria_label=t("Monthly budget")),
        rx.text(
            t_var(spent_label), size="2", weight="medium", role="group", aria_label=t("Spent this month")
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="budget",
                    default_value=budget_input,
                    key=budget_input,  # re-render with the saved value after a save
                    placeholder=t("No limit"),
                    aria_label=t("Monthly budget in USD"),
                    id="settings-budget",
                    width="10em",
                ),
                rx.button(t("Save budget"), type="submit", id="save-budget"),
                align="center",
                spacing="2",
            ),
            on_submit=on_save,
            reset_on_submit=False,
        ),
        field_error(t_var(error), "budget-error"),
        notice(message, test_id="budget-message"),
        test_id="budget-section",
    )


# --- API tokens ---------------------------------------------------------------------------


def _token_row(row: Any, on_revoke: EventCallback[str]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.name),
        rx.table.cell(rx.code(row.prefix), class_name="wide-only"),  # a phone needs the room
        rx.table.cell(rx.text(t_var(row.created), size="2")),
        rx.table.cell(rx.text(t_var(row.last_used), size="2")),
        rx.table.cell(
            rx.button(
                t("Revoke"),
                on_click=on_revoke(row.id),
                color_scheme="red",
                variant="soft",
                size="1",
                white_space="nowrap",  # on a phone it was squeezed to one character a line
            )
        ),
        data_testid="token-row",
    )


def _new_token_box(token: rx.Var[str], on_dismiss: EventCallback[()]) -> rx.Component:
    return rx.callout.root(
        rx.vstack(
            rx.text(
                t("Copy this token now: it is shown only once. Anyone who has it can act as you."),
                weight="medium",
            ),
            rx.hstack(
                rx.code(token, data_testid="new-token", style={"word_break": "break-all"}),
                rx.button(t("Copy"), on_click=rx.set_clipboard(token), size="1", variant="soft"),
                rx.button(t("Done"), on_click=on_dismiss, size="1", variant="outline"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
        ),
        color_scheme="amber",
        width="100%",
    )


def tokens_section(
    tokens: ArrayVar[Sequence[Any]],
    new_token: rx.Var[str],
    error: rx.Var[str],
    on_create: EventCallback[dict[str, str]],
    on_revoke: EventCallback[str],
    on_dismiss: EventCallback[()],
) -> rx.Component:
    return section(
        t("API tokens"),
        t("Personal tokens for the HTTP API (Authorization: Bearer …). They act with your rights."),
        rx.cond(new_token != "", _new_token_box(new_token, on_dismiss)),
        rx.form(
            rx.hstack(
                rx.input(
                    name="name",
                    placeholder=t("Token name, e.g. CI"),
                    aria_label=t("Token name"),
                    width="16em",
                ),
                rx.button(t("Create token"), type="submit", id="create-token"),
                align="center",
                spacing="2",
            ),
            on_submit=on_create,
            reset_on_submit=True,
        ),
        field_error(t_var(error), "token-error"),
        rx.cond(
            tokens.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        header_cell(t("Name")),
                        header_cell(t("Starts with"), class_name="wide-only"),
                        header_cell(t("Created")),
                        header_cell(t("Last used")),
                        header_cell(rx.el.span(t("Actions"), class_name="sr-only")),
                    )
                ),
                rx.table.body(rx.foreach(tokens, lambda row: _token_row(row, on_revoke))),
                width="100%",
            ),
            rx.text(t("No tokens yet."), size="2", color_scheme="gray"),
        ),
        test_id="tokens-section",
    )
