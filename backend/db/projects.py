"""Queries for projects and their members.

A member row links a user (or, for a pending invitation, just an email) to a
project with a role; the owner has one too, so "what may this user see" is a
single join on ``project_members`` everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from backend.db.accounts import normalize_email
from backend.db.models import (
    DEFAULT_PROJECT_NAME,
    Comparison,
    Project,
    ProjectMember,
    Share,
    User,
    new_id,
    utcnow,
)


class DuplicateName(ValueError):
    pass


class LastOwner(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: str
    name: str
    role: str
    owner_name: str
    n_comparisons: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberInfo:
    email: str
    display_name: str
    role: str
    pending: bool  # invited, no account yet


def member_projects(user_id: str) -> Select[Any]:
    """The ids of every project the user is a member of (for ``IN`` filters)."""
    return select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)


_ROLE_IN_PROJECT = select(ProjectMember.role).where(
    ProjectMember.project_id == bindparam("project_id"), ProjectMember.user_id == bindparam("user_id")
)


def role_in_project(connection: Connection, user_id: str, project_id: str) -> str | None:
    """The user's role in the project, or None. Sync Core for `Database.read`, the statement built
    once: every Run in a project checks it (through an async session, several thread hops)."""
    params = {"project_id": project_id, "user_id": user_id}
    return connection.execute(_ROLE_IN_PROJECT, params).scalar_one_or_none()


def _comparison_project_and_role() -> Select[str, str]:
    role = (
        select(ProjectMember.role)
        .where(
            ProjectMember.project_id == Comparison.project_id, ProjectMember.user_id == bindparam("user_id")
        )
        .scalar_subquery()
    )
    return select(Comparison.project_id, role).where(Comparison.id == bindparam("comparison_id"))


# Built once, not per check (see backend/db/leases.py): every read, every stream's start and
# its re-checks ask it.
_COMPARISON_PROJECT_AND_ROLE = _comparison_project_and_role()


def comparison_project_and_role(
    connection: Connection, comparison_id: str, user_id: str
) -> tuple[str, str | None] | None:
    """(the comparison's project id, the user's role there or None), or None when there is no such
    comparison: one statement, sync Core for `Database.read` (every read and every live stream's
    re-check asks it, and an async session's thread hops cost more than the statement)."""
    params = {"comparison_id": comparison_id, "user_id": user_id}
    row = connection.execute(_COMPARISON_PROJECT_AND_ROLE, params).one_or_none()
    return None if row is None else (row[0], row[1])


async def list_projects(session: AsyncSession, user_id: str) -> list[ProjectInfo]:
    counts = (
        select(Comparison.project_id, func.count(Comparison.id).label("n"))
        .group_by(Comparison.project_id)
        .subquery()
    )
    stmt = (
        select(
            Project.id,
            Project.name,
            ProjectMember.role,
            User.display_name,
            func.coalesce(counts.c.n, 0),
            Project.created_at,
        )
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .join(User, User.id == Project.owner_id)
        .outerjoin(counts, counts.c.project_id == Project.id)
        .where(ProjectMember.user_id == user_id)
        .order_by(Project.created_at, Project.id)
    )
    return [ProjectInfo(*row) for row in (await session.execute(stmt)).all()]


async def create_project(session: AsyncSession, user_id: str, email: str, name: str) -> str:
    project_id = new_id()
    session.add(Project(id=project_id, owner_id=user_id, name=name))
    try:
        await session.flush()
        session.add(
            ProjectMember(project_id=project_id, user_id=user_id, email=normalize_email(email), role="owner")
        )
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise DuplicateName(name) from exc
    return project_id


async def rename_project(session: AsyncSession, project_id: str, name: str) -> None:
    try:
        await session.execute(update(Project).where(Project.id == project_id).values(name=name))
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise DuplicateName(name) from exc


async def is_personal(session: AsyncSession, project_id: str) -> bool:
    """Whether the project is its owner's "Personal" one (found by owner and name: see users.py)."""
    stmt = select(Project.id).where(Project.id == project_id, Project.name == DEFAULT_PROJECT_NAME)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def delete_project(session: AsyncSession, project_id: str) -> None:
    """The project, its comparisons (runs and shares cascade) and its members, in one transaction."""
    await session.execute(delete(Comparison).where(Comparison.project_id == project_id))
    await session.execute(delete(ProjectMember).where(ProjectMember.project_id == project_id))
    await session.execute(delete(Project).where(Project.id == project_id))
    await session.commit()


async def list_members(session: AsyncSession, project_id: str) -> list[MemberInfo]:
    stmt = (
        select(ProjectMember.email, User.display_name, ProjectMember.role, ProjectMember.user_id)
        .outerjoin(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project_id)
        .order_by(ProjectMember.created_at, ProjectMember.email)
    )
    return [
        MemberInfo(email=email, display_name=name or "", role=role, pending=user_id is None)
        for email, name, role, user_id in (await session.execute(stmt)).all()
    ]


async def _owners(session: AsyncSession, project_id: str) -> set[str]:
    stmt = select(ProjectMember.email).where(
        ProjectMember.project_id == project_id, ProjectMember.role == "owner"
    )
    return set((await session.execute(stmt)).scalars())


async def set_member(session: AsyncSession, project_id: str, email: str, role: str) -> None:
    """Invite ``email`` with ``role``, or change the role of an existing member."""
    email = normalize_email(email)
    owners = await _owners(session, project_id)
    if role != "owner" and owners == {email}:
        raise LastOwner(email)
    # Only a proven address is linked at once; an unproven account takes it up once it proves it.
    user_id = (
        await session.execute(select(User.id).where(User.email == email, User.email_verified_at.is_not(None)))
    ).scalar_one_or_none()
    existing = (
        await session.execute(
            select(ProjectMember).where(ProjectMember.project_id == project_id, ProjectMember.email == email)
        )
    ).scalar_one_or_none()
    if existing is None:
        session.add(ProjectMember(project_id=project_id, user_id=user_id, email=email, role=role))
    else:
        existing.role = role
        existing.user_id = existing.user_id or user_id
    await session.commit()


@dataclass(frozen=True, slots=True)
class Removed:
    removed: bool
    links_revoked: int


async def remove_member(
    session: AsyncSession, project_id: str, email: str, *, revoke_links: bool = True
) -> Removed:
    """Remove the member and, unless told to keep them, revoke the share links they made to
    this project's comparisons (a link outliving its maker's access would keep the door open);
    one transaction."""
    email = normalize_email(email)
    if await _owners(session, project_id) == {email}:
        raise LastOwner(email)
    member_filter = (ProjectMember.project_id == project_id, ProjectMember.email == email)
    user_id = (
        await session.execute(select(ProjectMember.user_id).where(*member_filter))
    ).scalar_one_or_none()
    result = await session.execute(delete(ProjectMember).where(*member_filter))
    revoked = 0
    if revoke_links and user_id is not None:
        in_project = select(Comparison.id).where(Comparison.project_id == project_id)
        revoked_rows = await session.execute(
            update(Share)
            .where(
                Share.created_by == user_id,
                Share.revoked_at.is_(None),
                Share.comparison_id.in_(in_project),
            )
            .values(revoked_at=utcnow())
        )
        revoked = int(getattr(revoked_rows, "rowcount", 0) or 0)
    await session.commit()
    return Removed(removed=bool(getattr(result, "rowcount", 0)), links_revoked=revoked)


async def battle_pool(session: AsyncSession, project_id: str) -> list[str]:
    pool = (
        await session.execute(select(Project.battle_pool).where(Project.id == project_id))
    ).scalar_one_or_none()
    return list(pool or [])


async def set_battle_pool(session: AsyncSession, project_id: str, models: list[str]) -> None:
    await session.execute(update(Project).where(Project.id == project_id).values(battle_pool=list(models)))
    await session.commit()
