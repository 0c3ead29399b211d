"""The event pump: broker events -> hub (live view) and database (final record).

Chunks only touch memory.  Saving the final record happens in its own task so
a slow database never holds up the chunks of other runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from backend.catalog import estimate_cost_usd, load_catalog
from backend.db import repository
from backend.db.engine import Database
from backend.providers.base import Usage
from backend.queue.base import Broker
from backend.queue.messages import FinalEvent, StartedEvent
from backend.streaming.hub import RunHub

log = logging.getLogger(__name__)


class EventPump:
    def __init__(self, broker: Broker, hub: RunHub, db: Database) -> None:
        self._broker = broker
        self._hub = hub
        self._db = db
        self._saves: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        async for event in self._broker.events():
            live = await self._hub.apply(event)
            if live is None:
                continue
            if isinstance(event, StartedEvent):
                self._spawn(self._mark_running(event))
            elif isinstance(event, FinalEvent):
                self._spawn(self._save(event))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._saves.add(task)
        task.add_done_callback(self._saves.discard)

    async def drain(self) -> None:
        """Wait for the saves in flight (used on shutdown and by tests)."""
        while self._saves:
            await asyncio.gather(*list(self._saves), return_exceptions=True)

    async def _mark_running(self, event: StartedEvent) -> None:
        async with self._db.session() as session:
            await repository.mark_run_running(session, event.run_id, event.attempt)

    async def _save(self, event: FinalEvent) -> None:
        try:
            async with self._db.session() as session:
                runs = await repository.get_runs(session, [event.run_id])
                model = load_catalog().get(runs[0].model) if runs else None
                usage = Usage(input_tokens=event.input_tokens, output_tokens=event.output_tokens)
                await repository.save_run_result(
                    session,
                    run_id=event.run_id,
                    attempt=event.attempt,
                    status=event.status,
                    output_text=event.output_text,
                    error=event.error,
                    error_kind=event.error_kind,
                    ttft_ms=event.ttft_ms,
                    total_ms=event.total_ms,
                    input_tokens=event.input_tokens,
                    output_tokens=event.output_tokens,
                    # A cache replay called no provider: it cost nothing.
                    cost_usd=0.0 if event.cache_hit else estimate_cost_usd(model, usage),
                    cache_hit=event.cache_hit,
                    original_ttft_ms=event.original_ttft_ms,
                    original_total_ms=event.original_total_ms,
                )
        except Exception:
            log.exception("could not save the result of run %s", event.run_id)
            return
        live = self._hub.get(event.run_id)
        if live is not None and live.attempt == event.attempt:
            live.saved = True
