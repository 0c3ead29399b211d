"""The worker: one provider call per task, streamed back as events.

The worker knows nothing about which broker it is on, or about browsers.  For
each task it publishes `started`, one `chunk` per provider chunk (numbered, so
consumers can drop duplicates) and exactly one `final`, then acknowledges the
delivery (at-least-once on brokers that redeliver).

With run leases (backend/execution/leases.py; the app and worker processes always pass
them), the worker claims the run in the database before it calls the provider
and renews the claim until the final event goes out (the final save clears it),
so a redelivered or replayed task never calls the provider a second time: a run
already final is skipped, one that another live worker holds is waited for.

With a response cache (optional), a task that allows caching (temperature 0,
or `use_cache` set by the user) is first looked up: a hit replays the stored
chunks at once and its final event is marked `cache_hit` with the original
call's timings; the provider is not called.  A miss that ends "done" is stored.
A failing cache never fails a run: it counts as a miss.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from backend.cache.base import CachedResponse, ResponseCache, cache_allowed, cache_key
from backend.execution.leases import RunLeases
from backend.providers.base import (
    AuthenticationFailed,
    ChatProvider,
    ChatRequest,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    StreamEnd,
    TextChunk,
    Usage,
)
from backend.providers.credentials import ProviderCredentials, key_provider, provider_label
from backend.providers.registry import UnknownModel
from backend.queue.base import Broker, Delivery
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask, StartedEvent

log = logging.getLogger(__name__)


class ProviderResolver(Protocol):
    """Model id (plus stored credentials, when the task's user or the deployment has them) ->
    provider.  Called with the model id alone when there are none."""

    def __call__(self, model_id: str, credentials: ProviderCredentials | None = None, /) -> ChatProvider: ...


# The stored key a task runs with (the user's, else the deployment's), or None: the environment's.
# Read from the database by the worker, so keys never travel on the queue.
CredentialHook = Callable[[RunTask], Awaitable[ProviderCredentials | None]]
# Final errors that make a request poison (dead-lettered on brokers that have a dead-letter topic):
# no provider serves the model, or the provider kept failing after the bounded retries.
POISON_ERROR_KINDS = frozenset({"unknown_model", "rate_limit", "timeout", "unavailable"})
FinalStatus = Literal["done", "error", "cancelled"]
RECENT_FINALS = 2_000  # final events this worker published lately, kept to answer redeliveries
IDLE_CHECK_S = 1.0  # at most how often a stream's idle-output watchdog is pushed back
STOP_GRACE_S = 5.0  # how long `run` waits, once cancelled, for the runs it cancels to end


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry transient failures, but only before any text reached the user:
    a retry after partial output would show the same words twice."""

    max_retries: int = 2
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int, error: ProviderError) -> float:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.max_delay_s)
        return min(self.base_delay_s * (2**attempt), self.max_delay_s)


