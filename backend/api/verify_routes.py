"""The emailed proof-of-address link, and asking for a new one.

Opening the link (GET) only shows a button: mail scanners and link previews fetch links, and a
GET that used the token would let a scanner at the victim's mail server prove an address for
whoever signed up with it. Pressing the button (POST, same origin) uses the token once.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from backend.api.auth import User
from backend.runtime import Runtime

API_PREFIX = "/api/v1"
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_TOKEN = Query(default="", max_length=200, description="The token from the emailed link.")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f"{body}</main></body></html>",
        status_code=status,
        headers=_HEADERS,
    )


def verify_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get("/verify-email", response_class=HTMLResponse, tags=["accounts"])
    async def show_confirmation(token: str = _TOKEN) -> HTMLResponse:
        """The page the emailed link opens: a button that confirms the address."""
        action = html.escape(f"{API_PREFIX}/verify-email?token={quote(token, safe='')}", quote=True)
        return _page(
            "Confirm your email address",
            f"<form method='post' action='{action}'><button type='submit'>Confirm</button></form>",
        )

    @router.post("/verify-email", response_class=HTMLResponse, tags=["accounts"])
    async def confirm(token: str = _TOKEN) -> HTMLResponse:
        """Use the link's token once: the address is proven and invitations to it are taken up."""
        if await get_runtime().accounts.confirm_email(token):
            return _page("Address confirmed", "<p>Projects you were invited to now appear.</p>")
        return _page(
            "This link does not work",
            "<p>It was used already, has expired, or is not a link we sent. Ask for a new one.</p>",
            status=400,
        )

    @router.post("/me/verify-email", status_code=202, tags=["accounts"])
    async def resend(user: User) -> dict[str, bool]:
        """Email a new confirmation link to the signed-in account's address."""
        return {"sent": await get_runtime().accounts.send_verification(user)}

    return router
