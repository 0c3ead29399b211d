"""Sign-in state: the session cookie, who is signed in, and the sign-in/sign-up form.

Every handler that reads or changes saved data first calls
:func:`signed_in_user`, which re-checks the session token against the server
(an expired, revoked or unknown token gives None), so revoking a session takes
effect on that browser's next event.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import AuthError, Principal, SignedIn
from backend.i18n import N_
from state.connection_session import keep_cookie, prove
from state.events import Followup, event
from state.language import apply_language, localized, localized_all

LOGIN_ROUTE = "/login"
SIGNED_OUT_PARAM = "signed_out"  # /login?signed_out=1: the Firebase page signs out of Firebase too
FIREBASE_OFF = N_("Firebase sign-in is not enabled on this server.")
FIREBASE_ON = N_("This server signs in with Firebase: use the buttons above.")


class AuthState(rx.State):
    # The session this tab's connection proved (state/session_guard.py): server-side only. The
    # browser keeps it in the HttpOnly cookie SESSION_COOKIE, which no script on the page reads.
    _session_token: str = ""
    user_name: rx.Field[str] = rx.field("")
    user_email: rx.Field[str] = rx.field("")
    is_admin: rx.Field[bool] = rx.field(False)
    mode: rx.Field[str] = rx.field("sign_in")  # sign_in | sign_up
    form_errors: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    message: rx.Field[str] = rx.field("")
    sign_up_allowed: rx.Field[bool] = rx.field(True)
    _next: str = "/"  # where to go after signing in, read from ?next= when /login loads
    auth_provider: rx.Field[str] = rx.field("builtin")  # builtin | firebase, set when /login loads
    # The Firebase web config (apiKey, authDomain, projectId, emulatorHost): public by design.
    firebase_config: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    firebase_sign_out: rx.Field[bool] = rx.field(
        False
    )  # the login page signs out of Firebase first (after sign-out)
    # True once /login's load has answered in this tab (it stays true: a later visit shows the
    # form at once). Not `is_hydrated`: on a move within the app (Fork on a shared link) that is still
    # true from the page before, so the form showed, turned into a spinner while the load ran, and
    # came back; a click in that moment landed on nothing.
    login_ready: rx.Field[bool] = rx.field(False)

    @rx.var(cache=True)
    def signed_in(self) -> bool:
        return self.user_email != ""

    @rx.var(cache=True)
    def email_error(self) -> str:
        return self.form_errors.get("email", "")

    @rx.var(cache=True)
    def password_error(self) -> str:
        return self.form_errors.get("password", "")

    @event
    def set_mode(self, mode: str) -> None:
        self.mode = "sign_up" if mode == "sign_up" else "sign_in"
        self.form_errors, self.message = {}, ""

    @event
    async def load_login(self) -> Followup:
        """The login page: a browser that is still signed in goes where it wanted to go."""
        self.sign_up_allowed = runtime.current().settings.allow_sign_up
        self._load_provider()
        self.firebase_sign_out = SIGNED_OUT_PARAM in self.router.url.query_parameters
        # The mode stays what the person chose: the page is on screen (and "Create an account"
        # clickable) before this load answers, and a reset here flipped a form being filled back
        # to "Sign in". A sign-in, sign-up or sign-out puts it back to "Sign in" for next time.
        self.form_errors, self.message = {}, ""
        # The first visit: no account yet, so the page opens on sign-up (the first one is the admin).
        if not await runtime.current().accounts.has_accounts():
            self.mode = "sign_up"
        self.login_ready = True
        target = self.router.url.query_parameters.get("next", "/")
        # Only paths on this site: "//evil.example" or "https://…" would be an open redirect.
        self._next = target if target.startswith("/") and not target.startswith("//") else "/"
        if await signed_in_user(self) is not None:
            return rx.redirect(self._next_page())
        return None

    def _load_provider(self) -> None:
        settings = runtime.current().settings
        self.auth_provider = settings.auth_provider
        self.firebase_config = (
            {
                "apiKey": settings.firebase_web_api_key,
                "authDomain": settings.firebase_auth_domain,
                "projectId": settings.firebase_project_id,
                "emulatorHost": settings.firebase_auth_emulator_host,
            }
            if settings.auth_provider == "firebase"
            else {}
        )

    def _next_page(self) -> str:
        return self._next or "/"

    def _signed_in(self, result: SignedIn) -> Followup:
        self._set_session(result.token)
        self._show(result.principal)
        self.mode, self.form_errors, self.message = "sign_in", {}, ""
        return self._go_on(result.language, result.token)

    def _set_session(self, token: str) -> None:
        """The tab's session, proved by its connection (the sign-in came over it)."""
        self._session_token = token
        prove(self, token)

    def _go_on(self, language: str | None, token: str) -> Followup:
        """After signing in: the cookie, the account's language (on any browser it signs in
        from), then the page (a navigation in the page: the connection stays)."""
        from state.email_notice import EmailNoticeState  # it checks the session through this module

        # The cookie, then whether invitations wait for the address to be proven.
        events: list[Any] = [keep_cookie(token), EmailNoticeState.load]
        if language:
            events.append(apply_language(language))
        return [*events, rx.redirect(self._next_page())]

    def _show(self, principal: Principal | None) -> None:
        self.user_email = principal.email if principal else ""
        self.user_name = principal.display_name if principal else ""
        self.is_admin = principal.is_admin if principal else False

    @event
    async def sign_in(self, form: dict[str, str]) -> Followup:
        if _firebase_mode():  # password accounts made here would outlive a switch back to builtin
            self.message = FIREBASE_ON
            return None
        accounts = runtime.current().accounts
        address = self.router.session.client_ip
        try:
            result = await accounts.sign_in(
                str(form.get("email", "")), str(form.get("password", "")), address
            )
        except AuthError as exc:
            await self._refused(exc)  # e.g. the sign-in throttle's wait, with its figure
            return None
        return self._signed_in(result)

    async def _refused(self, exc: AuthError) -> None:
        self.form_errors = await localized_all(self, exc.errors)
        self.message = await localized(self, exc.message)

    @event
    async def sign_up(self, form: dict[str, str]) -> Followup:
        if _firebase_mode():
            self.message = FIREBASE_ON
            return None
        accounts = runtime.current().accounts
        try:
            result = await accounts.sign_up(
                str(form.get("email", "")),
                str(form.get("password", "")),
                str(form.get("display_name", "")),
            )
        except AuthError as exc:
            await self._refused(exc)
            return None
        return self._signed_in(result)

    @event
    async def sign_out(self) -> Followup:
        await runtime.current().accounts.sign_out(self._session_token)
        self._set_session("")
        self._show(None)
        self.mode = "sign_in"
        if _firebase_mode():  # else the Firebase SDK, still signed in, would sign straight back in
            # Set here too, not only by the login page's load: the page mounts with this tab's
            # state before that load answers, and must not take the SDK's user meanwhile.
            self.firebase_sign_out = True
            return [keep_cookie(""), rx.redirect(f"{LOGIN_ROUTE}?{SIGNED_OUT_PARAM}=1")]
        return [keep_cookie(""), rx.redirect(LOGIN_ROUTE)]

    # --- AUTH_PROVIDER=firebase: the page signs in with the Firebase JS SDK -----------
    @event
    async def firebase_signed_in(self, id_token: str) -> Followup:
        """The login page got an ID token: check it, keep it as the session cookie, go on."""
        principal = await self._accept_firebase_token(id_token)
        if principal is None:
            return None
        self.form_errors, self.message = {}, ""
        account = await runtime.current().accounts.account(principal)
        return self._go_on(account.language if account else None, self._session_token)

    @event
    async def firebase_token_refreshed(self, id_token: str) -> Followup:
        """The SDK renewed the (hourly) ID token on an open page: swap it in, stay on the page.

        Only for the session this tab has: a renewal never signs a tab in (after "Sign out",
        a page whose SDK has not signed out yet would sign it straight back in) nor switches it
        to another user; signing in is the login page's, with the user there."""
        signed_in_as = self.user_email
        if not self._session_token:
            return to_login(self)
        principal = await self._accept_firebase_token(id_token)
        if principal is None:
            return to_login(self)
        if signed_in_as and principal.email != signed_in_as:
            self._set_session("")
            self._show(None)
            return to_login(self)
        return keep_cookie(self._session_token)  # the renewed token is the cookie now

    async def _accept_firebase_token(self, id_token: str) -> Principal | None:
        if not _firebase_mode():
            self.message = FIREBASE_OFF
            return None
        try:
            principal = await runtime.current().firebase_auth().verify(str(id_token))
        except AuthError as refusal:
            self._set_session("")
            self._show(None)
            self.message = refusal.message
            return None
        self._set_session(id_token)
        self._show(principal)
        return principal


async def signed_in_user_for(token: str) -> Principal | None:
    """The user of a session token, checked now, without touching any state: for background
    events, which read the token under the state lock and check it after releasing it."""
    return await runtime.current().authenticate(token)


async def signed_in_user(state: rx.State) -> Principal | None:
    """The user the browser's session belongs to, checked against the server now."""
    auth = await state.get_state(AuthState)
    if auth.auth_provider != runtime.current().settings.auth_provider:
        auth._load_provider()  # once per tab: pages that keep a Firebase token fresh need the config
    principal = await runtime.current().authenticate(auth._session_token)
    auth._show(principal)
    return principal


def _firebase_mode() -> bool:
    return runtime.current().settings.auth_provider == "firebase"


def to_login(state: rx.State) -> EventSpec:
    """Send a signed-out browser to the login page, coming back here afterwards."""
    path = state.router.url.path or "/"
    query = state.router.url.query or ""
    here = path + (f"?{query}" if query else "")
    return rx.redirect(f"{LOGIN_ROUTE}?next={quote(here, safe='')}")