class Worker:
    def __init__(
        self,
        broker: Broker,
        resolve_provider: ProviderResolver,
        *,
        concurrency: int = 16,
        idle_timeout_s: float = 120.0,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | None = None,
        cache_ttl_s: float = 86_400.0,
        leases: RunLeases | None = None,
        credentials: CredentialHook | None = None,
    ) -> None:
        self._broker = broker
        self._resolve = resolve_provider
        self._slots = asyncio.Semaphore(concurrency)
        self._idle_timeout_s = idle_timeout_s
        self._retry = retry or RetryPolicy()
        self._cache = cache
        self._cache_ttl_s = cache_ttl_s
        self._leases = leases
        self._credentials = credentials
        self._closing = False
        # A set per run: the same task delivered twice to this worker is two tasks (one runs, the
        # other waits on its lease), and a Stop or a shutdown must reach both.
        self._running: dict[tuple[str, int], set[asyncio.Task[None]]] = {}
        # Tasks waiting for another worker's lease on their run: a shutdown stops them at once.
        self._waiting: set[asyncio.Task[Any]] = set()
        # Finished here lately: a redelivery of one of these (a rebalance re-reads uncommitted
        # requests; a broker that lost its state gets lost runs queued again) publishes the same
        # final event again instead of calling the provider a second time.
        self._recent_finals: OrderedDict[tuple[str, int], tuple[float, FinalEvent]] = OrderedDict()
        # Stops for runs not started here (yet): a task waiting for a slot, or not delivered yet.
        self._stopped: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._publishing: set[asyncio.Future[None]] = set()
        trace_path = os.environ.get("LLMDASH_TRACE_TOKENS", "")
        self._trace = _TokenTrace(trace_path) if trace_path else None

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
            publish = asyncio.ensure_future(self._publish_and_ack(_stopped_final(*key), delivery))
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
        self._recent_finals[(final.run_id, final.attempt)] = (time.monotonic(), final)
        while len(self._recent_finals) > RECENT_FINALS:
            self._recent_finals.popitem(last=False)

    async def republish_finals(self, since: float) -> int:
        """Publish again the final events published since `since` (monotonic): the broker lost
        its state, and what it acknowledged around its restart may be gone (the event pump
        saves a final record once, whatever the repeats)."""
        finals = [final for at, final in list(self._recent_finals.values()) if at >= since]
        for final in finals:
            await self._broker.publish(final)
        if finals:
            log.warning("the broker lost its state: published %d recent final events again", len(finals))
        return len(finals)

    async def _handle(self, delivery: Delivery) -> None:
        task = delivery.task
        ended = self._recent_finals.get((task.run_id, task.attempt), (0.0, None))[1]
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
            await self._publish_and_ack(_stopped_final(task.run_id, task.attempt), delivery)
            return
        log.info("run %s attempt %d: %s", task.run_id, task.attempt, task.model)
        # An unknown model calls no provider: nothing to claim.
        final = self._unknown_model(task) or await self._execute_claimed(task)
        if self._trace is not None:
            self._trace.end_run(task.run_id, task.attempt)
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
        try:
            lease = await self._leases.acquire(task)
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
            return _Recorder(task, time.perf_counter()).final(
                "error", Usage(), "", error=str(exc), error_kind="unknown_model"
            )
        return None

    async def execute(self, task: RunTask) -> FinalEvent:
        """Stream one run, publishing start and chunk events; return the final event."""
        await self._broker.publish(StartedEvent(run_id=task.run_id, attempt=task.attempt))
        started = time.perf_counter()
        recorder = _Recorder(task, started)
        key = self._cache_key(task)
        credentials: ProviderCredentials | None = None
        try:
            cached = await self._cache_get(key) if key else None
            if cached is not None:
                return await self._replay(cached, recorder)
            if self._credentials is not None:
                credentials = await self._credentials(task)
            provider = (
                self._resolve(task.model) if credentials is None else self._resolve(task.model, credentials)
            )
            usage, finish_reason = await self._stream_with_retries(provider, task, recorder)
        except asyncio.CancelledError:
            return recorder.final("cancelled", Usage(), "cancelled", error="Stopped by the user.")
        except ProviderError as exc:
            error = _error_message(exc, task, credentials)
            return recorder.final("error", Usage(), "", error=error, error_kind=exc.kind)
        except Exception as exc:  # a bug in an adapter must not kill the worker
            log.exception("run %s failed unexpectedly", task.run_id)
            error = f"Internal error: {exc}"
            if credentials is not None:
                error = credentials.redact(error)
            return recorder.final("error", Usage(), "", error=error, error_kind="internal")
        final = recorder.final("done", usage, finish_reason)
        if key:
            await self._cache_put(key, recorder.cached_response(final))
        return final

    # --- response cache -------------------------------------------------------
    def _cache_key(self, task: RunTask) -> str:
        if self._cache is None or not cache_allowed(task.temperature, task.use_cache):
            return ""
        return cache_key(
            task.model,
            task.system_prompt,
            task.prompt,
            task.temperature,
            task.max_tokens,
            task.seed,
            owner=task.user_id,
        )

    async def _cache_get(self, key: str) -> CachedResponse | None:
        assert self._cache is not None
        try:
            return await self._cache.get(key)
        except Exception:
            log.warning("response cache lookup failed; calling the provider", exc_info=True)
            return None

    async def _cache_put(self, key: str, value: CachedResponse) -> None:
        assert self._cache is not None
        try:
            await self._cache.put(key, value, self._cache_ttl_s)
        except Exception:
            log.warning("could not store a response in the cache", exc_info=True)

    async def _replay(self, cached: CachedResponse, recorder: _Recorder) -> FinalEvent:
        """Publish a cached answer's chunks at once, as the original call chunked it."""
        for text in cached.chunks:
            if text:
                await self._broker.publish(recorder.chunk(text))
        final = recorder.final(
            "done",
            Usage(input_tokens=cached.input_tokens, output_tokens=cached.output_tokens),
            cached.finish_reason,
        )
        return final.model_copy(
            update={
                "output_text": cached.output_text,
                "cache_hit": True,
                "original_ttft_ms": cached.ttft_ms,
                "original_total_ms": cached.total_ms,
            }
        )

    async def _stream_with_retries(
        self, provider: ChatProvider, task: RunTask, recorder: _Recorder
    ) -> tuple[Usage, str]:
        request = ChatRequest(
            model=task.model.split(":", 1)[1],
            prompt=task.prompt,
            system_prompt=task.system_prompt,
            temperature=task.temperature,
            max_tokens=task.max_tokens,
            seed=task.seed,
        )
        tries = 0
        while True:
            try:
                return await self._stream_once(provider, request, recorder)
            except ProviderError as exc:
                if not exc.retryable or recorder.chunks > 0 or tries >= self._retry.max_retries:
                    raise
                await asyncio.sleep(self._retry.delay(tries, exc))
                tries += 1

    async def _stream_once(
        self, provider: ChatProvider, request: ChatRequest, recorder: _Recorder
    ) -> tuple[Usage, str]:
        stream = provider.stream(request).__aiter__()
        loop = asyncio.get_running_loop()
        idle = self._idle_timeout_s
        check_every = min(IDLE_CHECK_S, idle / 4)
        try:
            # One asyncio.timeout for the whole stream, pushed back as chunks come (asyncio.timeout,
            # not wait_for: on 3.11 wait_for swallows a cancellation that lands just as the next
            # chunk arrives, and Stop would then be ignored).  A fresh timer per chunk cost a tenth
            # of the event loop at 16,000 chunks/s, so it moves at most every `check_every`: the
            # stream is given up after between `idle - check_every` and `idle` seconds of silence.
            async with asyncio.timeout(idle) as watchdog:
                armed_at = loop.time()
                while True:
                    try:
                        item = await anext(stream)
                    except StopAsyncIteration:
                        return Usage(output_tokens=recorder.chunks), "stop"
                    now = loop.time()
                    if now - armed_at >= check_every:
                        watchdog.reschedule(now + idle)
                        armed_at = now
                    if isinstance(item, StreamEnd):
                        return item.usage, item.finish_reason
                    if isinstance(item, TextChunk) and item.text:
                        await self._publish_chunk(recorder.chunk(item.text))
        except TimeoutError as exc:
            raise ProviderTimeout(f"No output for {idle:.0f} s; gave up.") from exc

    async def _publish_chunk(self, event: ChunkEvent) -> None:
        if self._trace is not None:  # the time the chunk left the provider, before the queue
            self._trace.record(event, time.time())
        await self._broker.publish(event)


