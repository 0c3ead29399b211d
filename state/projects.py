"""The Projects page: the user's projects, and the members of the one selected."""

from __future__ import annotations

import reflex as rx

from backend import runtime
from backend.auth import AccessDenied, Action, Principal, allowed
from backend.i18n import N_, Message
from backend.services.access import NotFound
from backend.services.projects import InvalidProject, default_project
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized, localized_all
from state.rows import MemberRow, ProjectRow


class ProjectsState(rx.State):
    projects: rx.Field[list[ProjectRow]] = rx.field(default_factory=list)
    selected_id: rx.Field[str] = rx.field("")
    members: rx.Field[list[MemberRow]] = rx.field(default_factory=list)
    errors: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    notice: rx.Field[str] = rx.field("")
    # Removing a member revokes the share links they made here unless the owner ticks "keep".
    keep_member_links: rx.Field[bool] = rx.field(False)

    @rx.var(cache=True)
    def selected(self) -> ProjectRow | None:
        return next((p for p in self.projects if p.id == self.selected_id), None)

    @rx.var(cache=True)
    def selected_name(self) -> str:
        return self.selected.name if self.selected else ""

    @rx.var(cache=True)
    def can_manage(self) -> bool:
        return bool(self.selected and self.selected.can_manage)

    @rx.var(cache=True)
    def name_error(self) -> str:
        return self.errors.get("name", "") or self.errors.get("project", "")

    @rx.var(cache=True)
    def selected_personal(self) -> bool:
        return bool(self.selected and self.selected.personal)

    @rx.var(cache=True)
    def member_error(self) -> str:
        return self.errors.get("email", "") or self.errors.get("role", "") or self.errors.get("member", "")

    async def _reload(self, user: Principal) -> None:
        rt = runtime.current()
        mine = await rt.projects.list_for(user)
        personal = default_project(mine)
        self.projects = [
            ProjectRow(
                id=p.id,
                name=p.name,
                role=p.role,
                owner_name=p.owner_name,
                n_comparisons=p.n_comparisons,
                can_manage=allowed(p.role, Action.MANAGE),
                personal=personal is not None and p.id == personal.id,
            )
            for p in mine
        ]
        if self.selected_id not in {p.id for p in self.projects}:
            self.selected_id = self.projects[0].id if self.projects else ""
        self.members = []
        if self.selected_id:
            self.members = [
                MemberRow(email=m.email, display_name=m.display_name, role=m.role, pending=m.pending)
                for m in await rt.projects.members(user, self.selected_id)
            ]

    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        self.errors, self.notice = {}, ""
        await self._reload(user)
        return None

    @event
    @with_user
    async def select(self, user: Principal, project_id: str) -> Followup:
        self.selected_id, self.errors, self.notice = project_id, {}, ""
        await self._reload(user)
        return None

    async def _act(self, user: Principal, action: str, *args: str) -> bool:
        """Run a ProjectService method; on refusal show why and return False."""
        try:
            await getattr(runtime.current().projects, action)(user, *args)
        except InvalidProject as exc:
            self.errors = await localized_all(self, exc.errors)
            return False
        except (AccessDenied, NotFound) as exc:
            self.errors = {"member": await localized(self, str(exc))}
            return False
        self.errors = {}
        await self._reload(user)
        return True

    @event
    @with_user
    async def create(self, user: Principal, form: dict[str, str]) -> Followup:
        try:
            self.selected_id = await runtime.current().projects.create(user, str(form.get("name", "")))
        except InvalidProject as exc:
            self.errors = await localized_all(self, exc.errors)
            return None
        self.errors, self.notice = {}, N_("Project created.")
        await self._reload(user)
        return None

    @event
    @with_user
    async def rename(self, user: Principal, form: dict[str, str]) -> Followup:
        if await self._act(user, "rename", self.selected_id, str(form.get("name", ""))):
            self.notice = N_("Project renamed.")
        return None

    @event
    @with_user
    async def delete(self, user: Principal) -> Followup:
        if await self._act(user, "delete", self.selected_id):
            self.notice = N_("Project deleted with its comparisons.")
        return None

    @event
    @with_user
    async def invite(self, user: Principal, form: dict[str, str]) -> Followup:
        email, role = str(form.get("email", "")), str(form.get("role", "viewer"))
        if await self._act(user, "set_member", self.selected_id, email, role):
            said = _INVITED.get(role, N_("{email} can now use this project."))
            self.notice = await localized(self, Message(said, email=email.strip()))
        return None

    @event
    @with_user
    async def set_role(self, user: Principal, email: str, role: str) -> Followup:
        if await self._act(user, "set_member", self.selected_id, email, role):
            said = _NEW_ROLE.get(role, N_("{email} has a new role."))
            self.notice = await localized(self, Message(said, email=email))
        return None

    @event
    @with_user
    async def remove(self, user: Principal, email: str) -> Followup:
        try:
            revoked = await runtime.current().projects.remove_member(
                user, self.selected_id, email, revoke_links=not self.keep_member_links
            )
        except InvalidProject as exc:
            self.errors = await localized_all(self, exc.errors)
            return None
        except (AccessDenied, NotFound) as exc:
            self.errors = {"member": await localized(self, str(exc))}
            return None
        self.errors = {}
        await self._reload(user)
        removed = (
            Message("{email} was removed. Share links revoked: {count}.", email=email, count=revoked)
            if revoked
            else Message("{email} was removed.", email=email)
        )
        self.notice = await localized(self, removed)
        return None

    @event
    @with_user
    async def set_keep_member_links(self, user: Principal, keep: bool) -> Followup:
        self.keep_member_links = bool(keep)
        return None


# A member's new role, said as a whole sentence per role (so each language words it its own way).
_INVITED = {
    "owner": N_("{email} can now manage this project."),
    "editor": N_("{email} can now run comparisons in this project."),
    "viewer": N_("{email} can now read this project."),
}
_NEW_ROLE = {
    "owner": N_("{email} is now an owner."),
    "editor": N_("{email} is now an editor."),
    "viewer": N_("{email} is now a viewer."),
}
