"""Queries for accounts: users with their passwords, sign-in sessions and API tokens.

Tokens are looked up by their SHA-256 (see :mod:`backend.auth.tokens`); the raw
token never reaches this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import (
    DEFAULT_PROJECT_NAME,
    ApiToken,
    AuthSession,
    Project,
    ProjectMember,
    User,
    new_id,
    utcnow,
)
from backend.email_address import canonical_email

LAST_USED_RESOLUTION = timedelta(minutes=1)


class EmailTaken(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    email: str
    display_name: str
    is_admin: bool
    disabled: bool
    monthly_budget_usd: float | None
    password_hash: str | None
    firebase_uid: str | None
    language: str | None = None  # "en" | "ja", or None: follow the browser
    email_verified_at: datetime | None = None  # None: the address is not proven yet


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


_ACCOUNT_COLUMNS = (
    User.id,
    User.email,
    User.display_name,
    User.is_admin,
    User.disabled,
    User.monthly_budget_usd,
    User.password_hash,
    User.firebase_uid,
    User.language,
    User.email_verified_at,
)


def _account(row: Sequence[object]) -> Account:
    return Account(*row)  # type: ignore[arg-type]


def normalize_email(email: str) -> str:
    """The one spelling stored and looked up (NFKC, no invisible characters, IDNA domain)."""
    return canonical_email(email)


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(User.id)))).scalar_one())


def add_personal_project(session: AsyncSession, user_id: str, email: str) -> None:
    """Stage the user's "Personal" project with the user as its owner member."""
    project_id = new_id()
    session.add(Project(id=project_id, owner_id=user_id, name=DEFAULT_PROJECT_NAME))
    session.add(ProjectMember(project_id=project_id, user_id=user_id, email=email, role="owner"))


async def create_account(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    password_hash: str | None = None,
    firebase_uid: str | None = None,
    is_admin: bool = False,
    email_verified: bool = False,
) -> Account:
    """A new user and its Personal project, one transaction. Invitations to its email are
    claimed only if the address is proven (`email_verified`: Firebase's claim, an admin made
    on the command line); otherwise when it is (`mark_email_verified`)."""
    email = normalize_email(email)
    user = User(
        id=new_id(),
        email=email,
        display_name=display_name.strip() or email.split("@", 1)[0],
        password_hash=password_hash,
        firebase_uid=firebase_uid,
        is_admin=is_admin,
        email_verified_at=utcnow() if email_verified else None,
    )
    session.add(user)
    try:
        await session.flush()
        add_personal_project(session, user.id, email)
        if email_verified:
            await _claim_invitations(session, user.id, email)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise EmailTaken(email) from exc
    found = await account_by_id(session, user.id)
    assert found is not None
    return found


async def _claim_invitations(session: AsyncSession, user_id: str, email: str) -> None:
    await session.execute(
        update(ProjectMember)
        .where(ProjectMember.email == email, ProjectMember.user_id.is_(None))
        .values(user_id=user_id)
    )


