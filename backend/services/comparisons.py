"""Create, follow, stop and retry comparisons: the one service layer behind the
page's events and the HTTP API."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from opentelemetry.trace import SpanKind
from sqlalchemy.engine import Connection

from backend import tracing
from backend.auth.permissions import AccessDenied, Action, Principal
from backend.catalog import estimate_tokens, image_tokens, load_catalog
from backend.db.attempts import AttemptRecord, earlier_attempts
from backend.db.comparisons import (
    TooManyActive,
    count_active_comparisons,
    create_comparison,
    delete_comparison,
    list_comparisons,
    load_comparison,
)
from backend.db.engine import Database
from backend.db.judgements import judged_children
from backend.db.projects import battle_pool, comparison_project_and_role
from backend.db.records import ComparisonRecord, HistoryPage, NewRun, RunRecord
from backend.db.runs import reset_run_for_retry
from backend.db.users import default_project_id
from backend.files.images import InvalidImage, images_of, images_setting, resolve_images
from backend.files.store import file_store
from backend.i18n import N_, Message
from backend.limits import InProcessRateLimiter, RateLimiter, RateLimitExceeded, limits_from
from backend.providers import registry
from backend.providers.credentials import key_provider
from backend.queue.base import RunQueue
from backend.queue.messages import CancelRequest, RunTask
from backend.runs_model import RunParams
from backend.services.access import Access, NotFound, comparison_allows
from backend.services.blind import BLIND_SETTING, BlindView, draw_battle, shuffled
from backend.services.budgets import BudgetGuard
from backend.services.credentials import CredentialService
from backend.services.validation import (
    ComparisonInput,
    InvalidComparison,
    PaneInput,
    check_semantics,
    parse_comparison,
)
from backend.settings import Settings
from backend.streaming.follow import AccessCheck, FollowBatch, Pacing, RunsSource, follow_runs
from backend.streaming.hub import RunHub

AVAILABILITY_TTL_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _CachedAvailability:
    value: registry.Availability
    at: float


RUNNING_RETRY_AFTER_S = 5.0
RUNNING_LIMIT = N_("{limit} of your comparisons are still running. Wait for one to finish, then try again.")


class ComparisonService:
    def __init__(
        self,
        db: Database,
        broker: RunQueue,
        hub: RunHub,
        settings: Settings,
        limiter: RateLimiter | None = None,
        credentials: CredentialService | None = None,
        budget: BudgetGuard | None = None,
    ) -> None:
        self._db = db
        self._broker = broker
        self._hub = hub
        self._settings = settings
        self._limiter = limiter or InProcessRateLimiter(limits_from(settings))
        self._access = Access(db)
        self._budget = budget or BudgetGuard(db)  # the runtime passes its one guard
        self._credentials = credentials  # stored keys make their models available to their users
        self._availability: dict[str, _CachedAvailability] = {}
        self._default_projects: dict[str, str] = {}
        self.blind = BlindView(db)  # every record a person reads passes through it
        self.files = file_store(settings)  # the prompts' images (local folder, or Cloud Storage)
        # Told after a comparison is deleted, with its project (the search indexer removes its vectors).
        self.on_delete: Callable[[str, str], Awaitable[None]] | None = None

    # --- models ------------------------------------------------------------
    async def models(self, principal: Principal | None = None) -> list[registry.ModelEntry]:
        """The model picker; with a principal, counting the keys and endpoints they stored."""
        entries = await registry.list_models(self._settings)
        if principal is None or self._credentials is None:
            return entries
        return await self._credentials.with_stored_keys(principal, entries)

    async def _family_availability(self, family: str) -> registry.Availability:
        cached = self._availability.get(family)
        now = time.monotonic()
        if cached is None or now - cached.at > AVAILABILITY_TTL_S:
            value = await registry.check_availability(family, self._settings)
            cached = _CachedAvailability(value, now)
            self._availability[family] = cached
        return cached.value

    # --- create ------------------------------------------------------------
    async def validate(self, payload: object, principal: Principal | None = None) -> ComparisonInput:
        data = parse_comparison(payload)
        catalog = load_catalog()
        unavailable: dict[str, str] = {}
        stored_keys: set[str] | None = None  # read only when a family is unavailable (not on the hot path)
        for pane in data.panes:
            try:
                family, _ = registry.parse_model_id(pane.model)
            except ValueError as exc:
                unavailable[pane.model] = str(exc)
                continue
            availability = await self._family_availability(family)
            if not availability.available:
                if stored_keys is None:
                    stored_keys = await self._stored_keys(principal)
                if key_provider(pane.model) not in stored_keys:  # no key of their own or the deployment's
                    unavailable[pane.model] = registry.unavailable_reason(family, availability.reason)
            elif family == "simulated" and catalog.get(pane.model) is None:
                # Only catalog entries exist in this family; anything else would fail in the worker.
                known = ", ".join(m.id for m in catalog.by_family("simulated"))
                unavailable[pane.model] = Message(
                    "unknown simulated model {id!r} (known: {known})", id=pane.model, known=known
                )
        models = {pane.model: catalog.get(pane.model) for pane in data.panes}
        check_semantics(data, models, unavailable)
        if data.images:  # each must be one of this user's uploads
            try:
                await resolve_images(self.files, principal.user_id if principal else "", data.images)
            except InvalidImage as exc:
                raise InvalidComparison({"images": exc.message}) from None
        return data

    async def _stored_keys(self, principal: Principal | None) -> set[str]:
        if principal is None or self._credentials is None:
            return set()
        return await self._credentials.usable_providers(principal)

    async def create(self, principal: Principal, payload: object) -> ComparisonRecord:
        """Validate, check the user may run in the project and is within rate limits, save the
        comparison and its runs, then queue one task per run.  Raises InvalidComparison,
        NotFound, AccessDenied or RateLimitExceeded with nothing kept and nothing queued."""
        # Under the API request's span, or the page's Run (state/compare.py): the trace of the
        # comparison's runs, which each worker and each save continue.
        with tracing.span("comparison.create") as trace:
            user_id = principal.user_id
            data = parse_comparison(payload)
            if data.project_id:
                await self._access.require_project(principal, Action.RUN, data.project_id)
                project_id = data.project_id
            else:
                project_id = await self._default_project(user_id)
            if data.battle:
                async with self._db.session() as session:
                    pool = await battle_pool(session, project_id)
                entries = await self.models(principal)
                if data.images:  # a drawn model must read them (a refusal would name a hidden model)
                    entries = [e for e in entries if load_catalog().resolve(e.id).vision]
                drawn = draw_battle(entries, pool)
                data = data.model_copy(update={"panes": [PaneInput(model=m) for m in drawn], "blind": True})
            data = await self.validate(data, principal)
            if data.blind:  # saved in a random order: a pane's label says nothing of what was picked
                data = data.model_copy(update={"panes": shuffled(data.panes)})
            await self._budget.check(principal, data)  # before reserve: a refusal consumes no rate limit
            # The running comparisons are counted where the new one is saved (one database hop,
            # not two): a refusal there writes nothing and reserves no rate limit; one by the rate
            # limit takes the saved comparison back before it is answered.
            record = await self._save(user_id, project_id, data, check_running=True)
            try:
                await self._reserve(user_id, [data])
            except BaseException:
                async with self._db.session() as session:
                    await delete_comparison(session, record.id)
                raise
            trace.set_attribute("llmdash.comparison_id", record.id)
            for run in record.runs:
                await self._enqueue(record, run)
            return await self.blind.record(principal, record)

    async def create_linked(
        self,
        principal: Principal,
        project_id: str,
        payloads: Sequence[object],
        link: Callable[[list[ComparisonRecord]], Awaitable[None]],
        what: str,
    ) -> list[ComparisonRecord]:
        """Several comparisons in one project, checked, budgeted and rate-limited as one request
        (all or nothing); ``link`` runs once they are saved and before any of their runs is queued
        (an LLM judge's runs, linked to the comparison they judge). The caller checks access."""
        datas = [await self.validate(payload, principal) for payload in payloads]
        await self._budget.check_many(principal, datas, what)
        await self._check_running(principal.user_id)
        await self._reserve(principal.user_id, datas)
        records = [await self._save(principal.user_id, project_id, data) for data in datas]
        await link(records)
        for record in records:
            for run in record.runs:
                await self._enqueue(record, run)
        return records

    async def admit(self, principal: Principal, payload: object) -> ComparisonInput:
        """Validate a call that is not saved as a run (an improvement chain's) and count it
        against the user's budget and rate limits, as a comparison of that payload would be."""
        data = await self.validate(payload, principal)
        await self._budget.check(principal, data)
        await self._reserve(principal.user_id, [data])
        return data

    async def admit_many(
        self, principal: Principal, datas: Sequence[ComparisonInput], what: str, payer_id: str
    ) -> None:
        """Budget (``payer_id``'s: whose keys the runs use) and the principal's rate limits for
        several validated calls taken together (a follow-up turn)."""
        await self._budget.check_many(principal, datas, what, payer_id)
        await self._reserve(principal.user_id, datas)

    async def enqueue(self, record: ComparisonRecord, runs: Sequence[RunRecord]) -> None:
        """Queue saved runs of ``record`` (which must hold them, and their turns' messages)."""
        for run in runs:
            await self._enqueue(record, run)

    async def _check_running(self, user_id: str) -> None:
        """Refuse a new comparison while the user has MAX_RUNNING_COMPARISONS_PER_USER with runs
        still queued or streaming: one person never waits on that many; a loop does."""
        limit = self._settings.max_running_comparisons_per_user
        running = await self._db.read(lambda connection: count_active_comparisons(connection, user_id, limit))
        if running >= limit:
            raise _running_limit(limit)

    async def _reserve(self, user_id: str, datas: Sequence[ComparisonInput]) -> None:
        requests = sum(len(data.panes) for data in datas)
        tokens = sum(
            _prompt_tokens(data.system_prompt, data.prompt)
            + len(data.images) * image_tokens(pane.model)
            + pane.max_tokens
            for data in datas
            for pane in data.panes
        )
        await self._limiter.reserve(user_id, requests=requests, tokens=tokens)

    async def _save(
        self, user_id: str, project_id: str, data: ComparisonInput, *, check_running: bool = False
    ) -> ComparisonRecord:
        """Save the comparison; with `check_running`, refuse it (nothing saved) past the user's
        MAX_RUNNING_COMPARISONS_PER_USER, counted in the same transaction."""
        limit = self._settings.max_running_comparisons_per_user if check_running else 0
        try:
            return await self._insert(user_id, project_id, data, limit)
        except TooManyActive as refused:
            raise _running_limit(refused.limit) from None

    async def _insert(
        self, user_id: str, project_id: str, data: ComparisonInput, limit: int
    ) -> ComparisonRecord:
        return await create_comparison(
            self._db,
            active_limit=limit,
            user_id=user_id,
            project_id=project_id,
            prompt=data.prompt,
            system_prompt=data.system_prompt,
            settings=_settings_of(data) | images_setting(user_id, data.images),
            runs=[
                NewRun(
                    model=pane.model,
                    provider=pane.model.split(":", 1)[0],
                    params=RunParams(
                        temperature=pane.temperature,
                        max_tokens=pane.max_tokens,
                        seed=pane.seed,
                        options=pane.options(),
                    ),
                )
                for pane in data.panes
            ],
        )

    async def _default_project(self, user_id: str) -> str:
        """A user's default project never changes: look it up once per process."""
        if user_id not in self._default_projects:
            async with self._db.session() as session:
                self._default_projects[user_id] = await default_project_id(session, user_id)
        return self._default_projects[user_id]

    async def _enqueue(self, record: ComparisonRecord, run: RunRecord) -> None:
        self._hub.track(run.id, run.attempt)
        attributes = {
            "llmdash.run_id": run.id,
            "llmdash.attempt": run.attempt,
            "gen_ai.request.model": run.model,
        }
        with tracing.span("run.enqueue", kind=SpanKind.PRODUCER, attributes=attributes):
            await self._submit(record, run)

    async def _submit(self, record: ComparisonRecord, run: RunRecord) -> None:
        await self._broker.submit(  # the queue sends the current span's context along
            RunTask(
                run_id=run.id,
                comparison_id=record.id,
                attempt=run.attempt,
                model=run.model,
                prompt=record.message_of(run.turn),  # a follow-up's own message, after its history
                system_prompt=record.system_prompt,
                history=tuple(record.history_of(run)),
                temperature=run.params.temperature,
                max_tokens=run.params.max_tokens,
                seed=run.params.seed,
                options=run.params.options,
                images=images_of(record.settings),
                use_cache=bool(record.settings.get("use_cache", False)),
                user_id=record.user_id,  # the worker looks up this user's provider keys
            )
        )

    # --- read --------------------------------------------------------------
    async def get(self, principal: Principal, comparison_id: str) -> ComparisonRecord:
        """The comparison as the principal may see it (masked while blind and unrevealed).

        The access check and the read in one transaction (one thread hop on SQLite, not two):
        every page stream starts here, fifty at once when fifty pages press Run together."""

        def read(connection: Connection) -> tuple[tuple[str, str | None] | None, ComparisonRecord | None]:
            found = comparison_project_and_role(connection, comparison_id, principal.user_id)
            readable = found is not None and found[1] is not None
            return found, load_comparison(connection, comparison_id) if readable else None

        found, record = await self._db.read(read)
        comparison_allows(found, Action.READ, comparison_id)
        if record is None:  # deleted between its two statements (PostgreSQL, read committed)
            raise NotFound(Message("No comparison {id}.", id=comparison_id))
        return await self.blind.record(principal, record)

    async def get_unchecked(self, comparison_id: str) -> ComparisonRecord:
        """Only for callers that authorized otherwise (a share link, the event pump)."""
        record = await self._db.read(lambda connection: load_comparison(connection, comparison_id))
        if record is None:
            raise NotFound(Message("No comparison {id}.", id=comparison_id))
        return record

    def with_live_output(self, record: ComparisonRecord) -> ComparisonRecord:
        """Overlay what is streaming right now onto runs the database has not finished."""
        return replace(record, runs=tuple(self.live_run(run) for run in record.runs))

    def live_run(self, run: RunRecord) -> RunRecord:
        """The run with what it has streamed so far, if the database has not finished it."""
        live = self._hub.get(run.id)
        if live is not None and live.attempt == run.attempt and run.status not in ("done", "error"):
            run = replace(
                run,
                status=live.status if live.status != "queued" else run.status,
                output_text=live.text,
                output_tokens=live.output_tokens,
                ttft_ms=live.ttft_ms,
                total_ms=live.elapsed_ms or None,
            )
        return run

    def follow(
        self,
        comparison_id: str,
        following: dict[str, str],
        *,
        pacing: Pacing,
        client_key: Callable[[str], str] = str,
        reread: RunsSource | None = None,
        reader: Principal | None = None,
        signed_in: AccessCheck | None = None,
    ) -> AsyncGenerator[FollowBatch, None]:
        """Follow runs of a comparison the caller may read (backend/streaming/follow.py).

        With a `reader`, their access is checked again every few seconds while it streams
        (and `signed_in`, their session or token); losing either raises AccessLost."""
        allowed: AccessCheck | None = None
        if reader is not None:

            async def still_allowed() -> bool:
                try:
                    if signed_in is not None and not await signed_in():
                        return False
                    await self._access.require_comparison(reader, Action.READ, comparison_id)
                except (AccessDenied, NotFound):
                    return False
                except Exception as exc:  # the database did not answer: ask again at the next check
                    # A stream that passed its checks is not cut off by a database hiccup (a
                    # restart, a pool timeout under load); a lost right shows at the next check.
                    log.warning("could not re-check access to comparison %s: %r", comparison_id, exc)
                return True

            allowed = still_allowed
        return follow_runs(
            self._hub,
            self,
            comparison_id,
            following,
            pacing=pacing,
            client_key=client_key,
            reread=reread,
            allowed=allowed,
        )

    async def history(
        self, principal: Principal, page: int = 1, page_size: int = 20, project_id: str | None = None
    ) -> HistoryPage:
        """Comparisons in every project the user is a member of (or in one of them)."""
        if project_id:
            await self._access.require_project(principal, Action.READ, project_id)
        async with self._db.session() as session:
            found = await list_comparisons(
                session,
                member_id=principal.user_id,
                project_id=project_id or None,
                page=max(page, 1),
                page_size=page_size,
            )
        return await self.blind.page(principal, found)

    async def reveal(self, principal: Principal, comparison_id: str) -> ComparisonRecord:
        """Show the principal the models of a blind comparison; answers the unmasked record."""
        await self.blind.reveal(principal, comparison_id)
        return await self.get(principal, comparison_id)

    async def role_for(self, principal: Principal, comparison_id: str) -> str | None:
        """The user's role in the comparison's project, or None if they have none."""
        try:
            project_id = await self._access.require_comparison(principal, Action.READ, comparison_id)
        except NotFound:
            return None
        return await self._access.role(principal, project_id)

    async def earlier_attempts(
        self, principal: Principal, comparison_id: str
    ) -> dict[str, list[AttemptRecord]]:
        """run id -> the attempts a Retry replaced, oldest first (for "Show attempt 1")."""
        await self._access.require_comparison(principal, Action.READ, comparison_id)
        async with self._db.session() as session:
            return await earlier_attempts(session, comparison_id)

    # --- control -----------------------------------------------------------
    async def cancel(
        self, principal: Principal, comparison_id: str, run_ids: Sequence[str] | None = None
    ) -> list[str]:
        await self._access.require_comparison(principal, Action.RUN, comparison_id)
        record = await self.get_unchecked(comparison_id)
        targets = [r for r in record.runs if run_ids is None or r.id in run_ids]
        for run in targets:
            await self._broker.request_cancel(CancelRequest(run_id=run.id, attempt=run.attempt))
        return [r.id for r in targets]

    async def retry(self, principal: Principal, comparison_id: str, run_id: str) -> RunRecord:
        await self._access.require_comparison(principal, Action.RUN, comparison_id)
        record = await self.get_unchecked(comparison_id)
        if run_id not in {r.id for r in record.runs}:
            raise NotFound(Message("No run {run} in comparison {id}.", run=run_id, id=comparison_id))
        old = next(r for r in record.runs if r.id == run_id)
        await self._budget.check_retry(principal, record, old)
        # A retry calls the provider again: one more request and its tokens.
        await self._limiter.reserve(
            principal.user_id,
            requests=1,
            tokens=_prompt_tokens(record.system_prompt, record.prompt)
            + len(images_of(record.settings)) * image_tokens(old.model)
            + old.params.max_tokens,
        )
        await self._broker.request_cancel(CancelRequest(run_id=old.id, attempt=old.attempt))
        async with self._db.session() as session:
            run = await reset_run_for_retry(session, run_id)
        await self._enqueue(record, run)
        return (await self.blind.record(principal, replace(record, runs=(run,)))).runs[0]

    async def delete(self, principal: Principal, comparison_id: str) -> None:
        """Stops its runs and its judges' runs, then deletes the comparison with its runs, share
        links, votes and judgements."""
        project_id = await self._access.require_comparison(principal, Action.EDIT, comparison_id)
        await self.cancel(principal, comparison_id)
        async with self._db.session() as session:
            judges = await judged_children(session, comparison_id)
        for judge_comparison_id in judges:
            for run in (await self.get_unchecked(judge_comparison_id)).runs:
                await self._broker.request_cancel(CancelRequest(run_id=run.id, attempt=run.attempt))
        async with self._db.session() as session:
            await delete_comparison(session, comparison_id)
        if self.on_delete is not None:
            try:
                await self.on_delete(comparison_id, project_id)
            except Exception:  # deleted; a stale vector is dropped by search's database re-check
                log.exception("could not request removal of %s from the search index", comparison_id)


def _running_limit(limit: int) -> RateLimitExceeded:
    return RateLimitExceeded(
        Message(RUNNING_LIMIT, limit=limit), RUNNING_RETRY_AFTER_S, "running_comparisons"
    )


def _settings_of(data: ComparisonInput) -> dict[str, object]:
    settings: dict[str, object] = {}
    if data.use_cache:
        settings["use_cache"] = True
    if data.blind:
        settings[BLIND_SETTING] = True
    return settings


def _prompt_tokens(system_prompt: str, prompt: str) -> int:
    """The estimate validation uses for the context window, reused for the token budget."""
    return estimate_tokens(system_prompt + "\n" + prompt)


__all__ = ["AccessDenied", "ComparisonService", "InvalidComparison", "NotFound", "RateLimitExceeded"]
