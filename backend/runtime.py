"""Wires settings, database, broker, hub, event pump and (embedded) worker.

Nothing is created at import time: `Runtime.start()` is called from the app's
lifespan (or a test fixture) and `current()` hands the running instance to
state handlers and API routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from backend.db import repository
from backend.db.engine import Database
from backend.providers import registry
from backend.providers.base import ChatProvider
from backend.queue.base import Broker
from backend.queue.embedded import EmbeddedBroker
from backend.services.comparisons import ComparisonService
from backend.settings import Settings, get_settings
from backend.streaming.hub import RunHub
from backend.streaming.pump import EventPump

log = logging.getLogger(__name__)

LOCAL_USER_EMAIL = "local@localhost"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    broker: Broker
    hub: RunHub
    pump: EventPump
    comparisons: ComparisonService
    local_user_id: str = ""
    _tasks: tuple[asyncio.Task[None], ...] = ()

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        db = Database(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        broker: Broker = EmbeddedBroker()
        hub = RunHub()
        return cls(
            settings=settings,
            db=db,
            broker=broker,
            hub=hub,
            pump=EventPump(broker, hub, db),
            comparisons=ComparisonService(db, broker, hub, settings),
        )

    def resolve_provider(self, model_id: str) -> ChatProvider:
        return registry.get_provider(model_id, self.settings)

    async def start(self) -> None:
        from workers.runner import Worker  # embedded mode runs the worker in-process

        await self.db.upgrade()
        async with self.db.session() as session:
            user = await repository.ensure_user(session, LOCAL_USER_EMAIL, "You")
            # Runs of a process that died cannot finish: say so instead of spinning forever.
            lost = await repository.fail_unfinished_runs(session, "Interrupted: the server restarted.")
        if lost:
            log.warning("%d unfinished runs from a previous process marked as interrupted", lost)
        self.local_user_id = user.id
        await self.broker.start()
        worker = Worker(
            self.broker,
            self.resolve_provider,
            concurrency=self.settings.embedded_workers,
            idle_timeout_s=self.settings.provider_timeout_seconds,
        )
        self._tasks = (
            asyncio.create_task(self.pump.run(), name="event-pump"),
            asyncio.create_task(worker.run(), name="embedded-worker"),
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pump.drain()
        await self.broker.stop()
        await self.db.dispose()


_current: Runtime | None = None


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("The runtime is not started; it starts with the app's lifespan.")
    return _current


@contextlib.asynccontextmanager
async def running(settings: Settings | None = None) -> AsyncIterator[Runtime]:
    """Start a runtime, make it `current()`, and stop it on exit."""
    global _current
    runtime = Runtime.build(settings or get_settings())
    await runtime.start()
    _current = runtime
    try:
        yield runtime
    finally:
        _current = None
        await runtime.stop()
