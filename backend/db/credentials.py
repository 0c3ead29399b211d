"""Queries for stored provider keys (``provider_credentials``).

Rows hold the key encrypted (see :mod:`backend.auth.crypto`) and its masked hint;
this module never sees a plaintext key.  ``scope`` is a user id, or
``DEPLOYMENT_SCOPE`` for the keys an admin set for everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import ProviderCredential, utcnow


@dataclass(frozen=True, slots=True)
class StoredKey:
    scope: str
    provider: str
    base_url: str
    key_hint: str
    updated_at: datetime
    encrypted_key: str = field(default="", repr=False)
    tested_at: datetime | None = None  # the last test of this key; None: never tested
    test_ok: bool | None = None
    test_message: str = ""


_COLUMNS = (
    ProviderCredential.scope,
    ProviderCredential.provider,
    ProviderCredential.base_url,
    ProviderCredential.key_hint,
    ProviderCredential.updated_at,
    ProviderCredential.encrypted_key,
    ProviderCredential.tested_at,
    ProviderCredential.test_ok,
    ProviderCredential.test_message,
)


async def save_key(
    session: AsyncSession, *, scope: str, provider: str, base_url: str, encrypted_key: str, key_hint: str
) -> None:
    """Insert or replace the key of (scope, provider)."""
    values = {
        "base_url": base_url,
        "encrypted_key": encrypted_key,
        "key_hint": key_hint,
        "updated_at": utcnow(),
        # A new key has not been tested: the last test was of the key it replaces.
        "tested_at": None,
        "test_ok": None,
        "test_message": "",
    }
    where = (ProviderCredential.scope == scope, ProviderCredential.provider == provider)
    for _ in range(2):  # a concurrent first save of the same key wins the insert; then update it
        changed = await session.execute(update(ProviderCredential).where(*where).values(**values))
        if changed.rowcount:  # type: ignore[attr-defined]
            await session.commit()
            return
        session.add(ProviderCredential(scope=scope, provider=provider, **values))
        try:
            await session.commit()
            return
        except IntegrityError:
            await session.rollback()
    raise RuntimeError(f"could not save the {provider} key")


async def keys_in_scope(session: AsyncSession, scope: str) -> list[StoredKey]:
    stmt = select(*_COLUMNS).where(ProviderCredential.scope == scope).order_by(ProviderCredential.provider)
    return [StoredKey(*row) for row in (await session.execute(stmt)).all()]


async def keys_for(session: AsyncSession, scopes: Sequence[str], provider: str) -> list[StoredKey]:
    """The provider's keys in any of ``scopes`` (at most one per scope)."""
    stmt = select(*_COLUMNS).where(
        ProviderCredential.scope.in_(scopes), ProviderCredential.provider == provider
    )
    return [StoredKey(*row) for row in (await session.execute(stmt)).all()]


async def record_test(
    session: AsyncSession, scope: str, provider: str, *, ok: bool, message: str, updated_at: datetime
) -> bool:
    """Store how the test of the key saved at ``updated_at`` went; a key replaced meanwhile
    keeps its own (untested) state. False if nothing matched."""
    result = await session.execute(
        update(ProviderCredential)
        .where(
            ProviderCredential.scope == scope,
            ProviderCredential.provider == provider,
            ProviderCredential.updated_at == updated_at,
        )
        .values(tested_at=utcnow(), test_ok=ok, test_message=message)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def failed_key_scopes(session: AsyncSession, scopes: Sequence[str]) -> dict[str, dict[str, str]]:
    """provider -> {scope: message} of the keys in ``scopes`` whose last test failed."""
    stmt = select(
        ProviderCredential.provider, ProviderCredential.scope, ProviderCredential.test_message
    ).where(ProviderCredential.scope.in_(scopes), ProviderCredential.test_ok.is_(False))
    failed: dict[str, dict[str, str]] = {}
    for provider, scope, message in (await session.execute(stmt)).all():
        failed.setdefault(provider, {})[scope] = message
    return failed


async def providers_with_keys(session: AsyncSession, scopes: Sequence[str]) -> set[str]:
    stmt = select(ProviderCredential.provider).where(ProviderCredential.scope.in_(scopes)).distinct()
    return set((await session.execute(stmt)).scalars())


async def delete_key(session: AsyncSession, scope: str, provider: str) -> bool:
    result = await session.execute(
        delete(ProviderCredential).where(
            ProviderCredential.scope == scope, ProviderCredential.provider == provider
        )
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
