"""Wires settings, database, broker, hub, event pump and (embedded) worker.

With KAFKA_BOOTSTRAP_SERVERS the queue is Kafka and workers are separate
processes (`python -m workers`); otherwise the embedded queue and an
in-process worker (see `backend.queue.factory`).

Nothing is created at import time: `Runtime.start()` is called from the app's
lifespan (or a test fixture) and `current()` hands the running instance to
state handlers and API routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy import text

from backend import log_redaction
from backend.auth.accounts import AccountService
from backend.auth.crypto import secret_box
from backend.auth.permissions import Principal
from backend.auth.session_cookie import CookieGrants
from backend.auth.throttle import SignInThrottle
from backend.cache import ResponseCache, make_response_cache
from backend.cancellation import raise_if_cancelled, stop_tasks
from backend.db.engine import Database
from backend.db.runs import fail_unfinished_runs
from backend.execution.leases import RunLeases, new_worker_id
from backend.execution.token_trace import token_trace_from_env
from backend.execution.worker import STOP_GRACE_S, Worker
from backend.health_watch import HealthWatch
from backend.heap import freeze_startup_heap
from backend.judging.service import JudgeService
from backend.limits import RateLimiter, make_rate_limiter
from backend.limits.streams import RedisStreamSlots, StreamSlots, make_stream_slots
from backend.prompting.service import PromptService
from backend.providers import registry
from backend.providers.base import ChatProvider
from backend.providers.credentials import ProviderCredentials
from backend.queue.base import RemoteWorkers, RunQueue, WorkSource
from backend.queue.factory import web_run_queue
from backend.queue.messages import FinalEvent
from backend.redis_client import redis_client
from backend.run_errors import INTERRUPTED_BY_RESTART
from backend.safety import check_production
from backend.search.service import SearchService, build_search
from backend.services.batch_dispatch import BatchDispatcher
from backend.services.batches import BatchService
from backend.services.budgets import BudgetGuard
from backend.services.comparisons import ComparisonService
from backend.services.credential_lookup import CredentialLookup
from backend.services.credentials import CredentialService
from backend.services.export import ExportService
from backend.services.leaderboard import LeaderboardService
from backend.services.projects import ProjectService
from backend.services.turns import TurnService
from backend.services.usage import UsageService
from backend.services.votes import VoteService
from backend.settings import Settings, get_settings
from backend.streaming.follow import FlushShare
from backend.streaming.hub import RunHub
from backend.streaming.pump import EventPump
from backend.tracing_setup import setup_tracing

if TYPE_CHECKING:
    from backend.auth.firebase import FirebaseAuthenticator

log = logging.getLogger(__name__)

WORKER_FRESH_SECONDS = 15.0  # a worker process whose last heartbeat is older counts as gone


@dataclass
class Runtime:
    settings: Settings
    db: Database
    broker: RunQueue
    hub: RunHub
    pump: EventPump
    comparisons: ComparisonService
    accounts: AccountService
    projects: ProjectService
    credentials: CredentialService  # stored provider keys (Settings page)
    credential_lookup: CredentialLookup  # which stored key a run uses (the embedded worker's hook)
    budgets: BudgetGuard
    judges: JudgeService  # LLM-as-judge over finished comparisons
    prompts: PromptService  # improved prompts and prompt versions
    votes: VoteService
    leaderboard: LeaderboardService  # its cache of fitted boards lives as long as the runtime
    cache: ResponseCache  # response cache and rate limits: in-process, or Redis with REDIS_URL
    limiter: RateLimiter
    page_flushes: FlushShare  # the state updates a second this process sends to streaming pages
    sse_flushes: FlushShare  # the writes a second this process sends to the API's event streams
    search: SearchService  # hybrid keyword + vector search (its indexer runs as a task of start())
    usage: UsageService  # spend, tokens and latency aggregates; the budget burn-down
    exports: ExportService  # runs as CSV / JSON Lines, streamed
    batches: BatchService  # prompt templates, datasets and batch runs (issue 19)
    batch_dispatcher: BatchDispatcher  # sends batches' rows, paced by the rate limits
    turns: TurnService  # follow-up messages after a comparison's panes finish
    stream_slots: StreamSlots | RedisStreamSlots  # SSE streams per account (Redis: all replicas)
    cookie_grants: CookieGrants  # one-time grants a page trades for its HttpOnly session cookie
    # With REDIS_URL: the process's one Redis client (one connection pool), shared by the cache,
    # the limits, the sign-in throttle, the stream slots and the health checks; closed by stop().
    redis: Redis | None = None
    _tasks: tuple[asyncio.Task[None], ...] = ()
    _firebase: FirebaseAuthenticator | None = field(default=None, repr=False)
    # GET /health answers from here: checked by a task of start(), not inside the probe
    health_watch: HealthWatch = field(init=False, repr=False)

    def __post_init__(self) -> None:
        has_remote = self.redis is not None or isinstance(self.broker, RemoteWorkers)
        remote = self.remote_health if has_remote else None
        self.health_watch = HealthWatch(
            self.local_health, remote=remote, remote_interval_s=self.settings.health_remote_check_seconds
        )

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], float] = time.time) -> Runtime:
        """`clock` (epoch seconds) is the rate limits' clock."""
        box = secret_box(settings)  # first: production without ENCRYPTION_KEY stops here
        db = Database(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        broker = web_run_queue(settings)
        hub = RunHub()
        redis = redis_client(settings.redis_url) if settings.redis_url else None
        cache = make_response_cache(settings, redis)
        limiter = make_rate_limiter(settings, clock, redis)
        throttle = SignInThrottle(
            settings.sign_in_max_failures,
            settings.sign_in_lockout_seconds,
            redis=redis,
            prefix=settings.redis_key_prefix,
        )
        lookup = CredentialLookup(db, box)
        credentials = CredentialService(db, settings, box, lookup)
        budgets = BudgetGuard(db)
        comparisons = ComparisonService(
            db, broker, hub, settings, limiter, credentials=credentials, budget=budgets
        )
        judges = JudgeService(db, comparisons)
        pump = EventPump(broker, hub, db)
        votes = VoteService(db)
        search = build_search(db, settings, comparisons.blind)
        pump.after_save = judges.run_finished
        if search.indexer is not None:
            indexer = search.indexer
            pump.after_save = _both(judges.run_finished, indexer.run_finished)
            votes.on_change = indexer.comparison_changed
            comparisons.on_delete = indexer.comparison_deleted
        usage = UsageService(db)
        batches = BatchService(db, broker, comparisons, budgets, settings)
        dispatcher = BatchDispatcher(db, broker, limiter, budgets)
        batches.on_created = dispatcher.wake
        return cls(
            settings=settings,
            db=db,
            broker=broker,
            hub=hub,
            pump=pump,
            comparisons=comparisons,
            judges=judges,
            prompts=PromptService(db, comparisons, settings),
            votes=votes,
            search=search,
            leaderboard=LeaderboardService(db),
            accounts=AccountService(db, settings, throttle),
            projects=ProjectService(db),
            credentials=credentials,
            credential_lookup=lookup,
            budgets=budgets,
            cache=cache,
            limiter=limiter,
            page_flushes=FlushShare(settings.stream_flush_budget),
            sse_flushes=FlushShare(settings.sse_flush_budget),
            usage=usage,
            exports=ExportService(db, usage),
            batches=batches,
            batch_dispatcher=dispatcher,
            turns=TurnService(db, comparisons),
            stream_slots=make_stream_slots(settings, redis),
            cookie_grants=CookieGrants(box, cache),  # used grants claimed in the shared cache
            redis=redis,
        )

    async def authenticate(self, token: str) -> Principal | None:
        """The user a browser's token belongs to (a session token, or a Firebase ID token with
        AUTH_PROVIDER=firebase), checked now; None when it is missing, expired or revoked."""
        return await _TOKEN_CHECKS[self.settings.auth_provider](self, token)

    def firebase_auth(self) -> FirebaseAuthenticator:
        """The Firebase token checker, built on first use: builtin mode never imports firebase_admin."""
        if self._firebase is None:
            from backend.auth.firebase import FirebaseAuthenticator

            self._firebase = FirebaseAuthenticator(self.db, self.settings)
        return self._firebase

    def resolve_provider(self, model_id: str, credentials: ProviderCredentials | None = None) -> ChatProvider:
        return registry.get_provider(model_id, self.settings, credentials)

    async def start(self) -> None:
        if self.settings.migrate_on_start:
            await self.db.upgrade()
        # else: a deployment migrates before traffic moves (`python -m backend.admin migrate`)
        await check_production(self.settings, self.db)
        lost = 0
        if not isinstance(self.broker, RemoteWorkers) and not self.settings.redis_url:
            # Runs of a process that died cannot finish: say so instead of spinning forever.
            # (On Kafka they are not lost: the requests stay queued and worker processes finish them.
            # With Redis, Reflex runs several backend processes: another one's runs are alive.)
            async with self.db.session() as session:
                lost = await fail_unfinished_runs(session, INTERRUPTED_BY_RESTART)
        if lost:
            log.warning("%d unfinished runs from a previous process marked as interrupted", lost)
        await self.broker.start()
        pump = asyncio.create_task(_supervised(self.pump.run, "event pump"), name="event-pump")
        dispatch = asyncio.create_task(
            _supervised(self.batch_dispatcher.run, "batch dispatcher"), name="batches"
        )
        checks = asyncio.create_task(_supervised(self.health_watch.run, "health checks"), name="health")
        background: tuple[asyncio.Task[None], ...] = (pump, dispatch, checks)
        if self.search.indexer is not None:  # off the request path; claims let replicas share it
            indexer = self.search.indexer
            background += (asyncio.create_task(_supervised(indexer.run, "search indexer"), name="indexer"),)
        if isinstance(self.broker, RemoteWorkers):
            self._tasks = background  # workers are separate processes
            return
        # Otherwise the worker runs in-process, on the same queue's worker side.
        if not isinstance(self.broker, WorkSource):
            raise TypeError(f"{type(self.broker).__name__} has no remote workers and serves no local one")
        worker = Worker(
            self.broker,
            self.resolve_provider,
            concurrency=self.settings.embedded_workers,
            idle_timeout_s=self.settings.provider_timeout_seconds,
            cache=self.cache,
            cache_ttl_s=self.settings.cache_ttl_seconds,
            credentials=self.credential_lookup.for_task,
            # The same claims as worker processes (with Redis several backend processes share
            # the database), but the embedded queue hands each task to this worker once, so
            # a claim need not be answered before the provider call (execution/leases.py).
            leases=RunLeases(
                self.db, new_worker_id("embedded"), self.settings.run_lease_seconds, exclusive=True
            ),
            observer=token_trace_from_env(),  # the benchmark's token trace, when LLMDASH_TRACE_TOKENS asks
            files=self.comparisons.files,  # the prompts' images
        )
        self._tasks = (*background, asyncio.create_task(worker.run(), name="embedded-worker"))

    async def health(self) -> dict[str, Any]:
        """Each dependency's state, checked now; `ok` is False if a required one is down."""
        local = await self.local_health()
        remote = await self.remote_health()
        return {**local, **remote, "ok": local["ok"] and remote["ok"]}

    async def local_health(self) -> dict[str, Any]:
        """The parts in and next to this process: the database and the workers heard from."""
        report: dict[str, Any] = {}
        try:
            # One thread hop (Database.read), as the run path reads: through an aiosqlite session
            # SELECT 1 took 15 turns of the event loop, each a wait behind every busy task, so the
            # probe was the first to slow down under load (issue 15).
            async with asyncio.timeout(3.0):
                await self.db.read(lambda connection: connection.execute(text("SELECT 1")).scalar())
            report["database"] = "ok"
        except Exception as exc:
            report["database"] = f"error: {type(exc).__name__}"
        if isinstance(self.broker, RemoteWorkers):
            workers = self.broker.live_workers(WORKER_FRESH_SECONDS)  # heartbeats already received
            report["workers"] = workers
            healthy = bool(workers)
        else:
            report["queue"] = "embedded"
            report["workers"] = "in-process"
            healthy = True
        report["ok"] = healthy and report["database"] == "ok"
        return report

    async def remote_health(self) -> dict[str, Any]:
        """The services over the network: the Kafka brokers, Redis (checked less often: see
        backend/health_watch.py); {"ok": True} when there are none."""
        report: dict[str, Any] = {}
        healthy = True
        if isinstance(self.broker, RemoteWorkers):
            reachable = await self.broker.reachable()
            report["queue"] = f"{self.broker.name}: {'ok' if reachable else 'error (unreachable)'}"
            healthy = reachable
        if self.redis is not None:  # cache, limits, throttle and Reflex's session state live there
            report["redis"] = await _redis_state(self.redis)
            healthy = healthy and report["redis"] == "ok"
        report["ok"] = healthy
        return report

    async def stop(self) -> None:
        # Longer than the embedded worker's own wind-up (STOP_GRACE_S for its runs, then as long
        # for their final events) before a task still running is cancelled again.
        await stop_tasks(self._tasks, grace_s=3 * STOP_GRACE_S)
        await self.pump.drain()
        await self.broker.stop()
        await self.cache.close()
        await self.limiter.close()
        await self.stream_slots.close()
        await self.search.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self._firebase is not None:
            self._firebase.close()
        await self.db.dispose()


def _both(
    first: Callable[[FinalEvent], Awaitable[None]], second: Callable[[FinalEvent], Awaitable[None]]
) -> Callable[[FinalEvent], Awaitable[None]]:
    """Two after-save hooks in turn; the second runs even if the first failed."""

    async def hook(event: FinalEvent) -> None:
        try:
            await first(event)
        finally:
            await second(event)

    return hook


# How each AUTH_PROVIDER turns a browser's token into its user.
_TOKEN_CHECKS: dict[str, Callable[[Runtime, str], Awaitable[Principal | None]]] = {
    "builtin": lambda rt, token: rt.accounts.principal_for_session(token),
    "firebase": lambda rt, token: rt.firebase_auth().authenticate(token),
}


async def _redis_state(client: Redis) -> str:
    """PING on the process's client: a connection of its pool, not a new one each check."""
    try:
        async with asyncio.timeout(3.0):
            await client.execute_command("PING")
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


async def _supervised(run: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `run` forever: if it fails (broker gone, say), log and start it again with backoff."""
    delay = 0.5
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            raise_if_cancelled()  # a cancellation some library turned into an error: stop, not restart
            log.exception("%s failed; restarting in %.1f s", what, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


_current: Runtime | None = None


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("The runtime is not started; it starts with the app's lifespan.")
    return _current


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[Runtime]:
    """`running()` for a server process (the app's lifespan): once started, the start-up heap is
    frozen out of the garbage collector's walks (backend/heap.py)."""
    async with running() as runtime:
        freeze_startup_heap()
        yield runtime


@contextlib.asynccontextmanager
async def running(
    settings: Settings | None = None, clock: Callable[[], float] = time.time
) -> AsyncIterator[Runtime]:
    """Start a runtime, make it `current()`, and stop it on exit."""
    global _current
    log_redaction.install()  # before anything logs a tab token (Reflex does: see the module)
    settings = settings or get_settings()
    # Before the runtime is built: its database engines are made traced (OTEL_TRACES_EXPORTER=none,
    # the default: nothing is set up).
    traces = setup_tracing(settings, "web")
    try:
        runtime = Runtime.build(settings, clock)
        await runtime.start()
        _current = runtime
        try:
            yield runtime
        finally:
            _current = None
            await runtime.stop()
    finally:
        if traces is not None:
            traces.shutdown()  # exports the spans still buffered
