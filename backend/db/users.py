"""Users and their "Personal" project: get-or-create, as async functions over an ``AsyncSession``.

Functions that write commit their own single transaction; they return frozen records from
:mod:`backend.db.records`, never ORM objects.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.accounts import add_personal_project, normalize_email
from backend.db.models import DEFAULT_PROJECT_NAME, Project, User, new_id, utcnow
from backend.db.records import (
    UserRecord,
)


class NotFoundError(LookupError):
    """The user, project or run asked for does not exist."""


# --- users and projects -----------------------------------------------------


async def _find_default_project(session: AsyncSession, user_id: str) -> str | None:
    stmt = select(Project.id).where(Project.owner_id == user_id, Project.name == DEFAULT_PROJECT_NAME)
    return (await session.execute(stmt)).scalar_one_or_none()


async def ensure_user(session: AsyncSession, email: str, display_name: str = "") -> UserRecord:
    """Get or create the user (email stripped and lower-cased) and its "Personal" project.

    Idempotent; a concurrent creator losing the race re-reads the winner's row.
    An existing user's display name is left unchanged.
    """
    email = normalize_email(email)
    if not email:
        raise ValueError("email is required")
    stmt = select(User.id, User.email, User.display_name, User.created_at).where(User.email == email)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        user = User(id=new_id(), email=email, display_name=display_name, created_at=utcnow())
        session.add(user)
        try:
            await session.flush()
            add_personal_project(session, user.id, email)
            await session.commit()
        except IntegrityError:
            await session.rollback()  # another request created it first
        row = (await session.execute(stmt)).one()
    user_id, email, name, created_at = row
    project_id = await default_project_id(session, user_id)
    return UserRecord(
        id=user_id, email=email, display_name=name, created_at=created_at, default_project_id=project_id
    )


async def default_project_id(session: AsyncSession, user_id: str) -> str:
    """The user's "Personal" project, created if it is missing."""
    project_id = await _find_default_project(session, user_id)
    if project_id is not None:
        return project_id
    email = (await session.execute(select(User.email).where(User.id == user_id))).scalar_one_or_none()
    if email is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    add_personal_project(session, user_id, email)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # lost a race, or the user does not exist
    project_id = await _find_default_project(session, user_id)
    if project_id is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    return project_id
