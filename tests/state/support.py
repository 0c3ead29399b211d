"""State instances for handler tests: a real state tree (so `get_state` finds AuthState)
and a signed-in session made through the account service."""

from __future__ import annotations

from typing import TypeVar

import reflex as rx

from backend.auth.tokens import new_token, token_hash
from backend.db import accounts as accounts_repo
from backend.db.models import utcnow
from backend.runtime import Runtime
from state.auth import AuthState
from tests.backend.runtime_support import OWNER_EMAIL, owner

T = TypeVar("T", bound=rx.State)


def in_tree(cls: type[T]) -> T:
    """A fresh instance of `cls` inside a fresh root state, as Reflex builds one per tab."""
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    return root.substates[cls.get_name()]  # type: ignore[return-value]


async def sign_in(state: rx.State, rt: Runtime, email: str = OWNER_EMAIL) -> str:
    """Give the state's tab a live session of `email` (created if needed); returns its token."""
    from datetime import timedelta

    principal = await owner(rt, email)
    token = new_token()
    async with rt.db.session() as session:
        await accounts_repo.create_session(
            session, principal.user_id, token_hash(token), utcnow() + timedelta(hours=1)
        )
    auth = await state.get_state(AuthState)
    auth._session_token = token
    return token
