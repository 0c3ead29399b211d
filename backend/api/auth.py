"""Who an API request acts for: a personal API token, as `Authorization: Bearer <token>`
or `X-API-Key: <token>`.  Both headers go through the same check, and a request
carrying two different tokens is refused rather than guessing which one counts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from backend.auth.permissions import Principal
from backend.logs import USER_ID
from backend.runtime import Runtime

UNAUTHORIZED = (
    "Missing or invalid API token. Create one on the Settings page and send it as "
    "'Authorization: Bearer <token>'."
)


def _unauthorized(detail: str = UNAUTHORIZED) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request,
    authorization: Annotated[str, Header()] = "",
    x_api_key: Annotated[str, Header()] = "",
) -> Principal:
    scheme, _, bearer = authorization.partition(" ")
    if authorization and scheme.lower() != "bearer":
        raise _unauthorized()
    tokens = {t.strip() for t in (bearer, x_api_key) if t.strip()}
    if len(tokens) != 1:
        raise _unauthorized(UNAUTHORIZED if not tokens else "Send one API token, not two.")
    runtime: Runtime = request.app.state.get_runtime()
    token = tokens.pop()
    found = await runtime.accounts.principal_for_api_token(token)
    if found is None:
        raise _unauthorized()
    request.state.api_token = token  # for routes that check it again later (a long stream)
    USER_ID.set(found.user_id)  # this request's log records name the user by id, never by email
    return found


User = Annotated[Principal, Depends(current_principal)]
"""A route parameter of this type makes the route require an API token."""
