"""Proving an email address with a single-use emailed link (issue 15: invitations proven).

An invitation names an address; whoever signs up with that address must show they read its
mail before the invitation is theirs. Sign-up sends a link holding a random token (only its
SHA-256 is stored); opening it and confirming marks the address proven and hands over the
invitations waiting for it. A link works once, until it expires, and only for the address it
was sent to. Firebase accounts are proven by Firebase's email_verified claim instead.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import select, update

from backend.auth.tokens import new_token, token_hash
from backend.db import accounts as repo
from backend.db.engine import Database
from backend.db.models import EmailVerification, User, utcnow
from backend.i18n import N_, gettext
from backend.mail import Mailer, MailNotSent
from backend.settings import Settings

log = logging.getLogger(__name__)

VERIFY_PATH = "/api/v1/verify-email"
# Said in the account's language (users.language; English until one is chosen).
SUBJECT = N_("Confirm your email address for LLM Dashboard")
BODY = N_(
    "Someone (we hope you) created an LLM Dashboard account with this address.\n"
    "Open this link to confirm it; projects you were invited to then appear:\n\n"
    "{link}\n\n"
    "If it was not you, ignore this mail: nothing joins a project without the link."
)


class EmailVerifier:
    def __init__(self, db: Database, settings: Settings, mailer: Mailer) -> None:
        self._db = db
        self._settings = settings
        self._mailer = mailer

    def link(self, token: str) -> str:
        base = (self._settings.public_url or "http://localhost:8000").rstrip("/")  # dev: the API port
        return f"{base}{VERIFY_PATH}?token={quote(token)}"

    async def send(self, user_id: str) -> bool:
        """Email a new link to the account's current address. False if it could not be sent
        (the account still works; invitations wait until a link is confirmed)."""
        async with self._db.session() as session:
            account = await repo.account_by_id(session, user_id)
            if account is None or account.email_verified_at is not None:
                return False
            token = new_token()
            session.add(
                EmailVerification(
                    user_id=user_id,
                    email=account.email,
                    token_hash=token_hash(token),
                    expires_at=utcnow() + timedelta(hours=self._settings.email_verification_hours),
                )
            )
            await session.commit()
        language = account.language
        try:
            await self._mailer.send(
                account.email, gettext(language, SUBJECT), gettext(language, BODY, link=self.link(token))
            )
        except MailNotSent:
            return False
        return True

    async def confirm(self, token: str) -> bool:
        """Use a link: True once for a valid, unexpired, unused token whose address is still
        the account's; its invitations are then the account's."""
        if not token or len(token) > 200:
            return False
        now = utcnow()
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(EmailVerification.id, EmailVerification.user_id, EmailVerification.email).where(
                        EmailVerification.token_hash == token_hash(token),
                        EmailVerification.used_at.is_(None),
                        EmailVerification.expires_at > now,
                    )
                )
            ).one_or_none()
            if row is None:
                return False
            used = await session.execute(
                update(EmailVerification)
                .where(EmailVerification.id == row.id, EmailVerification.used_at.is_(None))
                .values(used_at=now)
            )
            await session.commit()
            if not getattr(used, "rowcount", 0):
                return False  # another request used it first
            current = (
                await session.execute(select(User.email).where(User.id == row.user_id))
            ).scalar_one_or_none()
            if current != row.email:
                return False
            return await repo.mark_email_verified(session, row.user_id)
