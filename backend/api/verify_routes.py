"""The emailed proof-of-address link, and asking for a new one.

Opening the link (GET) only shows a button: mail scanners and link previews fetch links, and a
GET that used the token would let a scanner at the victim's mail server prove an address for
whoever signed up with it. Pressing the button (POST, same origin) uses the token once.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from backend.api.auth import User
from backend.i18n import N_, gettext, request_language
from backend.runtime import Runtime

API_PREFIX = "/api/v1"
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_TOKEN = Query(default="", max_length=200, description="The token from the emailed link.")


CONFIRM_TITLE = N_("Confirm your email address")
CONFIRM_BUTTON = N_("Confirm")
CONFIRMED_TITLE = N_("Address confirmed")
CONFIRMED = N_("Projects you were invited to now appear.")
FAILED_TITLE = N_("This link does not work")
FAILED = N_("It was used already, has expired, or is not a link we sent. Ask for a new one.")


def _page(request: Request, title: str, body: str, status: int = 200, **words: str) -> HTMLResponse:
    """A small page in the reader's language (the app's language cookie, else Accept-Language);
    `body` names its words as {placeholders}, filled in translated and escaped."""
    language = request_language(request.headers.get("cookie"), request.headers.get("accept-language"))
    said = {name: html.escape(gettext(language, text)) for name, text in words.items()}
    heading = html.escape(gettext(language, title))
    return HTMLResponse(
        f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'>"
        f"<title>{heading}</title></head><body><main><h1>{heading}</h1>"
        f"{body.format(**said)}</main></body></html>",
        status_code=status,
        headers=_HEADERS,
    )


def verify_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get("/verify-email", response_class=HTMLResponse, tags=["accounts"])
    async def show_confirmation(request: Request, token: str = _TOKEN) -> HTMLResponse:
        """The page the emailed link opens: a button that confirms the address."""
        action = html.escape(f"{API_PREFIX}/verify-email?token={quote(token, safe='')}", quote=True)
        action = action.replace("{", "{{").replace("}", "}}")
        return _page(
            request,
            CONFIRM_TITLE,
            f"<form method='post' action='{action}'><button type='submit'>{{button}}</button></form>",
            button=CONFIRM_BUTTON,
        )

    @router.post("/verify-email", response_class=HTMLResponse, tags=["accounts"])
    async def confirm(request: Request, token: str = _TOKEN) -> HTMLResponse:
        """Use the link's token once: the address is proven and invitations to it are taken up."""
        if await get_runtime().accounts.confirm_email(token):
            return _page(request, CONFIRMED_TITLE, "<p>{text}</p>", text=CONFIRMED)
        return _page(request, FAILED_TITLE, "<p>{text}</p>", status=400, text=FAILED)

    @router.post("/me/verify-email", status_code=202, tags=["accounts"])
    async def resend(user: User) -> dict[str, bool]:
        """Email a new confirmation link to the signed-in account's address."""
        return {"sent": await get_runtime().accounts.send_verification(user)}

    return router
