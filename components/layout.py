"""The page shell: header with navigation, then the page's content."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.style import resolved_color_mode

from components.i18n import LANGUAGE_NAMES, current_language, t


def _nav_link(label: rx.Var[str], href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", underline="none")


def _brand() -> rx.Component:
    return rx.hstack(
        rx.icon("columns-3", size=22),
        rx.heading("LLM Dashboard", size="5"),
        align="center",
        spacing="2",
    )


MAIN_ID = "main-content"


def _skip_link() -> rx.Component:
    """The first stop of the Tab key: straight past the header to the page's content."""
    # The client router does not move focus on a fragment link: the click does it itself.
    return rx.el.a(
        t("Skip to content"),
        href=f"#{MAIN_ID}",
        class_name="skip-link",
        on_click=rx.call_script(f"document.getElementById('{MAIN_ID}')?.focus()"),
    )


def language_select(on_change: EventCallback[str], **props: Any) -> rx.Component:
    """The page's language, named in both languages so either reader finds it."""
    return rx.el.select(
        *[rx.el.option(name, value=code, lang=code) for code, name in LANGUAGE_NAMES.items()],
        value=current_language(),
        on_change=on_change,
        aria_label="Language / 言語",
        title="Language / 言語",
        class_name="model-picker",
        **props,
    )


def color_mode_toggle(**props: Any) -> rx.Component:
    """Dark mode: the page starts as the system is set (Reflex's color mode "system"); this
    button flips it, and the browser remembers the choice."""
    return rx.icon_button(
        rx.color_mode_cond(light=rx.icon("moon", size=16), dark=rx.icon("sun", size=16)),
        on_click=rx.toggle_color_mode,
        variant="ghost",
        size="2",
        aria_label=t("Dark mode"),
        aria_pressed=rx.cond(resolved_color_mode == "dark", "true", "false"),
        title=t("Dark mode"),
        **props,
    )


def bare_shell(
    *children: rx.Component, title: rx.Var[str] | str, on_language: EventCallback[str]
) -> rx.Component:
    """Pages for people who are not signed in: brand and language, then the content centred."""
    return rx.box(
        rx.el.header(  # a landmark (banner), as every signed-in page's header
            rx.hstack(
                _brand(),
                rx.spacer(),
                language_select(on_language, id="language-select"),
                color_mode_toggle(id="color-mode-toggle"),
                padding_x="1.5em",
                padding_y="0.75em",
                width="100%",
                align="center",
            ),
        ),
        rx.el.main(
            rx.center(
                rx.heading(title, size="6", class_name="sr-only"),
                *children,
                padding="2em 1em",
                width="100%",
                direction="column",
            ),
            width="100%",
        ),
        width="100%",
        min_height="100vh",
    )


@dataclass(frozen=True)
class Account:
    """Who is signed in, and how they sign out: the header's account menu (and, on a phone,
    the same two actions in the page menu)."""

    name: rx.Var[str]
    email: rx.Var[str]
    on_sign_out: Any


def _nav_links(spacing: Any, direction: str = "row") -> rx.Component:
    return rx.el.nav(
        rx.flex(
            _nav_link(t("Compare"), "/"),
            _nav_link(t("History"), "/history"),
            _nav_link(t("Leaderboard"), "/leaderboard"),
            _nav_link(t("Usage"), "/usage"),
            _nav_link(t("Batches"), "/batches"),
            _nav_link(t("Projects"), "/projects"),
            rx.link("API", href="/api/v1/docs", size="3", is_external=True, underline="none"),
            spacing=spacing,
            wrap="wrap",
            align="start" if direction == "column" else "center",
            direction=direction,
        ),
        aria_label=t("Main"),
    )


PHONE = "none"  # below Radix's `sm` breakpoint (48em, 768 px): a phone gets the page menu
WIDE = "flex"


