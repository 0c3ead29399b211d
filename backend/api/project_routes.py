"""Projects, members and the comparison list over HTTP, with the page's permissions.

A project the token's owner is not a member of answers 404, as if it did not
exist; a member whose role does not allow the action gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.auth import User
from backend.runtime import Runtime

API_PREFIX = "/api/v1"


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class ProjectOut(BaseModel):
    id: str
    name: str
    role: str
    owner_name: str
    n_comparisons: int
    created_at: datetime


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    role: Literal["owner", "editor", "viewer"]


class BattlePool(BaseModel):
    """The models a project's battles draw from; empty: any model available to the person."""

    model_config = ConfigDict(extra="forbid")
    models: list[str] = Field(default_factory=list, max_length=50)


class MemberOut(BaseModel):
    email: str
    display_name: str
    role: str
    pending: bool


class ComparisonSummaryOut(BaseModel):
    id: str
    project_id: str
    prompt_first_line: str
    models: list[str]
    created_at: datetime
    n_runs: int
    n_done: int
    n_error: int
    n_active: int
    blind: bool = False
    masked: bool = False  # models holds pane labels until I vote or reveal


class ComparisonPageOut(BaseModel):
    items: list[ComparisonSummaryOut]
    total: int
    page: int
    page_size: int


def project_router(get_runtime: Callable[[], Runtime]) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    @router.get("/projects", response_model=list[ProjectOut], tags=["projects"])
    async def list_projects(user: User) -> list[ProjectOut]:
        projects = await get_runtime().projects.list_for(user)
        return [ProjectOut.model_validate(p, from_attributes=True) for p in projects]

    @router.post("/projects", status_code=201, tags=["projects"])
    async def create_project(user: User, body: ProjectIn) -> dict[str, str]:
        return {"id": await get_runtime().projects.create(user, body.name)}

    @router.patch("/projects/{project_id}", status_code=204, tags=["projects"])
    async def rename_project(user: User, project_id: str, body: ProjectIn) -> Response:
        await get_runtime().projects.rename(user, project_id, body.name)
        return Response(status_code=204)

    @router.delete("/projects/{project_id}", status_code=204, tags=["projects"])
    async def delete_project(user: User, project_id: str) -> Response:
        await get_runtime().projects.delete(user, project_id)
        return Response(status_code=204)

    @router.get("/projects/{project_id}/battle-pool", response_model=BattlePool, tags=["projects"])
    async def get_battle_pool(user: User, project_id: str) -> BattlePool:
        return BattlePool(models=await get_runtime().projects.battle_pool(user, project_id))

    @router.put("/projects/{project_id}/battle-pool", response_model=BattlePool, tags=["projects"])
    async def set_battle_pool(user: User, project_id: str, body: BattlePool) -> BattlePool:
        """Owners only. Battles in this project then draw two models from this list."""
        return BattlePool(models=await get_runtime().projects.set_battle_pool(user, project_id, body.models))

    @router.get("/projects/{project_id}/members", response_model=list[MemberOut], tags=["projects"])
    async def list_members(user: User, project_id: str) -> list[MemberOut]:
        members = await get_runtime().projects.members(user, project_id)
        return [MemberOut.model_validate(m, from_attributes=True) for m in members]

    @router.put("/projects/{project_id}/members", status_code=204, tags=["projects"])
    async def set_member(user: User, project_id: str, body: MemberIn) -> Response:
        """Invite by email (joins at sign-up if there is no account yet) or change a role."""
        await get_runtime().projects.set_member(user, project_id, body.email, body.role)
        return Response(status_code=204)

    @router.delete("/projects/{project_id}/members/{email}", status_code=204, tags=["projects"])
    async def remove_member(
        user: User,
        project_id: str,
        email: str,
        keep_share_links: bool = Query(
            default=False, description="Keep the share links the member made (revoked by default)."
        ),
    ) -> Response:
        """Remove a member or an invitation. The share links the member made to this
        project's comparisons are revoked unless `keep_share_links=true`; the answer's
        `X-Share-Links-Revoked` header says how many."""
        revoked = await get_runtime().projects.remove_member(
            user, project_id, email, revoke_links=not keep_share_links
        )
        return Response(status_code=204, headers={"X-Share-Links-Revoked": str(revoked)})

    @router.get("/comparisons", response_model=ComparisonPageOut, tags=["comparisons"])
    async def list_comparisons(
        user: User,
        project_id: str = "",
        page: int = Query(default=1, ge=1, le=1_000_000),
        page_size: int = Query(default=20, ge=1, le=100),
    ) -> ComparisonPageOut:
        """Newest first, over every project the user is a member of (or one of them)."""
        result = await get_runtime().comparisons.history(
            user, page=page, page_size=page_size, project_id=project_id or None
        )
        return ComparisonPageOut(
            items=[
                ComparisonSummaryOut(
                    id=i.id,
                    project_id=i.project_id,
                    prompt_first_line=i.prompt_first_line,
                    models=list(i.models),
                    created_at=i.created_at,
                    n_runs=i.n_runs,
                    n_done=i.n_done,
                    n_error=i.n_error,
                    n_active=i.n_active,
                    blind=i.blind,
                    masked=i.masked,
                )
                for i in result.items
            ],
            total=result.total,
            page=result.page,
            page_size=result.page_size,
        )

    return router