async def invitations_waiting(session: AsyncSession, user_id: str) -> int:
    """How many project invitations to the account's address wait for it to be proven (0 once
    it is: they were taken up then)."""
    user = (
        await session.execute(select(User.email, User.email_verified_at).where(User.id == user_id))
    ).one_or_none()
    if user is None or user.email_verified_at is not None:
        return 0
    stmt = select(func.count()).where(ProjectMember.email == user.email, ProjectMember.user_id.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def mark_email_verified(session: AsyncSession, user_id: str) -> bool:
    """The account proved its current address: record it and let it take up the invitations to
    that address; one transaction. False if there is no such account."""
    email = (await session.execute(select(User.email).where(User.id == user_id))).scalar_one_or_none()
    if email is None:
        return False
    await session.execute(
        update(User)
        .where(User.id == user_id, User.email_verified_at.is_(None))
        .values(email_verified_at=utcnow())
    )
    await _claim_invitations(session, user_id, email)
    await session.commit()
    return True


async def account_by_email(session: AsyncSession, email: str) -> Account | None:
    stmt = select(*_ACCOUNT_COLUMNS).where(User.email == normalize_email(email))
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else _account(row)


async def account_by_id(session: AsyncSession, user_id: str) -> Account | None:
    row = (await session.execute(select(*_ACCOUNT_COLUMNS).where(User.id == user_id))).one_or_none()
    return None if row is None else _account(row)


async def account_by_firebase_uid(session: AsyncSession, uid: str) -> Account | None:
    row = (await session.execute(select(*_ACCOUNT_COLUMNS).where(User.firebase_uid == uid))).one_or_none()
    return None if row is None else _account(row)


async def update_account(session: AsyncSession, user_id: str, **values: object) -> None:
    await session.execute(update(User).where(User.id == user_id).values(**values))
    await session.commit()


# --- sessions -------------------------------------------------------------------


async def create_session(session: AsyncSession, user_id: str, hashed: str, expires_at: datetime) -> None:
    session.add(AuthSession(user_id=user_id, token_hash=hashed, expires_at=expires_at))
    await session.commit()


_SESSION_ACCOUNT = (
    select(*_ACCOUNT_COLUMNS)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        AuthSession.token_hash == bindparam("hashed"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
        User.disabled.is_(False),
    )
)


def account_for_session(connection: Connection, hashed: str) -> Account | None:
    """The account of a live session: not revoked, not expired, user not disabled. Sync Core, for
    `Database.read`: every page event checks its session, and an async session's thread hops cost
    more than the statement."""
    row = connection.execute(_SESSION_ACCOUNT, {"hashed": hashed, "now": utcnow()}).one_or_none()
    return None if row is None else _account(row)


async def revoke_session(session: AsyncSession, hashed: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == hashed, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.commit()


async def revoke_user_sessions(session: AsyncSession, user_id: str, keep_hash: str = "") -> int:
    """Sign the user out everywhere (but the session whose hash is ``keep_hash``)."""
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.token_hash != keep_hash,
        )
        .values(revoked_at=utcnow())
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


# --- API tokens -----------------------------------------------------------------


async def create_api_token(session: AsyncSession, user_id: str, name: str, hashed: str, prefix: str) -> str:
    token = ApiToken(user_id=user_id, name=name, token_hash=hashed, prefix=prefix)
    session.add(token)
    await session.commit()
    return token.id


async def list_api_tokens(session: AsyncSession, user_id: str) -> list[ApiTokenInfo]:
    stmt = (
        select(ApiToken.id, ApiToken.name, ApiToken.prefix, ApiToken.created_at, ApiToken.last_used_at)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return [ApiTokenInfo(*row) for row in (await session.execute(stmt)).all()]


async def revoke_api_token(session: AsyncSession, user_id: str, token_id: str) -> bool:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.commit()
    return bool(getattr(result, "rowcount", 0))


async def revoke_user_api_tokens(session: AsyncSession, user_id: str) -> int:
    """Revoke every live API token of the user; answers how many."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


# Every API request and every Reflex event looks its caller up: these statements are built once
# and run on the session's connection (Core), which skips the ORM's per-call statement handling.
_API_TOKEN_ACCOUNT = (
    select(ApiToken.id, ApiToken.last_used_at, *_ACCOUNT_COLUMNS)
    .join(User, User.id == ApiToken.user_id)
    .where(
        ApiToken.token_hash == bindparam("hashed"),
        ApiToken.revoked_at.is_(None),
        User.disabled.is_(False),
    )
)


async def account_for_api_token(session: AsyncSession, hashed: str) -> Account | None:
    connection = await session.connection()
    row = (await connection.execute(_API_TOKEN_ACCOUNT, {"hashed": hashed})).one_or_none()
    if row is None:
        return None
    now = utcnow()
    # "Last used" to the minute is enough, and a write per request would sit on every API call's path.
    if row[1] is None or now - row[1] > LAST_USED_RESOLUTION:
        await session.execute(update(ApiToken).where(ApiToken.id == row[0]).values(last_used_at=now))
        await session.commit()
    return _account(row[2:])
