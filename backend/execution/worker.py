"""The worker: one provider call per task, streamed back as events.

The worker knows nothing about which broker it is on, or about browsers.  For
each task it publishes `started`, one `chunk` per provider chunk (numbered, so
consumers can drop duplicates) and exactly one `final`, then acknowledges the
delivery (at-least-once on brokers that redeliver).

This module decides whether and when a task runs (slots, stops, redeliveries,
claims, shutdown); how an attempt runs is composed from the other modules here:
the provider call (provider_call.py), wrapped by the response cache when there is
one (cache_replay.py), its events built by a RunRecorder (recorder.py), its chunks
shown to an optional TokenObserver (token_trace.py).

With run leases (leases.py; the app and worker processes always pass them), the
worker claims the run in the database before it calls the provider and renews the
claim until the final event goes out (the final save clears it), so a redelivered
or replayed task never calls the provider a second time: a run already final is
skipped, one that another live worker holds is waited for.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from typing import Any

from opentelemetry.trace import Span, SpanKind, StatusCode

from backend import tracing
from backend.cache.base import ResponseCache
from backend.execution.cache_replay import CachedExecution
from backend.execution.leases import RunLeases
from backend.execution.provider_call import CredentialHook, ProviderCall, ProviderResolver, RetryPolicy
from backend.execution.recorder import Execution, RunRecorder, stopped_final
from backend.execution.token_trace import TokenObserver
from backend.files.store import FileStore
from backend.i18n import Message
from backend.logs import COMPARISON_ID, RUN_ID
from backend.observability import ACTIVE_STREAMS, record_run
from backend.providers.base import Usage
from backend.providers.registry import UnknownModel
from backend.queue.base import Delivery, WorkSource
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask, StartedEvent
from backend.run_errors import INTERNAL, STOPPED

log = logging.getLogger(__name__)

# Final errors that make a request poison (dead-lettered on brokers that have a dead-letter topic):
# no provider serves the model, or the provider kept failing after the bounded retries.
POISON_ERROR_KINDS = frozenset({"unknown_model", "rate_limit", "timeout", "unavailable"})
RECENT_FINALS = 2_000  # final events this worker published lately, kept to answer redeliveries
STOP_GRACE_S = 5.0  # how long `run` waits, once cancelled, for the runs it cancels to end


class Worker:
    def __init__(
        self,
        broker: WorkSource,
        resolve_provider: ProviderResolver,
        *,
        concurrency: int = 16,
        idle_timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | None = None,
        cache_ttl_s: float = 86_400.0,
        leases: RunLeases | None = None,
        credentials: CredentialHook | None = None,
        observer: TokenObserver | None = None,
        files: FileStore | None = None,
    ) -> None:
        self._broker = broker
        self._resolve = resolve_provider
        self._slots = asyncio.Semaphore(concurrency)
        self._leases = leases
        self._observer = observer
        execution: Execution = ProviderCall(
            resolve_provider,
            self._publish_chunk,
            idle_timeout_s=idle_timeout_s,
            retry=retry or RetryPolicy(),
            credentials=credentials,
            files=files,
        )
        if cache is not None:  # replays publish straight to the broker: they left no provider
            execution = CachedExecution(execution, cache, cache_ttl_s, broker.publish)
        self._execution = execution
        self._closing = False
        # A set per run: the same task delivered twice to this worker is two tasks (one runs, the
        # other waits on its lease), and a Stop or a shutdown must reach both.
        self._running: dict[tuple[str, int], set[asyncio.Task[None]]] = {}
        # Tasks waiting for another worker's lease on their run: a shutdown stops them at once.
        self._waiting: set[asyncio.Task[Any]] = set()
        # Finished here lately: a redelivery of one of these (a rebalance re-reads uncommitted
        # requests; a broker that lost its state gets lost runs queued again) publishes the same
        # final event again instead of calling the provider a second time.
        self._recent_finals: OrderedDict[tuple[str, int], FinalEvent] = OrderedDict()
        # Stops for runs not started here (yet): a task waiting for a slot, or not delivered yet.
        self._stopped: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._publishing: set[asyncio.Future[None]] = set()

    async def run(self) -> None:
        """Consume until cancelled."""
        cancel_listener = asyncio.create_task(self._listen_for_cancellations())
        try:
            async for delivery in self._broker.deliveries():
                await self._slots.acquire()
                key = (delivery.task.run_id, delivery.task.attempt)
                task = asyncio.create_task(self._handle(delivery), name=f"run:{key[0]}:{key[1]}")
                self._running.setdefault(key, set()).add(task)
                task.add_done_callback(functools.partial(self._finished, key, delivery))
        finally:
            cancel_listener.cancel()
            running = self._all_running()
            for task in running:
                task.cancel()
            # Wait (bounded) for the cancelled runs to wind up: a run cancelled mid-query that went on
            # after its owner closed the database would wait for ever on a connection that is gone.
            if running:
                await asyncio.wait(running, timeout=STOP_GRACE_S)
            if self._leases is not None:
                await self._leases.settle(STOP_GRACE_S)
            if self._publishing:
                await asyncio.wait(list(self._publishing), timeout=STOP_GRACE_S)

    async def shutdown(self, grace_s: float) -> None:
        """Let the runs in flight finish (up to `grace_s`); runs cut off after that publish nothing
        and are not acknowledged, so a broker that redelivers hands them to another worker."""
        self._closing = True
        for waiting in list(self._waiting):  # not started: left unacknowledged to the next worker
            waiting.cancel()
        running = self._all_running()
        if running:
            await asyncio.wait(running, timeout=grace_s)

    def _all_running(self) -> list[asyncio.Task[None]]:
        return [task for tasks in self._running.values() for task in tasks]

    def _finished(self, key: tuple[str, int], delivery: Delivery, task: asyncio.Task[None]) -> None:
        tasks = self._running.get(key, set())
        tasks.discard(task)
        if not tasks:
            self._running.pop(key, None)
        self._slots.release()
        if task.cancelled() and not self._closing:
            # Cancelled before its first step (a Stop right after the task arrived): `execute`
            # never ran, so no final event went out and the run would stay queued forever.
            publish = asyncio.ensure_future(self._publish_and_ack(stopped_final(*key), delivery))
            self._publishing.add(publish)
            publish.add_done_callback(self._publishing.discard)

    async def _listen_for_cancellations(self) -> None:
        async for cancel in self._broker.cancellations():
            key = (cancel.run_id, cancel.attempt)
            tasks = self._running.get(key)
            if tasks:
                for task in tasks:
                    task.cancel()
            else:  # not started here: remembered, so it is stopped before it starts
                self._stopped[key] = None
                while len(self._stopped) > RECENT_FINALS:
                    self._stopped.popitem(last=False)

    async def _publish_and_ack(self, final: FinalEvent, delivery: Delivery) -> None:
        await self._broker.publish(final)
        self._remember_final(final)
        await delivery.ack()

    def _remember_final(self, final: FinalEvent) -> None:
        self._recent_finals[(final.run_id, final.attempt)] = final
        while len(self._recent_finals) > RECENT_FINALS:
            self._recent_finals.popitem(last=False)

    async def _handle(self, delivery: Delivery) -> None:
        task = delivery.task
        # Its own asyncio task: the ids stay in this run's log records only.
        RUN_ID.set(task.run_id)
        COMPARISON_ID.set(task.comparison_id)
        # A child of the span that queued the run (its context came with the request), even in
        # another process: the final event published inside carries this span on to the save.
        attributes = {
            "llmdash.run_id": task.run_id,
            "llmdash.comparison_id": task.comparison_id,
            "llmdash.attempt": task.attempt,
            "gen_ai.request.model": task.model,
        }
        with tracing.span(
            "run.execute", kind=SpanKind.CONSUMER, parent=delivery.trace, attributes=attributes
        ):
            await self._handle_delivery(delivery)

    async def _handle_delivery(self, delivery: Delivery) -> None:
        task = delivery.task
        ended = self._recent_finals.get((task.run_id, task.attempt))
        if ended is not None:  # ended here, not saved yet (or its final event was lost): say it again
            log.info(
                "run %s attempt %d ended here already; publishing its final again", task.run_id, task.attempt
            )
            await self._broker.publish(ended)
            await delivery.ack()
            return
        if (task.run_id, task.attempt) in self._stopped:
            del self._stopped[(task.run_id, task.attempt)]
            log.info("run %s attempt %d was stopped before it started", task.run_id, task.attempt)
            await self._publish_and_ack(stopped_final(task.run_id, task.attempt), delivery)
            return
        log.info("run %s attempt %d: %s", task.run_id, task.attempt, task.model)
        # An unknown model calls no provider: nothing to claim.
        final = self._unknown_model(task) or await self._execute_claimed(task)
        if self._observer is not None:
            self._observer.run_ended(task.run_id, task.attempt)
        if final is None:  # final already, superseded or gone; or another worker owns it now
            await delivery.ack()
            return
        log.info("run %s attempt %d ended: %s", task.run_id, task.attempt, final.status)
        if self._closing and final.status == "cancelled":
            return  # cut off by shutdown: not the user's stop, so another worker redoes it
        await self._broker.publish(final)
        self._remember_final(final)
        if (
            delivery.dead_letter is not None
            and final.status == "error"
            and final.error_kind in POISON_ERROR_KINDS
        ):
            await delivery.dead_letter(f"{final.error_kind}: {final.error}")
        await delivery.ack()

    async def _execute_claimed(self, task: RunTask) -> FinalEvent | None:
        """`execute` under this worker's claim on the run (without leases: just `execute`).
        None when the run must not run here, or its claim was lost mid-run: nothing to publish."""
        if self._leases is None:
            return await self.execute(task)
        waiting = asyncio.current_task()
        assert waiting is not None
        self._waiting.add(waiting)
        # Another delivery of this attempt already runs here: this one must not call the
        # provider before its claim is answered, on any broker.
        twin = len(self._running.get((task.run_id, task.attempt), ())) > 1
        try:
            lease = await self._leases.acquire(task, twin=twin)
        finally:
            self._waiting.discard(waiting)
        if lease is None:
            return None
        final: FinalEvent | None = None
        async with lease:  # renewed until the final event is ready
            final = await self.execute(task)
        if lease.lost or final is None:
            return None
        if self._closing and final.status == "cancelled":
            await lease.release()  # cut off by shutdown: another worker may take it over at once
        return final

    def _unknown_model(self, task: RunTask) -> FinalEvent | None:
        try:
            self._resolve(task.model)
        except UnknownModel as exc:
            return RunRecorder(task, time.perf_counter()).final(
                "error", Usage(), "", error=str(exc), error_kind="unknown_model"
            )
        return None

    async def execute(self, task: RunTask) -> FinalEvent:
        """Stream one run, publishing start and chunk events; return the final event."""
        await self._broker.publish(StartedEvent(run_id=task.run_id, attempt=task.attempt))
        recorder = RunRecorder(task, time.perf_counter())
        ACTIVE_STREAMS.inc()
        provider_attributes = {"gen_ai.request.model": task.model, "gen_ai.system": task.model.split(":")[0]}
        with tracing.span("provider.stream", kind=SpanKind.CLIENT, attributes=provider_attributes) as span:
            try:
                final = await self._execution(task, recorder)
            except asyncio.CancelledError:
                final = recorder.final("cancelled", Usage(), "cancelled", error=STOPPED)
            except Exception as exc:  # a failing replay (the provider call reports its own errors)
                log.exception("run %s failed unexpectedly", task.run_id)
                final = recorder.final(
                    "error", Usage(), "", error=Message(INTERNAL, detail=str(exc)), error_kind="internal"
                )
            finally:
                ACTIVE_STREAMS.dec()
            _describe(span, final)
        record_run(task.model, final)
        return final

    async def _publish_chunk(self, event: ChunkEvent) -> None:
        if self._observer is not None:  # the time the chunk left the provider, before the queue
            self._observer.chunk_sent(event, time.time())
        await self._broker.publish(event)


def _describe(span: Span, final: FinalEvent) -> None:
    """The provider call's outcome on its span: tokens, time to first token, status (no text)."""
    if not span.is_recording():
        return
    span.set_attributes(
        {
            "llmdash.status": final.status,
            "gen_ai.usage.input_tokens": final.input_tokens,
            "gen_ai.usage.output_tokens": final.output_tokens,
            "llmdash.chunks": final.chunks,
            "llmdash.total_ms": final.total_ms,
            "llmdash.cache_hit": final.cache_hit,
        }
    )
    if final.ttft_ms is not None:
        span.set_attribute("llmdash.ttft_ms", final.ttft_ms)
    if final.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [final.finish_reason])
    if final.status == "error":
        # The kind, not the message: a provider's message may echo what the user sent.
        span.set_attribute("error.type", final.error_kind or "unknown")
        span.set_status(StatusCode.ERROR, final.error_kind or "error")
