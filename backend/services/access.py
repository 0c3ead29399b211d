"""The one authorization check every service method makes before it touches data.

A user with no role in the project gets NotFound (as if the thing did not exist,
so ids cannot be probed); a member whose role does not allow the action gets
AccessDenied.
"""

from __future__ import annotations

from backend.auth.permissions import AccessDenied, Action, Principal, allowed
from backend.db import projects as repo
from backend.db.engine import Database
from backend.i18n import N_, Message


class NotFound(LookupError):
    """Nothing the person may see has this id; the argument is the message for people (a
    backend.i18n.Message naming the id, said in the reader's language)."""


# One whole sentence per action (a translation cannot be assembled from English fragments).
DENIED = {
    Action.READ: N_("Your role ({role}) does not allow you to see this project."),
    Action.RUN: N_("Your role ({role}) does not allow you to run comparisons in this project."),
    Action.EDIT: N_("Your role ({role}) does not allow you to change comparisons in this project."),
    Action.SHARE: N_("Your role ({role}) does not allow you to share comparisons of this project."),
    Action.MANAGE: N_("Your role ({role}) does not allow you to manage this project."),
}


class Access:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def role(self, principal: Principal, project_id: str) -> str | None:
        return await self._db.read(
            lambda connection: repo.role_in_project(connection, principal.user_id, project_id)
        )

    async def require_project(self, principal: Principal, action: Action, project_id: str) -> str:
        """The principal's role in the project, if it allows ``action``."""
        role = await self.role(principal, project_id)
        if role is None:
            raise NotFound(Message("No project {id}.", id=project_id))
        if not allowed(role, action):
            raise AccessDenied(_denied(role, action))
        return role

    async def require_comparison(self, principal: Principal, action: Action, comparison_id: str) -> str:
        """The comparison's project id, if the principal may do ``action`` to it."""
        found = await self._db.read(
            lambda connection: repo.comparison_project_and_role(connection, comparison_id, principal.user_id)
        )
        return comparison_allows(found, action, comparison_id)


def comparison_allows(found: tuple[str, str | None] | None, action: Action, comparison_id: str) -> str:
    """`require_comparison`'s decision on what `comparison_project_and_role` answered, for a
    caller that read it in a transaction of its own: the project id, or NotFound / AccessDenied."""
    project_id, role = found if found is not None else ("", None)
    if role is None:
        raise NotFound(Message("No comparison {id}.", id=comparison_id))
    if not allowed(role, action):
        raise AccessDenied(_denied(role, action))
    return project_id


def _denied(role: str, action: Action) -> str:
    return Message(DENIED[action], role=Message(role))
