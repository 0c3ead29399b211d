"""The batches page (issue 19): a prompt template with {{variables}}, a table of values pasted
or read from a CSV file, the models and assertions; run as a batch, then its progress and
results grid (rows x models), summary, cancel and export.

Everything goes through backend.services.batches (access checked there). While the selected
batch runs, the background `follow` event re-reads its progress and the grid's page every
POLL_SECONDS and holds the state lock only to write what it read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import AccessDenied, Action, Principal, allowed
from backend.batching.variables import variables_of
from backend.i18n import N_, Message
from backend.limits import RateLimitExceeded
from backend.services.access import NotFound
from backend.services.batches import BatchService
from backend.services.comparisons import InvalidComparison
from state.batch_rows import (
    AssertionRow,
    BatchListRow,
    Choice,
    GridRow,
    SummaryRow,
    grid_row,
    list_row,
    progress_text,
    summary_row,
)
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized, localized_all
from state.session_guard import BoundSocket

POLL_SECONDS = 1.0
PAGE_ROWS = 50
ASSERTION_KINDS = ("contains", "regex", "json_valid", "max_latency_ms", "max_cost_usd")
FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
PAGE_EXPORT_MAX_CELLS = 20_000


def _service() -> BatchService:
    return runtime.current().batches


class BatchState(rx.State):
    projects: rx.Field[list[Choice]] = rx.field(default_factory=list)
    project_id: rx.Field[str] = rx.field("")
    can_run: rx.Field[bool] = rx.field(False)
    models: rx.Field[list[Choice]] = rx.field(default_factory=list)
    chosen: rx.Field[list[str]] = rx.field(default_factory=list)
    templates: rx.Field[list[Choice]] = rx.field(default_factory=list)
    template_id: rx.Field[str] = rx.field("")
    template_version: rx.Field[str] = rx.field("")
    name: rx.Field[str] = rx.field("")
    prompt: rx.Field[str] = rx.field("")
    csv_text: rx.Field[str] = rx.field("")
    assertion_kind: rx.Field[str] = rx.field("contains")
    assertion_value: rx.Field[str] = rx.field("")
    assertions: rx.Field[list[AssertionRow]] = rx.field(default_factory=list)
    errors: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    notice: rx.Field[str] = rx.field("")
    batches: rx.Field[list[BatchListRow]] = rx.field(default_factory=list)
    selected_id: rx.Field[str] = rx.field("")
    status: rx.Field[str] = rx.field("")
    note: rx.Field[str] = rx.field("")
    progress: rx.Field[str] = rx.field("")
    progress_pct: rx.Field[int] = rx.field(0)
    grid_models: rx.Field[list[str]] = rx.field(default_factory=list)
    grid: rx.Field[list[GridRow]] = rx.field(default_factory=list)
    summary: rx.Field[list[SummaryRow]] = rx.field(default_factory=list)
    offset: rx.Field[int] = rx.field(0)
    total_rows: rx.Field[int] = rx.field(0)
    _following: bool = False

    @rx.var(cache=True)
    def variables(self) -> str:
        return ", ".join(variables_of(self.prompt))

    @rx.var(cache=True)
    def prompt_error(self) -> str:
        return self.errors.get("prompt", "")

    @rx.var(cache=True)
    def table_error(self) -> str:
        return self.errors.get("table", "")

    @rx.var(cache=True)
    def models_error(self) -> str:
        return self.errors.get("models", "")

    @rx.var(cache=True)
    def assertions_error(self) -> str:
        return self.errors.get("assertions", "")

    @rx.var(cache=True)
    def run_error(self) -> str:
        return self.errors.get("run", "")

    @rx.var(cache=True)
    def running(self) -> bool:
        return self.status == "running"

    @rx.var(cache=True)
    def has_prev(self) -> bool:
        return self.offset > 0

    @rx.var(cache=True)
    def has_next(self) -> bool:
        return self.offset + PAGE_ROWS < self.total_rows

    @rx.var(cache=True)
    def page_text(self) -> str:
        if not self.total_rows:
            return ""
        return f"{self.offset + 1}–{min(self.offset + PAGE_ROWS, self.total_rows)} / {self.total_rows}"

    # --- loading -----------------------------------------------------------
    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        rt = runtime.current()
        projects = await rt.projects.list_for(user)
        self.projects = [Choice(id=p.id, label=p.name) for p in projects]
        if self.project_id not in {p.id for p in projects}:
            self.project_id = projects[0].id if projects else ""
        role = next((p.role for p in projects if p.id == self.project_id), None)
        self.can_run = allowed(role, Action.RUN)
        entries = await rt.comparisons.models(user)
        self.models = [Choice(id=m.id, label=m.display_name) for m in entries if m.available]
        self.chosen = [m for m in self.chosen if m in {c.id for c in self.models}]
        await self._reload_lists(user)
        if self.selected_id:
            await self._show(user, self.selected_id)
            return BatchState.follow if self.running else None
        return None

    async def _reload_lists(self, user: Principal) -> None:
        if not self.project_id:
            self.templates, self.batches = [], []
            return
        service = _service()
        self.templates = [
            Choice(id=t.id, label=f"{t.name} (v{t.version})")
            for t in await service.templates(user, self.project_id)
        ]
        self.batches = [list_row(v) for v in await service.batches(user, self.project_id)]
        if self.selected_id not in {b.id for b in self.batches}:
            self.selected_id = ""
            self.grid, self.summary, self.status = [], [], ""

    async def _show(self, user: Principal, batch_id: str) -> None:
        try:
            view, rows = await _service().results(user, batch_id, self.offset, PAGE_ROWS)
        except NotFound:
            self.selected_id, self.grid, self.status = "", [], ""
            return
        self.selected_id = batch_id
        self.status = view.batch.status
        self.note = await localized(self, view.batch.note)
        self.progress = progress_text(view)
        p = view.progress
        self.progress_pct = round(100 * p.finished / p.cells) if p.cells else 0
        self.total_rows = view.batch.total_rows
        self.grid_models = list(view.batch.models)
        self.grid = [grid_row(r) for r in rows]
        if view.batch.status != "running":
            self.summary = [summary_row(s) for s in await _service().summary(user, batch_id)]
        self.batches = [list_row(view) if b.id == batch_id else b for b in self.batches]

    @event
    def set_project(self, project_id: str) -> Followup:
        self.project_id = project_id  # load keeps it only if I may read it
        self.template_id, self.selected_id = "", ""
        return BatchState.load

    # --- the form ----------------------------------------------------------
    @event
    def set_name(self, value: str) -> None:
        self.name = value

    @event
    def set_prompt(self, value: str) -> None:
        self.prompt = value
        self.errors.pop("prompt", None)

    @event
    def set_csv_text(self, value: str) -> None:
        self.csv_text = value if isinstance(value, str) else ""
        self.errors.pop("table", None)

    @event
    def toggle_model(self, model_id: str, on: bool) -> None:
        chosen = [m for m in self.chosen if m != model_id]
        self.chosen = [*chosen, model_id] if on else chosen
        self.errors.pop("models", None)

    @event
    def set_assertion_kind(self, value: str) -> None:
        self.assertion_kind = value if value in ASSERTION_KINDS else "contains"

    @event
    def set_assertion_value(self, value: str) -> None:
        self.assertion_value = value

    @event
    def add_assertion(self) -> None:
        value = "" if self.assertion_kind == "json_valid" else self.assertion_value.strip()
        label = self.assertion_kind if not value else f"{self.assertion_kind} {value}"
        self.assertions = [*self.assertions, AssertionRow(kind=self.assertion_kind, value=value, label=label)]
        self.assertion_value = ""

    @event
    def remove_assertion(self, index: int) -> None:
        self.assertions = [a for i, a in enumerate(self.assertions) if i != index]

    @event
    @with_user
    async def pick_template(self, user: Principal, template_id: str) -> None:
        self.template_id = ""
        self.template_version = ""
        if not template_id:
            return
        try:
            template = await _service().template(user, template_id)
        except NotFound:
            return
        self.template_id, self.name, self.prompt = template.id, template.name, template.prompt
        self.template_version = str(template.version)

    @event
    @with_user
    async def save_template(self, user: Principal) -> None:
        """A new template, or the next version of the one picked."""
        self.errors, self.notice = {}, ""
        payload = {"project_id": self.project_id, "name": self.name or "Template", "prompt": self.prompt}
        lineage = None
        service = _service()
        try:
            if self.template_id:
                lineage = (await service.template(user, self.template_id)).lineage_id
            saved = await service.save_template(user, payload, lineage_id=lineage)
        except InvalidComparison as exc:
            self.errors = await localized_all(self, exc.errors)
            return
        except (AccessDenied, NotFound) as exc:
            self.errors = {"prompt": await localized(self, str(exc))}
            return
        self.template_id, self.template_version, self.name = saved.id, str(saved.version), saved.name
        self.notice = N_("Template saved.")
        await self._reload_lists(user)

    # --- running -----------------------------------------------------------
    @event
    @with_user
    async def run(self, user: Principal) -> Followup:
        self.errors, self.notice = {}, ""
        payload = {
            "project_id": self.project_id or None,
            "name": self.name,
            "prompt": self.prompt,
            "csv": self.csv_text,
            "models": list(self.chosen),
            "assertions": [{"kind": a.kind, "value": a.value} for a in self.assertions],
        }
        if self.template_id:  # the saved version runs only if the text was not changed since
            template = await _service().template(user, self.template_id)
            if template.prompt == self.prompt:
                payload = {**payload, "template_id": template.id, "prompt": ""}
        try:
            view = await _service().create(user, payload)
        except InvalidComparison as exc:
            self.errors = await localized_all(self, _form_errors(await localized_all(self, exc.errors)))
            return None
        except RateLimitExceeded as exc:
            self.errors = {"run": await localized(self, exc.message)}
            return None
        except (AccessDenied, NotFound) as exc:
            self.errors = {"run": await localized(self, str(exc))}
            return None
        self.offset = 0
        await self._reload_lists(user)
        await self._show(user, view.batch.id)
        return BatchState.follow

    @event
    @with_user
    async def select(self, user: Principal, batch_id: str) -> Followup:
        self.offset = 0
        self.summary = []
        await self._show(user, batch_id)
        return BatchState.follow if self.running else None

    @event
    @with_user
    async def turn_page(self, user: Principal, step: int) -> None:
        self.offset = max(0, min(self.offset + step * PAGE_ROWS, max(self.total_rows - 1, 0)))
        if self.selected_id:
            await self._show(user, self.selected_id)

    @event
    @with_user
    async def cancel(self, user: Principal) -> None:
        if not self.selected_id:
            return
        try:
            await _service().cancel(user, self.selected_id)
        except (AccessDenied, NotFound) as exc:
            self.errors = {"run": await localized(self, str(exc))}
            return
        await self._show(user, self.selected_id)

    @event
    @with_user
    async def export(self, user: Principal, format: str) -> EventSpec | None:
        if not self.selected_id:
            return None
        format = format if format in FORMATS else "csv"
        try:
            body = await _service().export(user, self.selected_id, format)  # type: ignore[arg-type]
            data = b"".join([chunk async for chunk in body])
        except NotFound as exc:
            self.errors = {"run": await localized(self, str(exc))}
            return None
        return rx.download(
            data=data, filename=f"batch-{self.selected_id}.{format}", mime_type=FORMATS[format]
        )

    @event(background=True)
    @with_user
    async def follow(self, user: Principal) -> AsyncGenerator[EventSpec, None]:
        """Re-read the selected batch while it runs (one follower per tab)."""
        async with self:
            if self._following:
                return
            self._following = True
            socket = BoundSocket.of(self)
        try:
            while True:
                await asyncio.sleep(POLL_SECONDS)
                if not socket.holds_the_tab():
                    return
                async with self:
                    batch_id, offset = self.selected_id, self.offset
                if not batch_id:
                    return
                try:
                    view, rows = await _service().results(user, batch_id, offset, PAGE_ROWS)
                    summary = (
                        [] if view.batch.status == "running" else await _service().summary(user, batch_id)
                    )
                except NotFound:
                    return
                async with self:
                    if self.selected_id != batch_id or self.offset != offset:
                        continue
                    self.status = view.batch.status
                    self.note = view.batch.note
                    self.progress = progress_text(view)
                    p = view.progress
                    self.progress_pct = round(100 * p.finished / p.cells) if p.cells else 0
                    self.grid = [grid_row(r) for r in rows]
                    self.summary = [summary_row(s) for s in summary]
                    self.batches = [list_row(view) if b.id == batch_id else b for b in self.batches]
                    if view.batch.status != "running":
                        return
        finally:
            async with self:
                self._following = False
        yield  # an async generator, as @with_user's background form needs


def _form_errors(errors: dict[str, str]) -> dict[str, str]:
    """The service's field paths as the form's fields: a row's or a model's error shows once."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        field = key.split(".", 1)[0]
        if field == "rows":
            number = key.split(".")[1]
            out.setdefault("table", Message("Row {row}: {message}", row=number, message=message))
        elif field in ("models", "csv", "table", "prompt", "assertions", "name"):
            out.setdefault("table" if field == "csv" else field, message)
        else:
            out.setdefault("run", message)
    return out
