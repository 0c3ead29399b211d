"""Sign-in state: the session cookie, who is signed in, and the sign-in/sign-up form.

Every handler that reads or changes saved data first calls
:func:`signed_in_user`, which re-checks the session token against the server
(an expired, revoked or unknown token gives None), so revoking a session takes
effect on that browser's next event.
"""

from __future__ import annotations

from urllib.parse import quote

import reflex as rx

from backend import runtime
from backend.auth import AuthError, Principal, SignedIn

SESSION_COOKIE = "llmdash_session"
LOGIN_ROUTE = "/login"


class AuthState(rx.State):
    # The session token lives in a cookie so a reload or a new tab stays signed in.
    session_token: str = rx.Cookie("", name=SESSION_COOKIE, same_site="strict", max_age=14 * 24 * 3600)
    user_name: str = ""
    user_email: str = ""
    is_admin: bool = False
    mode: str = "sign_in"  # sign_in | sign_up
    form_errors: dict[str, str] = {}
    message: str = ""
    sign_up_allowed: bool = True
    _next: str = "/"  # where to go after signing in, read from ?next= when /login loads

    @rx.var(cache=True)
    def signed_in(self) -> bool:
        return self.user_email != ""

    @rx.var(cache=True)
    def email_error(self) -> str:
        return self.form_errors.get("email", "")

    @rx.var(cache=True)
    def password_error(self) -> str:
        return self.form_errors.get("password", "")

    @rx.event
    def set_mode(self, mode: str) -> None:
        self.mode = "sign_up" if mode == "sign_up" else "sign_in"
        self.form_errors, self.message = {}, ""

    @rx.event
    async def load_login(self):  # type: ignore[no-untyped-def]
        """The login page: a browser that is still signed in goes where it wanted to go."""
        self.sign_up_allowed = runtime.current().settings.allow_sign_up
        self.mode, self.form_errors, self.message = "sign_in", {}, ""
        target = self.router.url.query_parameters.get("next", "/")
        # Only paths on this site: "//evil.example" or "https://…" would be an open redirect.
        self._next = target if target.startswith("/") and not target.startswith("//") else "/"
        if await signed_in_user(self) is not None:
            return rx.redirect(self._next_page())
        return None

    def _next_page(self) -> str:
        return self._next or "/"

    def _signed_in(self, result: SignedIn):  # type: ignore[no-untyped-def]
        self.session_token = result.token
        self._show(result.principal)
        self.form_errors, self.message = {}, ""
        return rx.redirect(self._next_page())

    def _show(self, principal: Principal | None) -> None:
        self.user_email = principal.email if principal else ""
        self.user_name = principal.display_name if principal else ""
        self.is_admin = principal.is_admin if principal else False

    @rx.event
    async def sign_in(self, form: dict[str, str]):  # type: ignore[no-untyped-def]
        accounts = runtime.current().accounts
        address = self.router.session.client_ip
        try:
            result = await accounts.sign_in(
                str(form.get("email", "")), str(form.get("password", "")), address
            )
        except AuthError as exc:
            self.form_errors, self.message = exc.errors, exc.message
            return None
        return self._signed_in(result)

    @rx.event
    async def sign_up(self, form: dict[str, str]):  # type: ignore[no-untyped-def]
        accounts = runtime.current().accounts
        try:
            result = await accounts.sign_up(
                str(form.get("email", "")),
                str(form.get("password", "")),
                str(form.get("display_name", "")),
            )
        except AuthError as exc:
            self.form_errors, self.message = exc.errors, exc.message
            return None
        return self._signed_in(result)

    @rx.event
    async def sign_out(self):  # type: ignore[no-untyped-def]
        await runtime.current().accounts.sign_out(self.session_token)
        self.session_token = ""
        self._show(None)
        return rx.redirect(LOGIN_ROUTE)


async def signed_in_user(state: rx.State) -> Principal | None:
    """The user the browser's session belongs to, checked against the server now."""
    auth = await state.get_state(AuthState)
    principal = await runtime.current().authenticate(auth.session_token)
    auth._show(principal)
    return principal


def to_login(state: rx.State):  # type: ignore[no-untyped-def]
    """Send a signed-out browser to the login page, coming back here afterwards."""
    path = state.router.url.path or "/"
    query = state.router.url.query or ""
    here = path + (f"?{query}" if query else "")
    return rx.redirect(f"{LOGIN_ROUTE}?next={quote(here, safe='')}")
