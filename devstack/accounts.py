"""Accounts for tests that drive the running app from outside (browser tests, bench).

Signing up through the page is tested on its own; everything else starts from a
session made by the same AccountService against the app's own database, handed
to the browser as the session cookie, and an API token for HTTP calls.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from backend.auth.accounts import AccountService, AuthError
from backend.auth.session_cookie import SESSION_COOKIE
from backend.auth.throttle import SignInThrottle
from backend.db import accounts as accounts_repo
from backend.db.engine import Database
from backend.settings import Settings

DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class TestAccount:
    __test__ = False  # a data holder, not a pytest test class

    email: str
    password: str
    session_token: str
    api_token: str

    def cookie(self, base_url: str) -> dict[str, str | bool]:
        """The session cookie as the app sets it (HttpOnly: no script on the page reads it)."""
        return {
            "name": SESSION_COOKIE,
            "value": self.session_token,
            "url": base_url,
            "httpOnly": True,
            "sameSite": "Strict",
        }

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}


async def _account(data_dir: Path, email: str, password: str, name: str, database_url: str) -> TestAccount:
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)
    db = Database(settings.resolved_database_url)
    try:
        service = AccountService(db, settings, SignInThrottle(100, 1.0, sleep=False))
        try:
            signed = await service.sign_up(email, password, name)
        except AuthError:  # already there: sign in instead
            signed = await service.sign_in(email, password)
        # A test account's address counts as proven (the emailed link is tested on its own), so
        # invitations to it are taken up as a person who opened the link would.
        async with db.session() as session:
            await accounts_repo.mark_email_verified(session, signed.principal.user_id)
        api_token = await service.create_api_token(signed.principal, "tests")
    finally:
        await db.dispose()
    return TestAccount(email, password, signed.token, api_token)


def account_in(
    data_dir: Path, email: str, password: str = DEFAULT_PASSWORD, name: str = "", database_url: str = ""
) -> TestAccount:
    """An account of the app whose DATA_DIR is `data_dir` (or whose DATABASE_URL is `database_url`,
    e.g. PostgreSQL shared by several replicas), with a live session and an API token.

    Runs in its own thread: Playwright's sync API keeps an event loop busy in the test's thread.
    """
    work = _account(data_dir, email, password, name or email.split("@")[0].title(), database_url)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()