def _stopped_final(run_id: str, attempt: int) -> FinalEvent:
    """The final event of a run stopped before it called its provider."""
    return FinalEvent(
        run_id=run_id,
        attempt=attempt,
        status="cancelled",
        output_text="",
        chunks=0,
        error="Stopped by the user.",
        finish_reason="cancelled",
    )


def _error_message(error: ProviderError, task: RunTask, credentials: ProviderCredentials | None) -> str:
    """What the run shows (and shares): never a stored key, not even the provider's echo of it."""
    if credentials is None:
        return error.message
    if isinstance(error, AuthenticationFailed):
        whose = "your saved" if credentials.scope == task.user_id else "this server's saved"
        name = provider_label(key_provider(task.model) or task.model.partition(":")[0])
        return f"{name} refused {whose} key: check it on the Settings page."
    return credentials.redact(error.message)


class _Recorder:
    """Accumulates one attempt's output and timings and builds its events."""

    def __init__(self, task: RunTask, started: float) -> None:
        self._task = task
        self._started = started
        self._parts: list[str] = []
        self.chunks = 0
        self.ttft_ms: float | None = None

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000.0

    def chunk(self, text: str) -> ChunkEvent:
        elapsed = self._elapsed_ms()
        if self.ttft_ms is None:
            self.ttft_ms = elapsed
        self._parts.append(text)
        event = ChunkEvent(
            run_id=self._task.run_id,
            attempt=self._task.attempt,
            seq=self.chunks,
            text=text,
            elapsed_ms=elapsed,
            output_tokens=self.chunks + 1,
        )
        self.chunks += 1
        return event

    def cached_response(self, final: FinalEvent) -> CachedResponse:
        return CachedResponse(
            output_text=final.output_text,
            chunks=list(self._parts),
            input_tokens=final.input_tokens,
            output_tokens=final.output_tokens,
            finish_reason=final.finish_reason,
            ttft_ms=final.ttft_ms,
            total_ms=final.total_ms,
        )

    def final(
        self, status: FinalStatus, usage: Usage, finish_reason: str, *, error: str = "", error_kind: str = ""
    ) -> FinalEvent:
        return FinalEvent(
            run_id=self._task.run_id,
            attempt=self._task.attempt,
            status=status,
            output_text="".join(self._parts),
            chunks=self.chunks,
            error=error,
            error_kind=error_kind,
            finish_reason=finish_reason,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens or self.chunks,
            ttft_ms=self.ttft_ms,
            total_ms=self._elapsed_ms(),
        )


