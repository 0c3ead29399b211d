"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

Hashing costs tens of milliseconds of CPU on purpose, so the async helpers run it
in a thread rather than on the event loop.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.i18n import N_, Message

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # beyond this, hashing is a denial-of-service lever

_hasher = PasswordHasher()
# Verified against when the email has no account, so a miss costs the same time as a hit.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


def password_problem(password: str) -> str:
    """Why a new password is not acceptable, or "" if it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return Message("Use at least {n} characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return Message("Use at most {n} characters.", n=MAX_PASSWORD_LENGTH)
    if not password.strip():
        return N_("A password of only spaces is too easy to guess.")
    return ""


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored``; with ``stored`` None it still spends the time."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored, password)
