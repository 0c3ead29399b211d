"""The one authorization check every service method makes before it touches data.

A user with no role in the project gets NotFound (as if the thing did not exist,
so ids cannot be probed); a member whose role does not allow the action gets
AccessDenied.
"""

from __future__ import annotations

from backend.auth.permissions import AccessDenied, Action, Principal, allowed
from backend.db import projects as repo
from backend.db.engine import Database


class NotFound(LookupError):
    pass


ACTION_WORDS = {
    Action.READ: "see",
    Action.RUN: "run comparisons in",
    Action.EDIT: "change comparisons in",
    Action.SHARE: "share comparisons of",
    Action.MANAGE: "manage",
}


class Access:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def role(self, principal: Principal, project_id: str) -> str | None:
        async with self._db.session() as session:
            return await repo.role_in_project(session, principal.user_id, project_id)

    async def require_project(self, principal: Principal, action: Action, project_id: str) -> str:
        """The principal's role in the project, if it allows ``action``."""
        role = await self.role(principal, project_id)
        if role is None:
            raise NotFound(f"No project {project_id}.")
        if not allowed(role, action):
            raise AccessDenied(_denied(role, action))
        return role

    async def require_comparison(self, principal: Principal, action: Action, comparison_id: str) -> str:
        """The comparison's project id, if the principal may do ``action`` to it."""
        found = await self._db.read(
            lambda connection: repo.comparison_project_and_role(connection, comparison_id, principal.user_id)
        )
        project_id, role = found if found is not None else ("", None)
        if role is None:
            raise NotFound(f"No comparison {comparison_id}.")
        if not allowed(role, action):
            raise AccessDenied(_denied(role, action))
        return project_id


def _denied(role: str, action: Action) -> str:
    return f"Your role ({role}) does not allow you to {ACTION_WORDS[action]} this project."