class _TokenTrace:
    """Benchmark aid (LLMDASH_TRACE_TOKENS=path): when each chunk left the provider.

    One JSON line per chunk with the wall-clock time and the run's text length
    after it, so bench/ can measure token-to-DOM latency against the browser's
    clock on the same machine.  Off unless the variable is set.

    Lines are kept in memory and written at most every FLUSH_S, and when a run ends:
    a write per chunk cost a third of the event loop at 16,000 chunks/s and slowed
    the very streams the benchmark measures.
    """

    FLUSH_S = 0.2

    def __init__(self, path: str) -> None:
        self._file = open(path, "a")  # noqa: SIM115 - lives as long as the worker
        self._lines: list[str] = []
        self._lengths: dict[tuple[str, int], int] = {}
        self._flushed_at = time.monotonic()

    def record(self, event: ChunkEvent, t_wall: float) -> None:
        key = (event.run_id, event.attempt)
        length = self._lengths.get(key, 0) + len(event.text.encode("utf-16-le")) // 2
        self._lengths[key] = length
        # The layout json.dumps gives; run ids are hex, the rest numbers: nothing to escape.
        self._lines.append(
            f'{{"run_id": "{event.run_id}", "attempt": {event.attempt}, "seq": {event.seq}, '
            f'"t_wall": {t_wall!r}, "text_len": {length}}}\n'
        )
        if time.monotonic() - self._flushed_at >= self.FLUSH_S:
            self.flush()

    def end_run(self, run_id: str, attempt: int) -> None:
        """Written out before the run's final event goes: readers wait for that event."""
        self._lengths.pop((run_id, attempt), None)
        self.flush()

    def flush(self) -> None:
        self._flushed_at = time.monotonic()
        if self._lines:
            self._file.write("".join(self._lines))
            self._file.flush()
            self._lines.clear()
