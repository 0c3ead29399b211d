"""Search on the History page (issue 17): the form's query and filters in, typed result rows out.

The same SearchService as GET /api/v1/search: hybrid keyword + meaning, only comparisons the
person may read (re-checked against the database), blind comparisons masked.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import reflex as rx

from backend import runtime
from backend.auth import Principal
from backend.i18n import N_, joined_in_every_language, utc_moment_in_every_language
from backend.search.service import InvalidSearch, SearchFilters, SearchHit
from backend.services.access import NotFound
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized
from state.rows import prompt_title

ALL = "all"
LIMIT = 20
TEXT = {
    "not_member": N_("You are not a member of that project."),
    "bad_date": N_("Dates look like 2026-12-31."),
    "none": N_("Nothing matches that search."),
    "by": {
        "both": N_("Matched by words and meaning"),
        "keyword": N_("Matched by words"),
        "meaning": N_("Matched by meaning"),
    },
}


@dataclasses.dataclass
class SearchRow:
    id: str
    title: str
    models: str
    winner: str
    created: str
    snippet: str
    matched: str


@dataclasses.dataclass
class FilterChoice:
    id: str
    name: str


def _row(hit: SearchHit) -> SearchRow:
    by: dict[str, str] = TEXT["by"]  # type: ignore[assignment]
    return SearchRow(
        id=hit.comparison_id,
        title=prompt_title(hit.prompt_first_line),
        models=", ".join(hit.models),
        winner=hit.winner,
        created=utc_moment_in_every_language(hit.created_at),
        snippet=hit.snippet,
        matched=by.get(hit.matched_by, hit.matched_by),
    )


def _day(value: str, plus_days: int = 0) -> datetime | None:
    if not value.strip():
        return None
    return datetime.fromisoformat(value.strip()).replace(tzinfo=UTC) + timedelta(days=plus_days)


class SearchState(rx.State):
    results: rx.Field[list[SearchRow]] = rx.field(default_factory=list)
    note: rx.Field[str] = rx.field("")  # e.g. keyword matches only while the vector side is down
    error: rx.Field[str] = rx.field("")
    searched: rx.Field[bool] = rx.field(False)
    projects: rx.Field[list[FilterChoice]] = rx.field(default_factory=list)
    models: rx.Field[list[FilterChoice]] = rx.field(default_factory=list)

    @rx.var(cache=True)
    def empty_message(self) -> str:
        return TEXT["none"] if self.searched and not self.results and not self.error else ""  # type: ignore[return-value]

    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        rt = runtime.current()
        self.projects = [FilterChoice(id=p.id, name=p.name) for p in await rt.projects.list_for(user)]
        self.models = [FilterChoice(id=m.id, name=m.display_name) for m in await rt.comparisons.models(user)]
        return None

    @event
    @with_user
    async def search(self, user: Principal, form: dict[str, Any]) -> Followup:
        project = str(form.get("project", ALL))
        try:
            filters = SearchFilters(
                project_id="" if project == ALL else project,
                model="" if str(form.get("model", ALL)) == ALL else str(form.get("model")),
                created_from=_day(str(form.get("from", ""))),
                created_to=_day(str(form.get("to", "")), plus_days=1),  # "to" includes that day
                has_votes=True if form.get("has_votes") in ("on", True, "true") else None,
            )
        except ValueError:
            self.error, self.results, self.note = TEXT["bad_date"], [], ""  # type: ignore[assignment]
            return None
        try:
            found = await runtime.current().search.search(user, str(form.get("q", "")), filters, LIMIT)
        except InvalidSearch as exc:
            self.error, self.results, self.note = joined_in_every_language(exc.errors.values()), [], ""
            return None
        except NotFound:
            self.error, self.results, self.note = TEXT["not_member"], [], ""  # type: ignore[assignment]
            return None
        self.error, self.note, self.searched = "", await localized(self, found.note), True
        self.results = [_row(hit) for hit in found.hits]
        return None

    @event
    async def clear(self) -> Followup:
        self.results, self.note, self.error, self.searched = [], "", "", False
        return None
