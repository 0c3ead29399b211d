"""The comparison page: prompt, panes, run/stop/retry, and the live stream.

`run` validates, saves and shows empty panes at once, then hands over to the
background `stream` event, which follows the runs (state/compare_stream.py).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import reflex as rx
from reflex.event import Event, EventSpec

from backend import runtime, tracing
from backend.auth import AccessDenied, Action, Principal, allowed
from backend.i18n import N_, joined_in_every_language
from backend.runs_model import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE
from backend.services.comparisons import InvalidComparison, NotFound, RateLimitExceeded
from backend.services.projects import default_project
from backend.services.validation import MAX_PANES, MAX_PROMPT_CHARS
from backend.streaming.follower import short_key
from components.prompt_form import SYSTEM_PROMPT_ID, SYSTEM_PROMPT_OPEN_ID
from state.compare_stream import follow_runs
from state.current_user import with_user
from state.events import Followup, event
from state.language import localized, localized_all
from state.pane_forms import TOO_MANY_PANES, prefilled_panes, show_field_errors
from state.pane_params import clear_service_errors, copy_params, invalid_panes, set_param
from state.prompt_images import PromptImagesState, attached_image_ids, show_record_images
from state.rows import (
    ACTIVE_STATUSES,
    ModelOption,
    PaneRow,
    ProjectChoice,
    new_pane,
    option_from_entry,
    panes_from_record,
    show_earlier_attempts,
)
from state.run_option_fields import copy_options, pane_payload

DEFAULT_MODELS = ("simulated:swift", "simulated:ponder", "simulated:coder")


class CompareState(rx.State):
    prompt: rx.Field[str] = rx.field("")
    system_prompt: rx.Field[str] = rx.field("")
    show_system: rx.Field[bool] = rx.field(False)
    panes: rx.Field[list[PaneRow]] = rx.field(default_factory=list)
    models: rx.Field[list[ModelOption]] = rx.field(default_factory=list)
    picker: rx.Field[str] = rx.field("")
    sync_settings: rx.Field[bool] = rx.field(False)
    sync_scroll: rx.Field[bool] = rx.field(False)
    use_cache: rx.Field[bool] = rx.field(False)  # replay cached answers even at temperature > 0
    dense: rx.Field[bool] = rx.field(False)  # compact panes: smaller text, more side by side
    errors: rx.Field[dict[str, str]] = rx.field(default_factory=dict)
    comparison_id: rx.Field[str] = rx.field("")
    can_run: rx.Field[bool] = rx.field(True)  # False for a viewer of the comparison's project
    projects: rx.Field[list[ProjectChoice]] = rx.field(
        default_factory=list
    )  # where the user may run; new comparisons go to project_id
    project_id: rx.Field[str] = rx.field("")
    project_name: rx.Field[str] = rx.field("")  # the open comparison's project, as its members call it
    blind: rx.Field[bool] = rx.field(False)  # the next Run labels its panes "Model A", "Model B" …
    # True once this page's load has answered in this tab (it stays true, as AuthState.login_ready).
    # The page is prerendered with Run enabled, and a Run clicked before the page was live was lost
    # (the clean-clone CI's run 2: no run within 60 s); until then the run controls are disabled.
    loaded: rx.Field[bool] = rx.field(False)
    _generation: int = 0
    # The panes as picked before a blind run or battle (their order, models, settings), for
    # "New": the blind panes on screen carry labels, not models. Never sent to the browser.
    _picked: list[tuple[str, float, int]] = []

    # --- derived -----------------------------------------------------------
    @rx.var(cache=True)
    def running(self) -> bool:
        return any(p.status in ACTIVE_STATUSES for p in self.panes)

    @rx.var(cache=True)
    def masked(self) -> bool:
        """The open comparison is blind and its models are not revealed to this person yet."""
        return any(p.masked for p in self.panes)

    @rx.var(cache=True)
    def latest_turn(self) -> int:
        """The conversation's latest turn (issue 19): what the vote and the judge are about."""
        return max((p.turn for p in self.panes), default=1)

    @rx.var(cache=True)
    def can_add_pane(self) -> bool:
        return len(self.panes) < MAX_PANES

    @rx.var(cache=True)
    def prompt_error(self) -> str:
        return self.errors.get("prompt", "")

    @rx.var(cache=True)
    def panes_error(self) -> str:
        return self.errors.get("panes", "")

    @rx.var(cache=True)
    def limit_error(self) -> str:
        return self.errors.get("limit", "")

    # --- loading -----------------------------------------------------------
    @event
    @with_user
    async def load(self, user: Principal) -> Followup:
        rt = runtime.current()
        self.loaded = True  # sent when this handler answers, with all it loads
        await self._load_projects(user)
        self.models = [option_from_entry(e) for e in await rt.comparisons.models(user)]
        if not self.picker and self.models:
            self.picker = next((m.id for m in self.models if m.available), self.models[0].id)
        query = self.router.url.query_parameters
        # /compare?models=a,b&prompt=… (bookmarks, docs) opens a new comparison filled in.
        prefill = not query.get("c") and ("models" in query or "prompt" in query)
        wanted = "" if prefill else query.get("c", "") or self.comparison_id
        self.can_run = True
        if wanted:
            try:
                record = rt.comparisons.with_live_output(await rt.comparisons.get(user, wanted))
            except NotFound as exc:
                self.comparison_id, self.panes = "", []
                self.errors = {"panes": await localized(self, str(exc))}
                return None
            self.can_run = allowed(await rt.comparisons.role_for(user, record.id), Action.RUN)
            self.comparison_id = record.id
            if self.can_run:
                self.project_id = record.project_id
            self.project_name = await self._project_name(user, record.project_id)
            self.prompt = record.prompt
            self.system_prompt = record.system_prompt
            self.show_system = bool(record.system_prompt)
            self.use_cache = bool(record.settings.get("use_cache", False))
            show_record_images(await self.get_state(PromptImagesState), record)
            self.panes = panes_from_record(record)
            show_earlier_attempts(self.panes, await rt.comparisons.earlier_attempts(user, record.id))
            for pane in self.panes:  # live text arrives through the stream, not the state
                if pane.status in ACTIVE_STATUSES:
                    pane.text = ""
            if self.running:
                return CompareState.stream
        elif prefill:
            await self._prefill(query.get("models", ""), query.get("prompt", ""))
        elif not self.panes:
            self.panes = [new_pane(m, self.models) for m in DEFAULT_MODELS]
        return None

    async def _prefill(self, models: str, prompt: str) -> None:
        """Panes and prompt from a link; nothing runs until the user presses Run."""
        self._generation += 1  # stops a stream task still following an earlier comparison
        self.comparison_id, self.errors = "", {}
        self.panes, problems = prefilled_panes(models, self.models, self.panes, DEFAULT_MODELS)
        if problems:  # one line may join two messages, each shown in the page's language
            self.errors["panes"] = joined_in_every_language(problems)
        self.prompt = prompt[:MAX_PROMPT_CHARS]

    @event
    async def use_models(self, models: str) -> None:
        """A new, unrun pane set of these models ("Similar comparisons"); the prompt stays."""
        if not self.running:
            await self._prefill(models, self.prompt)

    async def _project_name(self, user: Principal, project_id: str) -> str:
        mine = await runtime.current().projects.list_for(user)
        return next((p.name for p in mine if p.id == project_id), "")  # "" : the page says "another project"

    async def _load_projects(self, user: Principal) -> None:
        runnable = await runtime.current().projects.runnable_for(user)
        self.projects = [ProjectChoice(id=p.id, name=p.name) for p in runnable]
        if self.project_id not in {p.id for p in runnable}:
            chosen = default_project(runnable) or (runnable[0] if runnable else None)
            self.project_id = chosen.id if chosen else ""

    # --- editing -----------------------------------------------------------
    @event
    def set_project(self, project_id: str) -> None:
        if project_id in {p.id for p in self.projects}:
            self.project_id = project_id

    @event
    def set_prompt(self, value: str) -> None:
        self.prompt = value
        self.errors.pop("prompt", None)

    @event
    def set_system_prompt(self, value: str) -> None:
        self.system_prompt = value

    @event
    def toggle_system(self) -> Followup:
        """Open or close the system prompt; focus follows (into the field, or back to the link
        that opens it), once the page has drawn the change."""
        self.show_system = not self.show_system
        target = SYSTEM_PROMPT_ID if self.show_system else SYSTEM_PROMPT_OPEN_ID
        return rx.call_script(
            "requestAnimationFrame(() => requestAnimationFrame(() => "
            f"document.getElementById({target!r})?.focus()))"
        )

    @event
    def set_picker(self, value: str) -> None:
        self.picker = value

    @event
    def set_sync_settings(self, value: bool) -> None:
        self.sync_settings = value
        if value and self.panes:
            for pane in self.panes[1:]:
                copy_params(self.panes[0], pane)

    @event
    def set_sync_scroll(self, value: bool) -> None:
        self.sync_scroll = value

    @event
    def set_dense(self, value: bool) -> None:
        self.dense = value

    @event
    def set_use_cache(self, value: bool) -> None:
        self.use_cache = value

    @event
    def set_blind(self, value: bool) -> None:
        self.blind = value

    @event
    @with_user
    async def reveal(self, user: Principal) -> Followup:
        """Show this person the models of the blind comparison on screen (voting does it too)."""
        if not self.comparison_id:
            return None
        rt = runtime.current()
        try:
            await rt.comparisons.reveal(user, self.comparison_id)
        except NotFound as exc:
            self.errors = {"panes": await localized(self, str(exc))}
            return None
        await self._show_revealed(user)
        # The vote panel names the panes too; state.votes imports this module, hence here.
        from state.votes import VoteState

        return VoteState.load

    @event
    @with_user
    async def refresh_models(self, user: Principal) -> Followup:
        """After a vote: a blind comparison is revealed to its voter."""
        return await self._show_revealed(user) if self.masked else None

    async def _show_revealed(self, user: Principal) -> Followup:
        rt = runtime.current()
        try:
            record = rt.comparisons.with_live_output(await rt.comparisons.get(user, self.comparison_id))
        except NotFound:
            return None
        rows = panes_from_record(record)
        show_earlier_attempts(rows, await rt.comparisons.earlier_attempts(user, record.id))
        by_run = {p.run_id: p for p in self.panes}
        for row in rows:
            shown = by_run.get(row.run_id)
            if shown is not None:
                row.pane_id, row.expanded = shown.pane_id, shown.expanded
                if row.status in ACTIVE_STATUSES:
                    row.text = ""  # live text keeps arriving through the stream
        self.panes = rows
        return None

    @event
    def add_pane(self) -> None:
        if len(self.panes) >= MAX_PANES:
            self.errors["panes"] = TOO_MANY_PANES
            return
        if not self.picker:
            self.errors["panes"] = N_("Pick a model to add.")
            return
        template = self.panes[0] if self.sync_settings and self.panes else None
        pane = new_pane(self.picker, self.models)
        if template is not None:
            copy_params(template, pane)
        self.panes.append(pane)
        self.errors.pop("panes", None)

    @event
    def remove_pane(self, pane_id: str) -> None:
        self.panes = [p for p in self.panes if p.pane_id != pane_id]

    def _blind_on_screen(self) -> bool:
        """The panes are a blind comparison's (in its shuffled order), revealed or not."""
        return any(p.blind_label for p in self.panes)

    def _pane(self, pane_id: str) -> PaneRow | None:
        return next((p for p in self.panes if p.pane_id == pane_id), None)

    def _targets(self, pane_id: str) -> list[PaneRow]:
        return list(self.panes) if self.sync_settings else [p for p in self.panes if p.pane_id == pane_id]

    @event
    def set_pane_model(self, pane_id: str, model: str) -> None:
        pane = self._pane(pane_id)
        if pane is not None:
            fresh = new_pane(model, self.models)
            fresh.pane_id = pane.pane_id
            copy_options(pane, fresh)  # shown (and sent) as far as the new model takes them
            copy_params(pane, fresh)  # invalid typing stays on screen, and so blocks Run
            self.panes[self.panes.index(pane)] = fresh

    @event
    def set_pane_param(self, pane_id: str, name: str, value: str) -> None:
        """A pane field left (blurred): its value if valid, else its message (state.pane_params)."""
        self._set_param(pane_id, name, value)

    @event
    def set_pane_temperature(self, pane_id: str, value: str) -> None:
        self._set_param(pane_id, "temperature", value)

    @event
    def set_pane_max_tokens(self, pane_id: str, value: str) -> None:
        self._set_param(pane_id, "max_tokens", value)

    def _set_param(self, pane_id: str, name: str, value: str) -> None:
        for pane in self._targets(pane_id):
            set_param(pane, name, value)

    @event
    def toggle_expand(self, pane_id: str) -> None:
        for pane in self.panes:
            pane.expanded = pane.pane_id == pane_id and not pane.expanded

    @event
    def new_comparison(self) -> Followup:
        self._generation += 1  # stops a stream task still following the old runs
        self.comparison_id = ""
        self.can_run = True
        self.errors = {}
        if self._blind_on_screen():  # revealed or not, "New" brings back the panes as picked
            picked = self._picked or [(m, DEFAULT_TEMPERATURE, DEFAULT_MAX_TOKENS) for m in DEFAULT_MODELS]
            self.panes = [new_pane(m, self.models, t, n) for m, t, n in picked]
        else:
            kept = []
            for pane in self.panes:
                fresh = new_pane(pane.model, self.models)
                copy_params(pane, fresh)
                kept.append(fresh)
            self.panes = kept
        return rx.redirect("/")

    # --- running -----------------------------------------------------------
    @event
    @with_user
    async def run(self, user: Principal) -> Followup:
        if self.running or self.masked:  # a blind comparison on screen: "New" first
            return None
        if invalid_panes(self.panes):  # what a pane runs is what it shows: never a stale value
            self.errors = {"panes": N_("Fix the highlighted pane settings first.")}
            return None
        clear_service_errors(self.panes)
        return await self._start(user, battle=False)

    @event
    @with_user
    async def battle(self, user: Principal) -> Followup:
        """Two models drawn at random on the server (from the project's pool if it sets one), blind."""
        if self.running:
            return None
        return await self._start(user, battle=True)

    async def _start(self, user: Principal, *, battle: bool) -> Followup:
        if not self._blind_on_screen():
            self._picked = [(p.model, p.temperature, p.max_tokens) for p in self.panes]
        payload = {
            "prompt": self.prompt,
            "system_prompt": self.system_prompt if self.show_system else "",
            "panes": [] if battle else [pane_payload(p) for p in self.panes],
            "images": attached_image_ids(await self.get_state(PromptImagesState)),
            "use_cache": self.use_cache,
            "project_id": self.project_id,
            "blind": self.blind or battle,
            "battle": battle,
        }
        rt = runtime.current()
        try:
            # The trace's root when tracing is on: the Run pressed on the page (no HTTP request
            # span here, the event came on the page's socket); the runs' spans join it.
            with tracing.span("compare.run", attributes={"llmdash.battle": battle}):
                record = await rt.comparisons.create(user, payload)
        except InvalidComparison as exc:
            self._show_errors(await localized_all(self, exc.errors))
            return None
        except (AccessDenied, NotFound) as exc:
            self.errors = {"panes": await localized(self, str(exc))}
            return None
        except RateLimitExceeded as exc:
            self.errors = {"limit": await localized(self, exc.message)}
            return None
        self.errors = {}
        self.comparison_id = record.id
        rows = panes_from_record(record)
        if not record.blind:  # blind panes are in the server's shuffled order: nothing carries over
            for pane, row in zip(self.panes, rows, strict=True):
                row.pane_id, row.label, row.expanded = pane.pane_id, pane.label, pane.expanded
        self.panes = rows
        # The address now names the comparison: a reload or a bookmark reopens it.
        return [
            rx.call_script(f"window.history.replaceState(null, '', '/?c={record.id}')"),
            CompareState.stream,
        ]

    def _show_errors(self, errors: dict[str, str]) -> None:
        self.errors = show_field_errors(errors, self.panes)

    @event
    async def stop(self) -> Followup:
        return await self._cancel(None)

    @event
    async def stop_pane(self, pane_id: str) -> Followup:
        pane = self._pane(pane_id)
        if pane is not None and pane.run_id:
            return await self._cancel([pane.run_id])
        return None

    @with_user
    async def _cancel(self, user: Principal, run_ids: list[str] | None) -> None:
        if self.comparison_id:
            try:
                await runtime.current().comparisons.cancel(user, self.comparison_id, run_ids)
            except (AccessDenied, NotFound) as exc:
                self.errors = {"panes": await localized(self, str(exc))}
        return None

    @event
    @with_user
    async def retry_pane(self, user: Principal, pane_id: str) -> Followup:
        pane = self._pane(pane_id)
        if pane is None or not pane.run_id or not self.comparison_id:
            return None
        try:
            run = await runtime.current().comparisons.retry(user, self.comparison_id, pane.run_id)
        except RateLimitExceeded as exc:
            self.errors = {**self.errors, "limit": await localized(self, exc.message)}
            return None
        except (AccessDenied, NotFound) as exc:
            self.errors = {"panes": await localized(self, str(exc))}
            return None
        self.errors.pop("limit", None)
        pane.cached, pane.original = False, ""
        pane.run_key, pane.status, pane.error, pane.text = f"{run.id}:{run.attempt}", "queued", "", ""
        pane.live_key = short_key(pane.run_key)
        pane.ttft = pane.tps = pane.elapsed = pane.cost = ""
        pane.tokens_in = pane.tokens_out = 0
        pane.attempt = run.attempt + 1
        # The attempt before stays to be looked at ("Show attempt 1"), as it was saved.
        kept = await runtime.current().comparisons.earlier_attempts(user, self.comparison_id)
        show_earlier_attempts([pane], kept)
        return CompareState.stream

    @event(background=True)
    @with_user
    async def stream(self, user: Principal) -> AsyncGenerator[Event | EventSpec, None]:
        """Follow this session's runs until all have ended (state.compare_stream)."""
        async for update in follow_runs(self, user):
            yield update
