"""Built-in accounts: sign up, sign in and out, sessions, password changes and
personal API tokens.  Firebase sign-in (AUTH_PROVIDER=firebase) maps onto the
same accounts in :mod:`backend.auth.firebase`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from backend.auth.passwords import hash_password, password_problem, verify_password
from backend.auth.permissions import Principal
from backend.auth.throttle import Lockout, SignInThrottle
from backend.auth.token_cache import PrincipalCache
from backend.auth.tokens import new_token, token_hash
from backend.auth.verification import EmailVerifier
from backend.db import accounts as repo
from backend.db.engine import Database
from backend.db.models import utcnow
from backend.email_address import canonical_email, confusable_problem
from backend.i18n import LANGUAGES, N_, Message
from backend.mail import Mailer
from backend.settings import Settings

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 320
MAX_NAME = 100
API_TOKEN_PREFIX = "llmd_"
BAD_CREDENTIALS = N_("Email or password is incorrect.")


class AuthError(Exception):
    """A refusal to show the user as it is (never names which part was wrong)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class SignInLocked(AuthError):
    def __init__(self, lockout: Lockout) -> None:
        super().__init__(lockout.message)
        self.retry_after_s = lockout.retry_after_s


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str  # goes to the browser once; only its hash is stored
    principal: Principal
    language: str | None = None  # the UI language the account chose, None = follow the browser


def principal_of(account: repo.Account, via: str = "session") -> Principal:
    return Principal(
        user_id=account.id,
        email=account.email,
        display_name=account.display_name,
        is_admin=account.is_admin,
        via=via,
    )


def email_problem(email: str) -> str:
    """Checked on the canonical spelling (what is stored), so look-alikes are judged as stored."""
    if len(email) > MAX_EMAIL:
        return N_("Enter an email address like name@example.com.")
    canonical = canonical_email(email)
    if len(canonical) > MAX_EMAIL or not EMAIL_RE.match(canonical):
        return N_("Enter an email address like name@example.com.")
    return confusable_problem(canonical)


