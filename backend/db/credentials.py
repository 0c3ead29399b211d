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


_COLUMNS = (
    ProviderCredential.scope,
    ProviderCredential.provider,
    ProviderCredential.base_url,
    ProviderCredential.key_hint,
    ProviderCredential.updated_at,
    ProviderCredential.encrypted_key,
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
