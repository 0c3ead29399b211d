"""Firebase sign-in (AUTH_PROVIDER=firebase): a browser holds a Firebase ID token, checked
on every event (revocation included), and each Firebase user maps onto a local account.

The first time a Firebase user is seen, the account with the same email is linked (or
a new one created, which also claims the invitations to that email): so the email must
be verified, or anyone could sign up in Firebase with someone else's address and take
over their account and invitations.  The ``role`` custom claim decides admin rights
(``"admin"``); project roles stay in project_members.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.accounts import AuthError
from backend.auth.firebase_tokens import (
    ADMIN_ROLE,
    DISABLED,
    UNAVAILABLE,
    FirebaseIdentity,
    FirebaseTokenChecker,
)
from backend.auth.permissions import Principal
from backend.db import accounts as repo
from backend.db.engine import Database
from backend.email_address import confusable_problem
from backend.settings import Settings

log = logging.getLogger(__name__)

NO_EMAIL = "This sign-in has no email address. Sign in with Google or with an email and password."
UNVERIFIED = "Verify your email address first: open the link we sent you, then sign in again."
EMAIL_IN_USE = "This email address already belongs to another account."
SIGN_UP_CLOSED = "Sign-up is closed on this server. Ask an admin for an invitation."


class FirebaseAuthenticator:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._settings = settings
        self._tokens = FirebaseTokenChecker(settings, clock)

    async def authenticate(self, id_token: str) -> Principal | None:
        """The token's user, or None if it is refused (see :meth:`verify` for why)."""
        try:
            return await self.verify(id_token)
        except AuthError as refusal:
            if refusal.message == UNAVAILABLE:
                log.warning("Firebase sign-in check failed: %s", refusal.__cause__)
            return None

    async def verify(self, id_token: str) -> Principal:
        """The token's user; AuthError with a message for the person when it is refused."""
        who = await asyncio.to_thread(self._tokens.check, id_token)
        account = await self._account_of(who)
        if account.disabled:
            raise AuthError(DISABLED)
        return Principal(
            user_id=account.id,
            email=account.email,
            display_name=account.display_name,
            is_admin=who.role == ADMIN_ROLE,
            via="firebase",
        )

    def close(self) -> None:
        self._tokens.close()

    async def _account_of(self, who: FirebaseIdentity) -> repo.Account:
        async with self._db.session() as session:
            account = await repo.account_by_firebase_uid(session, who.uid)
            return account if account is not None else await self._first_sight(session, who)

    async def _first_sight(self, session: AsyncSession, who: FirebaseIdentity) -> repo.Account:
        if not who.email:
            raise AuthError(NO_EMAIL)
        if not who.email_verified:
            raise AuthError(UNVERIFIED)
        if problem := confusable_problem(who.email):
            raise AuthError(problem)
        existing = await repo.account_by_email(session, who.email)
        if existing is not None:
            if existing.firebase_uid is not None:  # another Firebase user has it
                raise AuthError(EMAIL_IN_USE)
            await repo.update_account(session, existing.id, firebase_uid=who.uid)
            await repo.mark_email_verified(session, existing.id)  # Firebase proved the address
            return replace(existing, firebase_uid=who.uid)
        if not self._settings.allow_sign_up and await repo.count_users(session) > 0:
            raise AuthError(SIGN_UP_CLOSED)
        try:
            return await repo.create_account(
                session, email=who.email, display_name=who.name, firebase_uid=who.uid, email_verified=True
            )
        except repo.EmailTaken:
            # Two first events of the same user at once: the other one created it.
            again = await repo.account_by_firebase_uid(session, who.uid)
            if again is None:
                raise AuthError(EMAIL_IN_USE) from None
            return again
