"""Settings page, account part: password, sign out everywhere, budget and personal API tokens.

A new API token is the one secret this state holds, and only until the user
dismisses it or leaves the page: it must reach the browser once to be copied.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import reflex as rx

from backend import runtime
from backend.auth import AuthError, Principal
from backend.i18n import N_, Message, Usd, in_every_language, utc_moment_in_every_language
from backend.services.budgets import parse_budget
from state.auth import AuthState
from state.current_user import with_user
from state.events import event
from state.language import localized, localized_all


@dataclasses.dataclass
class TokenRow:
    id: str
    name: str
    prefix: str
    created: str
    last_used: str


NEVER = N_("never")  # shown translated (t_var) where a date is missing


def when(moment: datetime | None, never: str = NEVER) -> str:
    """A moment kept in every language (the page shows it in its own), or `never`."""
    return utc_moment_in_every_language(moment, never)


class AccountState(rx.State):
    name: rx.Field[str] = rx.field("")
    email: rx.Field[str] = rx.field("")
    has_password: rx.Field[bool] = rx.field(
        True
    )  # False for Firebase accounts: their password lives with Firebase
    password_errors: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    password_message: rx.Field[str] = rx.field("")
    sessions_message: rx.Field[str] = rx.field("")
    # Changing the password or signing out everywhere also revokes API tokens unless unticked:
    # a token minted from a stolen session would otherwise outlive it.
    revoke_tokens: rx.Field[bool] = rx.field(True)
    budget_input: rx.Field[str] = rx.field("")
    budget_label: rx.Field[str] = rx.field("")
    spent_label: rx.Field[str] = rx.field("")
    budget_error: rx.Field[str] = rx.field("")
    budget_message: rx.Field[str] = rx.field("")
    tokens: rx.Field[list[TokenRow]] = rx.field(default_factory=list)
    new_token: rx.Field[str] = rx.field("")
    token_error: rx.Field[str] = rx.field("")

    @rx.var(cache=True)
    def current_password_error(self) -> str:
        return self.password_errors.get("current", "")

    @rx.var(cache=True)
    def new_password_error(self) -> str:
        return self.password_errors.get("new", "")

    @rx.var(cache=True)
    def confirm_password_error(self) -> str:
        return self.password_errors.get("confirm", "")

    @event
    @with_user
    async def load(self, user: Principal) -> None:
        self.new_token = ""  # shown once: a reload does not show it again
        self.password_errors, self.password_message, self.sessions_message = {}, "", ""
        self.budget_error, self.budget_message, self.token_error = "", "", ""
        rt = runtime.current()
        account = await rt.accounts.account(user)
        self.name, self.email = user.display_name, user.email
        self.has_password = account is not None and account.password_hash is not None
        await self._load_budget(user.user_id)
        await self._load_tokens(user)
        return None

    async def _load_budget(self, user_id: str) -> None:
        spend = await runtime.current().budgets.spend(user_id)
        # Kept in every language, amounts as each writes them (Babel): the page shows its own,
        # and again when the person switches.
        if spend.budget_usd is None:
            self.budget_input = ""
            self.budget_label = N_("No monthly limit.")
        else:
            self.budget_input = f"{spend.budget_usd:.2f}"
            limit = Message("Monthly limit: {amount}.", amount=Usd(spend.budget_usd))
            self.budget_label = in_every_language(limit)
        spent = Message("Spent this month (UTC): {amount}.", amount=Usd(spend.spent_usd))
        self.spent_label = in_every_language(spent)

    async def _load_tokens(self, user: Principal) -> None:
        tokens = await runtime.current().accounts.list_api_tokens(user)
        self.tokens = [
            TokenRow(
                id=t.id,
                name=t.name,
                prefix=t.prefix + "…",
                created=when(t.created_at),
                last_used=when(t.last_used_at),
            )
            for t in tokens
        ]

    # --- password and sessions ---------------------------------------------------------
    @event
    @with_user
    async def change_password(self, user: Principal, form: dict[str, str]) -> None:
        current, new = str(form.get("current", "")), str(form.get("new", ""))
        self.password_message = ""
        if new != str(form.get("confirm", "")):
            self.password_errors = {"confirm": N_("The two new passwords differ.")}
            return None
        auth = await self.get_state(AuthState)
        try:
            tokens = await runtime.current().accounts.change_password(
                user, auth._session_token, current, new, revoke_api_tokens=self.revoke_tokens
            )
        except AuthError as exc:
            self.password_errors = await localized_all(self, exc.errors or {"current": exc.message})
            return None
        self.password_errors = {}
        self.password_message = await localized(self, _password_changed(tokens))
        if tokens:
            await self._load_tokens(user)
        return None

    @event
    def set_revoke_tokens(self, value: bool) -> None:
        self.revoke_tokens = value

    @event
    @with_user
    async def sign_out_everywhere(self, user: Principal) -> None:
        auth = await self.get_state(AuthState)
        count, tokens = await runtime.current().accounts.sign_out_everywhere(
            user, keep_token=auth._session_token, revoke_api_tokens=self.revoke_tokens
        )
        self.sessions_message = await localized(self, _signed_out(count, tokens))
        if tokens:
            await self._load_tokens(user)
        return None

    # --- budget ----------------------------------------------------------------------
    @event
    @with_user
    async def save_budget(self, user: Principal, form: dict[str, str]) -> None:
        self.budget_message = ""
        try:
            amount = parse_budget(str(form.get("budget", "")))
            await runtime.current().accounts.set_budget(user, amount)
        except ValueError:
            self.budget_error = N_(
                "Enter an amount in USD, like 20 or 12.50, or leave it empty for no limit."
            )
            return None
        except AuthError as exc:
            self.budget_error = await localized(self, exc.message)
            return None
        self.budget_error = ""
        self.budget_message = N_("Budget saved.")
        await self._load_budget(user.user_id)
        return None

    # --- API tokens ------------------------------------------------------------------
    @event
    @with_user
    async def create_token(self, user: Principal, form: dict[str, str]) -> None:
        try:
            self.new_token = await runtime.current().accounts.create_api_token(
                user, str(form.get("name", ""))
            )
        except AuthError as exc:
            self.token_error = await localized(self, exc.message)
            return None
        self.token_error = ""
        await self._load_tokens(user)
        return None

    @event
    @with_user
    async def revoke_token(self, user: Principal, token_id: str) -> None:
        await runtime.current().accounts.revoke_api_token(user, token_id)
        await self._load_tokens(user)
        return None

    @event
    @with_user
    async def dismiss_token(self, user: Principal) -> None:
        self.new_token = ""
        return None


# Whole sentences per case (tokens revoked or not, one or many): each language words them its way.
def _password_changed(tokens: int) -> Message:
    if not tokens:
        return Message("Password changed. Other browsers were signed out.")
    return Message("Password changed. Other browsers were signed out; API tokens revoked: {n}.", n=tokens)


def _signed_out(browsers: int, tokens: int) -> Message:
    if not tokens:
        if browsers == 1:
            return Message("Signed out of 1 other browser. This one stays signed in.")
        return Message("Signed out of {n} other browsers. This one stays signed in.", n=browsers)
    return Message(
        "Signed out of other browsers: {n}; API tokens revoked: {tokens}. This one stays signed in.",
        n=browsers,
        tokens=tokens,
    )
