"""Settings page: provider keys and OpenAI-compatible endpoints, the user's own or (admins)
the deployment's (pure: rows and handlers come in as arguments).

Key inputs are password fields outside any state variable: the browser sends
the key once with the form and only ever gets "…abcd" back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventCallback

from components.delete_dialog import confirm_dialog
from components.i18n import t, t_var
from components.layout import field_error
from components.settings_sections import notice, section


@dataclass(frozen=True)
class KeyActions:
    on_save_key: EventCallback[dict[str, str]]  # form: provider, scope, api_key
    on_save_endpoint: EventCallback[dict[str, str]]  # form: scope, name, base_url, api_key
    on_delete: EventCallback[str, bool]  # (provider, deployment)
    on_test: EventCallback[str, bool]  # (provider, deployment)


def _hidden(name: str, value: Any) -> rx.Component:
    return rx.el.input(type="hidden", name=name, value=value)


def _test_result(row: Any) -> rx.Component:
    """The stored key's last test, beside it: never tested, failed (why) or tested (when)."""
    return rx.cond(
        row.is_set,
        rx.text(
            rx.match(
                row.test_state,
                ("ok", t("tested {date}", date=t_var(row.tested))),
                ("failed", t("test failed: {reason}", reason=t_var(row.test_message))),
                t("never tested"),
            ),
            size="2",
            color_scheme=rx.match(row.test_state, ("ok", "green"), ("failed", "red"), "amber"),
            weight=rx.cond(row.test_state == "ok", "regular", "medium"),
            role="status",
            aria_label=t("{provider} key test", provider=row.label),
        ),
    )


def _row_buttons(row: Any, actions: KeyActions) -> rx.Component:
    return rx.cond(
        row.is_set,
        rx.hstack(
            rx.button(
                t("Test key"),
                on_click=actions.on_test(row.provider, row.deployment),
                variant="soft",
                size="1",
                aria_label=t("Test {provider} key", provider=row.label),
                data_testid="test-key",
            ),
            confirm_dialog(
                rx.button(
                    t("Delete"),
                    color_scheme="red",
                    variant="soft",
                    size="1",
                    aria_label=t("Delete {provider} key", provider=row.label),
                    data_testid="delete-key",
                ),
                t("Delete this key?"),
                t("Models of this provider stop working until a key is saved again."),
                t("Delete"),
                actions.on_delete(row.provider, row.deployment),
            ),
            spacing="2",
        ),
    )


def _family_row(row: Any, scope: str, actions: KeyActions) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(row.label, weight="medium", width="8em"),
            rx.code(t_var(row.hint), data_testid="key-hint"),
            rx.cond(
                row.updated != "",
                rx.text(t("saved {date}", date=t_var(row.updated)), size="1", color_scheme="gray"),
            ),
            _test_result(row),
            _row_buttons(row, actions),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.form(
            rx.hstack(
                _hidden("provider", row.provider),
                _hidden("scope", scope),
                rx.input(
                    name="api_key",
                    type="password",
                    auto_complete="off",
                    placeholder=rx.cond(row.is_set, t("Paste a new key to replace it"), t("Paste the key")),
                    aria_label=t("{provider} key", provider=row.label),
                    width="22em",
                ),
                rx.button(
                    rx.cond(row.is_set, t("Replace"), t("Save")),
                    type="submit",
                    size="2",
                    aria_label=rx.cond(
                        row.is_set,
                        t("Replace {provider} key", provider=row.label),
                        t("Save {provider} key", provider=row.label),
                    ),
                ),
                spacing="2",
                align="center",
            ),
            on_submit=actions.on_save_key,
            reset_on_submit=True,
        ),
        field_error(t_var(row.error), "key-error"),
        spacing="2",
        width="100%",
        padding_y="0.5em",
        border_bottom="1px solid var(--gray-a4)",
        role="group",
        aria_label=row.label,
        data_testid="key-row",
    )


def _endpoint_row(row: Any, actions: KeyActions) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(row.label, weight="medium"),
            rx.code(row.base_url),
            rx.code(t_var(row.hint), data_testid="key-hint"),
            _test_result(row),
            _row_buttons(row, actions),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        spacing="1",
        width="100%",
        role="group",
        aria_label=row.label,
        data_testid="endpoint-row",
    )


def _endpoint_form(scope: str, error: rx.Var[str], actions: KeyActions) -> rx.Component:
    return rx.form(
        rx.hstack(
            _hidden("scope", scope),
            rx.input(
                name="name", placeholder=t("Name, e.g. vllm"), aria_label=t("Endpoint name"), width="10em"
            ),
            rx.input(
                name="base_url",
                placeholder="https://host:8000/v1",
                aria_label=t("Endpoint base URL"),
                width="18em",
            ),
            rx.input(
                name="api_key",
                type="password",
                auto_complete="off",
                placeholder=t("Key (optional)"),
                aria_label=t("Endpoint key"),
                width="14em",
            ),
            rx.button(t("Save endpoint"), type="submit", size="2"),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        field_error(t_var(error), "endpoint-error"),
        on_submit=actions.on_save_endpoint,
        reset_on_submit=False,
    )


def keys_section(
    *,
    title: rx.Var[str],
    description: rx.Var[str],
    scope: str,  # "user" | "deployment"
    keys: rx.Var,
    endpoints: rx.Var,
    endpoint_error: rx.Var[str],
    actions: KeyActions,
    test_id: str,
) -> rx.Component:
    return section(
        title,
        description,
        rx.foreach(keys, lambda row: _family_row(row, scope, actions)),
        rx.heading(t("OpenAI-compatible endpoints"), size="3", as_="h3"),
        rx.text(
            t(
                "A server speaking OpenAI's API (vLLM, LM Studio, …). Its models appear as "
                "openai-compatible:<name>/<model>; its key is only ever sent to its address."
            ),
            size="2",
            color_scheme="gray",
        ),
        rx.foreach(endpoints, lambda row: _endpoint_row(row, actions)),
        _endpoint_form(scope, endpoint_error, actions),
        test_id=test_id,
    )


def keys_message(message: rx.Var[str]) -> rx.Component:
    return notice(message, test_id="keys-message")


def google_cloud_section(status: rx.Var[str], ok: rx.Var[bool], checked: rx.Var[bool]) -> rx.Component:
    """Whether Vertex AI models can run: the project, the region and the credentials' state."""
    return section(
        t("Google Cloud (Vertex AI)"),
        t(
            "Gemini and Claude on Vertex AI take no key here: they run with this server's Google "
            "credentials (Application Default Credentials) in its Google Cloud project."
        ),
        rx.text(
            rx.cond(checked, t_var(status), t("Looking for Google credentials…")),
            size="2",
            color_scheme=rx.cond(checked, rx.cond(ok, "green", "red"), "gray"),
            role="status",
            data_testid="google-status",
        ),
        test_id="google-section",
    )
