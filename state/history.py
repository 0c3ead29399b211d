"""History: past comparisons, newest first, a page at a time."""

from __future__ import annotations

import reflex as rx

from backend import runtime
from backend.auth import Action, Principal, allowed
from backend.i18n import Message, in_every_language, utc_moment_in_every_language
from state.current_user import with_user
from state.events import Followup, event
from state.rows import HistoryRow, ProjectChoice, prompt_title

PAGE_SIZE = 20


ALL_PROJECTS = "all"


class HistoryState(rx.State):
    rows: rx.Field[list[HistoryRow]] = rx.field(default_factory=list)
    page: rx.Field[int] = rx.field(1)
    total: rx.Field[int] = rx.field(0)
    projects: rx.Field[list[ProjectChoice]] = rx.field(
        default_factory=list
    )  # every project the user can read
    project_id: rx.Field[str] = rx.field(ALL_PROJECTS)

    @rx.var(cache=True)
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var(cache=True)
    def has_prev(self) -> bool:
        return self.page > 1

    @rx.var(cache=True)
    def has_next(self) -> bool:
        return self.page < self.page_count

    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        rt = runtime.current()
        mine = await rt.projects.list_for(user)
        self.projects = [ProjectChoice(id=p.id, name=p.name) for p in mine]
        editable = {p.id for p in mine if allowed(p.role, Action.EDIT)}
        wanted = self.router.url.query_parameters.get("project", "")
        if wanted and wanted != self.project_id and wanted in {p.id for p in self.projects}:
            self.project_id, self.page = wanted, 1
        if self.project_id not in {p.id for p in self.projects}:
            self.project_id = ALL_PROJECTS
        result = await rt.comparisons.history(
            user,
            page=self.page,
            page_size=PAGE_SIZE,
            project_id=None if self.project_id == ALL_PROJECTS else self.project_id,
        )
        self.total = result.total
        versions = await rt.prompts.version_numbers(user, [item.id for item in result.items])
        # Dates and statuses kept in every language: the page shows them in its own, and again
        # when the person switches (t_var), as it does the services' messages.
        self.rows = [
            HistoryRow(
                id=item.id,
                title=prompt_title(item.prompt_first_line),
                models=", ".join(item.models),
                created=utc_moment_in_every_language(item.created_at),
                status=in_every_language(_status(item.n_runs, item.n_done, item.n_error, item.n_active)),
                version=f"v{versions[item.id]}" if item.id in versions else "",
                turns=item.n_turns,
                can_delete=item.project_id in editable,
            )
            for item in result.items
        ]
        return None

    @event
    async def set_project(self, project_id: str) -> Followup:
        self.project_id, self.page = project_id, 1
        return HistoryState.load

    @event
    async def next_page(self) -> Followup:
        if self.has_next:
            self.page += 1
        return HistoryState.load

    @event
    async def prev_page(self) -> Followup:
        self.page = max(1, self.page - 1)
        return HistoryState.load


def _status(n_runs: int, n_done: int, n_error: int, n_active: int) -> Message:
    if n_active:
        return Message("{n} running", n=n_active)
    if n_error:
        return Message("{done}/{runs} done, {failed} failed", done=n_done, runs=n_runs, failed=n_error)
    return Message("{done}/{runs} done", done=n_done, runs=n_runs)
