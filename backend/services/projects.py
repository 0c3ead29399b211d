"""Projects and their members: create, rename, delete, invite by email, change roles; the
models a project's battles draw from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from backend.auth.accounts import email_problem
from backend.auth.permissions import Action, Principal, Role, allowed
from backend.db import projects as repo
from backend.db.engine import Database
from backend.db.models import DEFAULT_PROJECT_NAME
from backend.i18n import N_, Message
from backend.providers import registry
from backend.services.access import Access
from backend.services.validation import InvalidComparison

MAX_PROJECT_NAME = 200
MAX_BATTLE_POOL = 50
MAX_MODEL_ID_CHARS = 200  # as PaneInput.model


# Every account's comparisons without a project go to its Personal project (found by its name),
# and processes cache which project that is: it cannot be deleted or renamed.
PERSONAL_STAYS = N_(
    "The Personal project cannot be deleted or renamed: comparisons without a project go there."
)
LAST_OWNER = N_("A project needs at least one owner.")


class InvalidProject(InvalidComparison):
    """Bad input for a project or member, keyed by field like InvalidComparison."""


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidProject({"name": "Give the project a name."})
    if len(name) > MAX_PROJECT_NAME:
        raise InvalidProject({"name": Message("Use at most {n} characters.", n=MAX_PROJECT_NAME)})
    if "\x00" in name:  # PostgreSQL cannot store it; refused on every database alike
        raise InvalidProject({"name": "A project name must not contain NUL (\\x00) characters."})
    return name


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidProject({"role": "Choose owner, editor or viewer."}) from None


def default_project(projects: Iterable[repo.ProjectInfo]) -> repo.ProjectInfo | None:
    """The user's own Personal project among `projects`, if listed: where a new comparison goes
    unless the user picks another (ComparisonService.create falls back to it too)."""
    return next((p for p in projects if p.name == DEFAULT_PROJECT_NAME and p.role == Role.OWNER), None)


class ProjectService:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._access = Access(db)

    async def list_for(self, principal: Principal) -> list[repo.ProjectInfo]:
        async with self._db.session() as session:
            return await repo.list_projects(session, principal.user_id)

    async def runnable_for(self, principal: Principal) -> list[repo.ProjectInfo]:
        """The projects the user may run comparisons in."""
        return [p for p in await self.list_for(principal) if allowed(p.role, Action.RUN)]

    async def role(self, principal: Principal, project_id: str) -> str | None:
        return await self._access.role(principal, project_id)

    async def create(self, principal: Principal, name: str) -> str:
        name = _clean_name(name)
        async with self._db.session() as session:
            try:
                return await repo.create_project(session, principal.user_id, principal.email, name)
            except repo.DuplicateName:
                raise InvalidProject(
                    {"name": Message("You already have a project named {name!r}.", name=name)}
                ) from None

    async def rename(self, principal: Principal, project_id: str, name: str) -> None:
        await self._access.require_project(principal, Action.MANAGE, project_id)
        name = _clean_name(name)
        async with self._db.session() as session:
            if await repo.is_personal(session, project_id):
                raise InvalidProject({"name": PERSONAL_STAYS})
            try:
                await repo.rename_project(session, project_id, name)
            except repo.DuplicateName:
                raise InvalidProject(
                    {"name": Message("The owner already has a project named {name!r}.", name=name)}
                ) from None

    async def delete(self, principal: Principal, project_id: str) -> None:
        await self._access.require_project(principal, Action.MANAGE, project_id)
        async with self._db.session() as session:
            if await repo.is_personal(session, project_id):
                raise InvalidProject({"project": PERSONAL_STAYS})
            await repo.delete_project(session, project_id)

    async def members(self, principal: Principal, project_id: str) -> list[repo.MemberInfo]:
        await self._access.require_project(principal, Action.READ, project_id)
        async with self._db.session() as session:
            return await repo.list_members(session, project_id)

    async def set_member(self, principal: Principal, project_id: str, email: str, role: str) -> None:
        """Invite someone by email (they join when they sign up) or change a member's role."""
        await self._access.require_project(principal, Action.MANAGE, project_id)
        if problem := email_problem(email):
            raise InvalidProject({"email": problem})
        async with self._db.session() as session:
            try:
                await repo.set_member(session, project_id, email, _role(role).value)
            except repo.LastOwner:
                raise InvalidProject({"role": LAST_OWNER}) from None

    async def remove_member(
        self, principal: Principal, project_id: str, email: str, revoke_links: bool = True
    ) -> int:
        """Remove a member (or an invitation); by default the share links they made to this
        project's comparisons are revoked too. Returns how many links were revoked."""
        await self._access.require_project(principal, Action.MANAGE, project_id)
        async with self._db.session() as session:
            try:
                removed = await repo.remove_member(session, project_id, email, revoke_links=revoke_links)
            except repo.LastOwner:
                raise InvalidProject({"email": LAST_OWNER}) from None
        return removed.links_revoked

    async def battle_pool(self, principal: Principal, project_id: str) -> list[str]:
        """The models this project's battles draw from (empty: any model available)."""
        await self._access.require_project(principal, Action.READ, project_id)
        async with self._db.session() as session:
            return await repo.battle_pool(session, project_id)

    async def set_battle_pool(
        self, principal: Principal, project_id: str, models: Sequence[str]
    ) -> list[str]:
        """Owners choose the pool: none (any available model) or at least two model ids."""
        await self._access.require_project(principal, Action.MANAGE, project_id)
        pool = list(dict.fromkeys(m.strip() for m in models if m.strip()))
        problems = [m for m in pool if not _is_model_id(m)]
        if problems:
            raise InvalidProject(
                {"models": Message("Not model ids (family:name): {ids}.", ids=", ".join(problems))}
            )
        if len(pool) == 1:
            raise InvalidProject(
                {"models": N_("A battle needs at least two models; leave the pool empty for any.")}
            )
        if len(pool) > MAX_BATTLE_POOL:
            raise InvalidProject(
                {"models": Message("At most {n} models in a battle pool.", n=MAX_BATTLE_POOL)}
            )
        async with self._db.session() as session:
            await repo.set_battle_pool(session, project_id, pool)
        return pool


def _is_model_id(model: str) -> bool:
    try:
        registry.parse_model_id(model)
    except ValueError:
        return False
    return len(model) <= MAX_MODEL_ID_CHARS