def page_menu(on_language: EventCallback[str], account: Account | None) -> rx.Component:
    """On a phone the header is one row, brand and a Menu button, so the page gets the screen;
    the button opens the links, the language, dark mode and the account's Settings and Sign out."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.icon_button(rx.icon("menu", size=18), variant="soft", size="3", aria_label=t("Menu"))
        ),
        rx.popover.content(
            rx.vstack(
                _nav_links("3", "column"),
                rx.separator(size="4"),
                rx.hstack(language_select(on_language), color_mode_toggle(), align="center", spacing="3"),
                *(
                    [
                        rx.separator(size="4"),
                        rx.text(account.email, size="1", color_scheme="gray"),
                        rx.link(t("Settings"), href="/settings", size="3", underline="none"),
                        rx.button(
                            t("Sign out"), on_click=account.on_sign_out, color_scheme="red", variant="soft"
                        ),
                    ]
                    if account is not None
                    else []
                ),
                spacing="3",
                align="start",
            ),
            aria_label=t("Menu"),
            side="bottom",
            align="end",
            max_width="calc(100vw - 1.5em)",
        ),
    )


def user_menu(name: rx.Var[str], email: rx.Var[str], on_sign_out: Any) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.icon("circle-user", size=16),
                name,
                variant="soft",
                size="2",
                id="user-menu",
                # Named before the user's name arrives too (axe found it nameless for a moment);
                # "Account: <name>" says what the button opens and keeps the name shown in it.
                aria_label=rx.cond(name != "", t("Account: {name}", name=name), t("Account")),
            )
        ),
        rx.menu.content(
            rx.box(rx.text(email, size="1", color_scheme="gray"), padding_x="0.75em", padding_y="0.25em"),
            rx.menu.item(t("Settings"), on_click=rx.redirect("/settings")),
            rx.menu.separator(),
            rx.menu.item(t("Sign out"), on_click=on_sign_out, id="sign-out", color_scheme="red"),
        ),
    )


def shell(
    *children: rx.Component,
    title: rx.Var[str] | str,
    on_language: EventCallback[str],
    account: Account | None = None,
) -> rx.Component:
    # From 768 px the header wraps instead of overflowing (the links go to a second row under the
    # brand and the account menu); below it, on a phone, it is one row with the page menu.
    wide_only = rx.breakpoints(initial=PHONE, sm=WIDE)
    return rx.box(
        _skip_link(),
        rx.el.header(
            rx.flex(
                _brand(),
                rx.hstack(
                    language_select(on_language, id="language-select"),
                    color_mode_toggle(id="color-mode-toggle"),
                    user_menu(account.name, account.email, account.on_sign_out)
                    if account is not None
                    else rx.fragment(),
                    order="2",
                    align="center",
                    spacing="3",
                    display=wide_only,
                ),
                rx.box(
                    _nav_links(rx.breakpoints(initial="4", sm="5")),
                    order=rx.breakpoints(initial="3", md="1"),
                    width=rx.breakpoints(initial="100%", md="auto"),
                    display=rx.breakpoints(initial=PHONE, sm="block"),
                ),
                rx.box(page_menu(on_language, account), display=rx.breakpoints(initial="block", sm=PHONE)),
                wrap="wrap",
                justify="between",
                align="center",
                column_gap="1.5em",
                row_gap="0.5em",
                padding_x=rx.breakpoints(initial="1em", sm="1.5em"),
                padding_y=rx.breakpoints(initial="0.5em", sm="0.75em"),
                border_bottom="1px solid var(--gray-a5)",
                width="100%",
            ),
        ),
        rx.el.main(
            rx.heading(title, size="6", margin_bottom="0.75em", class_name="sr-only"),
            *children,
            id=MAIN_ID,
            tab_index=-1,  # the skip link moves focus here
            padding=rx.breakpoints(initial="1em 0.75em", sm="1.25em 1.5em"),
            width="100%",
            outline="none",
        ),
        width="100%",
        min_height="100vh",
    )


def field_error(message: rx.Var[str], test_id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.text(message, color_scheme="red", size="2", role="alert", data_testid=test_id),
    )
