"""Settings: account, budget, API tokens and provider keys (and, for admins, the deployment's keys)."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.key_sections import KeyActions, google_cloud_section, keys_message, keys_section
from components.settings_sections import AccountProps, account_section, budget_section, tokens_section
from dashboard.pages.frame import signed_in_page
from state.account import AccountState as A
from state.keys import DEPLOYMENT, USER
from state.keys import KeysState as K

# The page's on_load: both states fill themselves (each checks the session first).
load_settings = [A.load, K.load, K.check_google]

_key_actions = KeyActions(
    on_save_key=K.save_key,
    on_save_endpoint=K.save_endpoint,
    on_delete=K.delete_key,
    on_test=K.test_key,
)


def settings_page() -> rx.Component:
    account = AccountProps(
        name=A.name,
        email=A.email,
        has_password=A.has_password,
        current_error=A.current_password_error,
        new_error=A.new_password_error,
        confirm_error=A.confirm_password_error,
        password_message=A.password_message,
        sessions_message=A.sessions_message,
        revoke_tokens=A.revoke_tokens,
        on_revoke_tokens=A.set_revoke_tokens,
        on_change_password=A.change_password,
        on_sign_out_everywhere=A.sign_out_everywhere,
    )
    return signed_in_page(
        rx.vstack(
            account_section(account),
            budget_section(
                A.budget_input, A.budget_label, A.spent_label, A.budget_error, A.budget_message, A.save_budget
            ),
            tokens_section(
                A.tokens, A.new_token, A.token_error, A.create_token, A.revoke_token, A.dismiss_token
            ),
            keys_message(K.message),
            keys_section(
                title=t("Provider keys"),
                description=t(
                    "Your own keys, used for your runs before this server's. Stored encrypted; "
                    "only the last four characters are ever shown."
                ),
                scope=USER,
                keys=K.keys,
                endpoints=K.endpoints,
                endpoint_error=K.endpoint_error,
                actions=_key_actions,
                test_id="keys-section",
            ),
            google_cloud_section(K.google_status, K.google_ok, K.google_checked),
            rx.cond(
                K.is_admin,
                keys_section(
                    title=t("Deployment keys"),
                    description=t("Keys every user runs on when they have none of their own (admins only)."),
                    scope=DEPLOYMENT,
                    keys=K.deployment_keys,
                    endpoints=K.deployment_endpoints,
                    endpoint_error=K.deployment_endpoint_error,
                    actions=_key_actions,
                    test_id="deployment-keys-section",
                ),
            ),
            spacing="4",
            width="min(900px, 100%)",
        ),
        title=t("Settings"),
    )
