"""Share links over HTTP: make, list and revoke them (API token), read one (no account), fork one.

Errors come from the app's handlers: NotFound → 404 (also for other people's
comparisons and links), AccessDenied → 403, InvalidShare → 422.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.auth import User
from backend.api.schemas import ComparisonOut
from backend.db.models import utcnow
from backend.db.shares import ShareInfo
from backend.runtime import Runtime
from backend.services.shares import PublicComparison, ShareService, expiry_from

API_PREFIX = "/api/v1"
# A link's page must not linger in caches after it is revoked, nor leak through a Referer.
_PUBLIC_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


class ShareCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_hours: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    expires_in_days: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class ShareOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, share: ShareInfo) -> ShareOut:
        return cls(
            id=share.id,
            created_at=share.created_at,
            expires_at=share.expires_at,
            revoked_at=share.revoked_at,
            active=share.active_at(utcnow()),
        )


class ShareCreatedOut(ShareOut):
    url_path: str
    token: str  # shown this once; only its hash is stored


def share_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(tags=["shares"])

    def service() -> ShareService:
        return ShareService(get_runtime().db)

    @router.post(
        f"{API_PREFIX}/comparisons/{{comparison_id}}/shares", response_model=ShareCreatedOut, status_code=201
    )
    async def create_share(
        user: User, comparison_id: str, payload: ShareCreateIn | None = None
    ) -> ShareCreatedOut:
        payload = payload or ShareCreateIn()
        lifetime = expiry_from(hours=payload.expires_in_hours, days=payload.expires_in_days)
        created = await service().create(user, comparison_id, lifetime)
        return ShareCreatedOut(
            **ShareOut.of(created.share).model_dump(), url_path=created.url_path, token=created.token
        )

    @router.get(f"{API_PREFIX}/comparisons/{{comparison_id}}/shares", response_model=list[ShareOut])
    async def list_shares(user: User, comparison_id: str) -> list[ShareOut]:
        return [ShareOut.of(s) for s in await service().list(user, comparison_id)]

    @router.delete(f"{API_PREFIX}/shares/{{share_id}}", response_model=ShareOut)
    async def revoke_share(user: User, share_id: str) -> ShareOut:
        return ShareOut.of(await service().revoke(user, share_id))

    @router.get(f"{API_PREFIX}/shares/{{token}}", response_model=PublicComparison)
    async def shared_comparison(token: str, response: Response) -> PublicComparison:
        """Public: no API token. 404 for an unknown, expired or revoked link alike."""
        response.headers.update(_PUBLIC_HEADERS)
        return await service().resolve(token)

    @router.post(f"{API_PREFIX}/shares/{{token}}/fork", response_model=ComparisonOut, status_code=201)
    async def fork_shared(user: User, token: str) -> ComparisonOut:
        return ComparisonOut.of(await service().fork(user, token))

    return router
