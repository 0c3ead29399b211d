"""The page's language (issue 16): the browser's choice in the `lang` cookie, kept on the account.

The browser decides what it shows (assets/i18n.js reads the cookie, else navigator.language);
this state mirrors the cookie so that handlers formatting a message, a date or a cost for
people use the same language (`await language_of(self)`), and saves a choice on the account so
that signing in on another browser brings it back (AuthState applies it at sign-in).
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.i18n import DEFAULT_LANGUAGE, LANGUAGE_COOKIE, in_every_language, negotiate, normalize
from state.events import Followup, event

COOKIE_MAX_AGE = 365 * 24 * 3600


def apply_language(language: str) -> EventSpec:
    """The script that switches the open page (and the cookie) to `language`."""
    return rx.call_script(f"window.__i18n && window.__i18n.setLanguage({json.dumps(language)})")


class LanguageState(rx.State):
    lang_cookie: str = rx.Cookie("", name=LANGUAGE_COOKIE, max_age=COOKIE_MAX_AGE, same_site="lax")

    def _language(self) -> str:
        """This tab's language: the cookie when chosen, else the browser's Accept-Language."""
        headers = self.router.headers
        return normalize(self.lang_cookie) or negotiate(getattr(headers, "accept_language", "") or "")

    @event
    async def choose(self, language: str) -> Followup:
        """The header's Language select: switch this page now, and keep it on the account."""
        from state.auth import signed_in_user  # here, not at the top: state.auth imports this module

        chosen = normalize(language) or DEFAULT_LANGUAGE
        self.lang_cookie = chosen
        principal = await signed_in_user(self)
        if principal is not None:
            await runtime.current().accounts.set_language(principal, chosen)
        return apply_language(chosen)


async def language_of(state: rx.State) -> str:
    """The language of the tab `state` belongs to, for messages and formats made on the server."""
    return (await state.get_state(LanguageState))._language()


async def localized(state: rx.State, text: str) -> str:
    """A service's message for the page: a message with figures (backend.i18n.Message) kept in
    every language, a fixed one as its English msgid; the page shows either in its language
    through `t_var` (and again when the person switches it). `state`: the tab it is for."""
    del state  # the same for every tab: the browser picks the language
    return in_every_language(text)


async def localized_all(state: rx.State, texts: dict[str, str]) -> dict[str, str]:
    return {key: await localized(state, text) for key, text in texts.items()}
