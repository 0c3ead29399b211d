"""Who may do what: roles in a project, the actions they allow, and the signed-in principal.

Every path into the app (page events, HTTP API routes, share links) asks the same
question through :func:`allowed`, so one table decides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class Action(StrEnum):
    READ = "read"  # see the project and its comparisons
    RUN = "run"  # start, stop and retry comparisons
    EDIT = "edit"  # delete comparisons
    SHARE = "share"  # create and revoke share links
    MANAGE = "manage"  # rename or delete the project, invite members, change roles


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ}),
    Role.EDITOR: frozenset({Action.READ, Action.RUN, Action.EDIT, Action.SHARE}),
    Role.OWNER: frozenset(Action),
}


def allowed(role: Role | str | None, action: Action) -> bool:
    if role is None:
        return False
    try:
        return action in _ALLOWED[Role(role)]
    except ValueError:  # a role this version does not know grants nothing
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """The user an event or request acts for, however they proved it."""

    user_id: str
    email: str
    display_name: str
    is_admin: bool = False
    via: str = "session"  # session | api-token | firebase


class AccessDenied(PermissionError):
    """The user may see the thing but not do this to it (HTTP 403)."""