class AccountService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        throttle: SignInThrottle,
        clock: Callable[[], float] = time.monotonic,  # times the API token cache; tests pass a fake one
        verifier: EmailVerifier | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._throttle = throttle
        # Proves sign-ups' addresses by email before their invitations are theirs.
        self._verifier = verifier or EmailVerifier(db, settings, Mailer(settings))
        self._api_tokens = PrincipalCache(settings.api_token_cache_seconds, clock=clock)

    # --- sign up / in / out ----------------------------------------------------
    async def sign_up(self, email: str, password: str, display_name: str = "") -> SignedIn:
        errors = {}
        if problem := email_problem(email):
            errors["email"] = problem
        if problem := password_problem(password):
            errors["password"] = problem
        if len(display_name) > MAX_NAME:
            errors["display_name"] = Message("Use at most {n} characters.", n=MAX_NAME)
        if errors:
            raise AuthError(N_("Check the highlighted fields."), errors)
        async with self._db.session() as session:
            first = await repo.count_users(session) == 0
            # With sign-up off, only the very first account (the admin) can be created here, and
            # not in production: there the admin comes from `python -m backend.admin create-admin`.
            bootstrap = first and self._settings.environment != "production"
            if not self._settings.allow_sign_up and not bootstrap:
                raise AuthError(N_("Sign-up is closed on this server. Ask an admin for an invitation."))
            hashed = await hash_password(password)
            try:
                account = await repo.create_account(
                    session, email=email, display_name=display_name, password_hash=hashed, is_admin=first
                )
            except repo.EmailTaken:
                # Saying "taken" would reveal the account; the generic answer is still actionable.
                raise AuthError(
                    N_("That email cannot be used to sign up. If it is yours, sign in instead."),
                    {"email": N_("Cannot sign up with this email.")},
                ) from None
        await self._verifier.send(account.id)
        return await self._open_session(account)

    async def send_verification(self, principal: Principal) -> bool:
        """Email the account a new link proving its address (False: already proven, or not sent)."""
        return await self._verifier.send(principal.user_id)

    async def invitations_waiting(self, principal: Principal) -> int:
        """Project invitations to the account's address that wait for it to be proven."""
        async with self._db.session() as session:
            return await repo.invitations_waiting(session, principal.user_id)

    async def confirm_email(self, token: str) -> bool:
        """Use an emailed link: the address is proven and its invitations are taken up."""
        return await self._verifier.confirm(token)

    async def sign_in(self, email: str, password: str, address: str = "") -> SignedIn:
        try:
            await self._throttle.before_attempt(email, address)
        except Lockout as lock:
            raise SignInLocked(lock) from None
        async with self._db.session() as session:
            account = await repo.account_by_email(session, email) if len(email) <= MAX_EMAIL else None
        ok = await verify_password(account.password_hash if account else None, password)
        if not ok or account is None or account.disabled:
            await self._throttle.failed(email, address)
            raise AuthError(BAD_CREDENTIALS)
        await self._throttle.succeeded(email, address)
        return await self._open_session(account)

    async def _open_session(self, account: repo.Account) -> SignedIn:
        token = new_token()
        expires = utcnow() + timedelta(hours=self._settings.session_ttl_hours)
        async with self._db.session() as session:
            await repo.create_session(session, account.id, token_hash(token), expires)
        return SignedIn(token=token, principal=principal_of(account), language=account.language)

    async def sign_out(self, token: str) -> None:
        if token:
            async with self._db.session() as session:
                await repo.revoke_session(session, token_hash(token))

    async def principal_for_session(self, token: str) -> Principal | None:
        """The signed-in user of a session token, or None if it is unknown, expired or revoked."""
        if not token or len(token) > 200:
            return None
        hashed = token_hash(token)
        account = await self._db.read(lambda connection: repo.account_for_session(connection, hashed))
        return None if account is None else principal_of(account)

    # --- account settings --------------------------------------------------------
    async def change_password(
        self, principal: Principal, token: str, current: str, new: str, *, revoke_api_tokens: bool = True
    ) -> int:
        """Checks the current password, sets the new one and signs out every other session; with
        `revoke_api_tokens` (the default: a stolen session may have minted one) every API token
        ends too. Answers how many API tokens were revoked."""
        async with self._db.session() as session:
            account = await repo.account_by_id(session, principal.user_id)
        if account is None or not await verify_password(account.password_hash, current):
            raise AuthError("The current password is incorrect.", {"current": "Incorrect password."})
        if problem := password_problem(new):
            raise AuthError(problem, {"new": problem})
        hashed = await hash_password(new)
        async with self._db.session() as session:
            await repo.update_account(session, principal.user_id, password_hash=hashed)
            await repo.revoke_user_sessions(session, principal.user_id, keep_hash=token_hash(token))
        return await self._revoke_api_tokens(principal) if revoke_api_tokens else 0

    async def sign_out_everywhere(
        self, principal: Principal, keep_token: str = "", *, revoke_api_tokens: bool = True
    ) -> tuple[int, int]:
        """Ends every other browser session and, by default, every API token: how many of each."""
        async with self._db.session() as session:
            sessions = await repo.revoke_user_sessions(
                session, principal.user_id, keep_hash=token_hash(keep_token) if keep_token else ""
            )
        return sessions, await self._revoke_api_tokens(principal) if revoke_api_tokens else 0

    async def _revoke_api_tokens(self, principal: Principal) -> int:
        async with self._db.session() as session:
            count = await repo.revoke_user_api_tokens(session, principal.user_id)
        self._api_tokens.forget_user(principal.user_id)  # this process refuses them from now on
        return count

    async def set_budget(self, principal: Principal, monthly_usd: float | None) -> None:
        if monthly_usd is not None and not (0 <= monthly_usd <= 1_000_000):
            raise AuthError("Enter a monthly budget between 0 and 1,000,000 USD, or leave it empty.")
        async with self._db.session() as session:
            await repo.update_account(session, principal.user_id, monthly_budget_usd=monthly_usd)

    async def set_language(self, principal: Principal, language: str | None) -> None:
        """Keep the UI language on the account (None: follow the browser again)."""
        if language is not None and language not in LANGUAGES:
            raise AuthError(f"Unknown language {language!r}.")
        async with self._db.session() as session:
            await repo.update_account(session, principal.user_id, language=language)

    async def has_accounts(self) -> bool:
        """Whether anyone has signed up yet (before the first account, sign-in has no one to let in)."""
        async with self._db.session() as session:
            return await repo.count_users(session) > 0

    async def account(self, principal: Principal) -> repo.Account | None:
        async with self._db.session() as session:
            return await repo.account_by_id(session, principal.user_id)

    # --- personal API tokens -----------------------------------------------------
    async def create_api_token(self, principal: Principal, name: str) -> str:
        """A new token, returned once in full; afterwards only its prefix is shown."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise AuthError(
                Message("Name the token (1 to {n} characters).", n=MAX_NAME), {"name": N_("Required.")}
            )
        token = new_token(API_TOKEN_PREFIX)
        async with self._db.session() as session:
            await repo.create_api_token(session, principal.user_id, name, token_hash(token), token[:12])
        return token

    async def list_api_tokens(self, principal: Principal) -> list[repo.ApiTokenInfo]:
        async with self._db.session() as session:
            return await repo.list_api_tokens(session, principal.user_id)

    async def revoke_api_token(self, principal: Principal, token_id: str) -> bool:
        async with self._db.session() as session:
            revoked = await repo.revoke_api_token(session, principal.user_id, token_id)
        self._api_tokens.forget_user(principal.user_id)  # this process refuses it from now on
        return revoked

    async def principal_for_api_token(self, token: str) -> Principal | None:
        if not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
            return None
        hashed = token_hash(token)
        cached = self._api_tokens.get(hashed)
        if cached is not None:
            return cached
        async with self._db.session() as session:
            account = await repo.account_for_api_token(session, hashed)
        if account is None:
            return None
        principal = principal_of(account, via="api-token")
        self._api_tokens.put(hashed, principal)
        return principal
