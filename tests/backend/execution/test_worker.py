"""The worker against the embedded broker and the real simulated provider."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from backend.catalog import estimate_tokens
from backend.execution.provider_call import RetryPolicy
from backend.execution.worker import Worker
from backend.providers.base import (
    AuthenticationFailed,
    ChatProvider,
    ChatRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    StreamEnd,
    StreamItem,
    TextChunk,
    Usage,
)
from backend.providers.registry import get_provider
from backend.providers.simulated import simulated_text
from backend.queue.base import AnyEvent, Delivery
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import CancelRequest, ChunkEvent, FinalEvent, RunTask, StartedEvent
from backend.settings import Settings
from backend.streaming.follow import follow_runs, sse_pacing
from backend.streaming.hub import RunHub

SETTINGS = Settings(
    _env_file=None,
    openai_api_key="",
    anthropic_api_key="",
    google_cloud_project="",
    simulated_enabled=True,
)
FAST_RETRY = RetryPolicy(max_retries=2, base_delay_s=0.001, max_delay_s=0.01)


def simulated(model_id: str) -> ChatProvider:
    return get_provider(model_id, SETTINGS)


def make_task(prompt: str, model: str = "simulated:instant", run_id: str = "run-1", **kw: Any) -> RunTask:
    return RunTask(run_id=run_id, comparison_id="cmp-1", model=model, prompt=prompt, **kw)


def expected_tokens(task: RunTask) -> list[str]:
    request = ChatRequest(
        model=task.model.split(":", 1)[1],
        prompt=task.prompt,
        system_prompt=task.system_prompt,
        temperature=task.temperature,
        max_tokens=task.max_tokens,
        seed=task.seed,
    )
    return simulated_text(request.model, request)


@contextlib.asynccontextmanager
async def worker_running(
    broker: EmbeddedBroker, resolve: Callable[[str], ChatProvider] = simulated, **kw: Any
) -> AsyncIterator[Worker]:
    kw.setdefault("retry", FAST_RETRY)
    worker = Worker(broker, resolve, **kw)  # type: ignore[arg-type]  # no stored keys: called with the id alone
    task = asyncio.create_task(worker.run())
    # Let the worker register its cancellation listener before the test cancels anything.
    for _ in range(20):
        await asyncio.sleep(0)
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def events_until_final(
    broker: EmbeddedBroker,
    run_id: str,
    timeout: float = 5.0,
    on_event: Callable[[AnyEvent], Any] | None = None,
) -> list[AnyEvent]:
    """Every event of `run_id` up to and including its final event."""
    got: list[AnyEvent] = []

    async def consume() -> None:
        async for event in broker.events():
            if event.run_id != run_id:
                continue
            got.append(event)
            if on_event is not None:
                result = on_event(event)
                if asyncio.iscoroutine(result):
                    await result
            if isinstance(event, FinalEvent):
                return

    await asyncio.wait_for(consume(), timeout)
    return got


def split(events: list[AnyEvent]) -> tuple[list[StartedEvent], list[ChunkEvent], FinalEvent]:
    started = [e for e in events if isinstance(e, StartedEvent)]
    chunks = [e for e in events if isinstance(e, ChunkEvent)]
    finals = [e for e in events if isinstance(e, FinalEvent)]
    assert len(finals) == 1 and events[-1] is finals[0]
    return started, chunks, finals[0]


# --- happy path ---------------------------------------------------------------


async def test_events_in_order_and_output_is_exact() -> None:
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=12]] Tell me about rivers", system_prompt="Be kind.")
    expected = expected_tokens(task)
    assert len(expected) == 12
    async with worker_running(broker):
        await broker.submit(task)
        events = await events_until_final(broker, task.run_id)

    started, chunks, final = split(events)
    assert events[0] == StartedEvent(run_id="run-1", attempt=0)
    assert len(started) == 1
    assert [c.seq for c in chunks] == list(range(12))
    assert [c.text for c in chunks] == expected
    assert [c.output_tokens for c in chunks] == list(range(1, 13))
    assert all(c.attempt == 0 for c in chunks)
    elapsed = [c.elapsed_ms for c in chunks]
    assert elapsed == sorted(elapsed)

    assert final.status == "done"
    assert final.output_text == "".join(expected)
    assert final.chunks == 12
    assert final.finish_reason == "stop"
    assert final.output_tokens == 12
    assert final.input_tokens == estimate_tokens(task.system_prompt + task.prompt)
    assert final.error == "" and final.error_kind == ""
    assert final.ttft_ms is not None and final.ttft_ms == chunks[0].elapsed_ms
    assert final.total_ms >= final.ttft_ms


async def test_max_tokens_truncates_with_length_finish_reason() -> None:
    broker = EmbeddedBroker()
    task = make_task("Tell me about rivers", max_tokens=30)
    expected = expected_tokens(task)
    assert len(expected) == 30
    async with worker_running(broker):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id))
    assert final.status == "done"
    assert final.finish_reason == "length"
    assert final.output_text == "".join(expected)
    assert len(chunks) == 30


async def test_paced_model_reports_a_real_time_to_first_token() -> None:
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=5]] pacing", model="simulated:swift")
    async with worker_running(broker):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id))
    assert final.output_text == "".join(expected_tokens(task))
    assert len(chunks) == 5
    # swift: ttft 80 ms +-30 % jitter, then 120 tok/s
    assert final.ttft_ms is not None and 40 <= final.ttft_ms < 1000
    assert final.total_ms > final.ttft_ms


async def test_concurrent_runs_each_get_their_own_exact_stream() -> None:
    broker = EmbeddedBroker()
    tasks = [make_task(f"[[simulate:tokens={n}]] topic {n}", run_id=f"run-{n}") for n in (3, 7, 11)]
    async with worker_running(broker, concurrency=2):
        for task in tasks:
            await broker.submit(task)
        finals: dict[str, FinalEvent] = {}
        seqs: dict[str, list[int]] = {t.run_id: [] for t in tasks}

        async def consume() -> None:
            async for event in broker.events():
                if isinstance(event, ChunkEvent):
                    seqs[event.run_id].append(event.seq)
                elif isinstance(event, FinalEvent):
                    finals[event.run_id] = event
                    if len(finals) == len(tasks):
                        return

        await asyncio.wait_for(consume(), 5)
    for task in tasks:
        expected = expected_tokens(task)
        assert finals[task.run_id].status == "done"
        assert finals[task.run_id].output_text == "".join(expected)
        assert seqs[task.run_id] == list(range(len(expected)))


async def test_final_is_published_before_the_delivery_is_acked() -> None:
    acked_after: list[list[str]] = []

    class RecordingBroker(EmbeddedBroker):
        async def deliveries(self) -> AsyncIterator[Delivery]:
            async for delivery in super().deliveries():

                async def ack() -> None:
                    kinds = []
                    while not self._events.empty():
                        data, _trace = self._events.get_nowait()
                        kinds.append(type(self._decode(data)).__name__)
                    acked_after.append(kinds)

                yield Delivery(task=delivery.task, ack=ack)

        @staticmethod
        def _decode(data: bytes | ChunkEvent) -> AnyEvent:
            from backend.queue.messages import decode_event

            return data if isinstance(data, ChunkEvent) else decode_event(data)  # chunks pass as models

    broker = RecordingBroker()
    async with worker_running(broker):
        await broker.submit(make_task("[[simulate:tokens=2]] ack"))
        for _ in range(200):
            if acked_after:
                break
            await asyncio.sleep(0.005)
    assert acked_after == [["StartedEvent", "ChunkEvent", "ChunkEvent", "FinalEvent"]]


# --- failures -----------------------------------------------------------------


async def test_fail_directive_ends_in_error_with_partial_text_and_no_retry() -> None:
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=10]] [[simulate:fail@3]] about failure")
    expected = expected_tokens(task)
    async with worker_running(broker):
        await broker.submit(task)
        started, chunks, final = split(await events_until_final(broker, task.run_id))
    assert final.status == "error"
    assert final.error_kind == "unavailable"
    assert "simulated failure after 3 tokens" in final.error
    assert final.output_text == "".join(expected[:3])
    assert [c.seq for c in chunks] == [0, 1, 2]  # not retried: no repeated words
    assert final.chunks == 3
    assert len(started) == 1


async def test_unknown_simulated_model_is_a_bad_request_error() -> None:
    broker = EmbeddedBroker()
    task = make_task("hello", model="simulated:does-not-exist")
    async with worker_running(broker):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id))
    assert chunks == []
    assert final.status == "error"
    assert final.error_kind == "bad_request"
    assert "does-not-exist" in final.error
    assert final.output_text == ""


async def test_idle_timeout_is_a_provider_timeout_error() -> None:
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=6]] [[simulate:stall@2:5]] waiting")
    expected = expected_tokens(task)
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with worker_running(broker, idle_timeout_s=0.2):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id))
    assert loop.time() - began < 3.0  # gave up long before the 5 s stall ended
    assert final.status == "error"
    assert final.error_kind == "timeout"
    assert "No output" in final.error
    assert final.output_text == "".join(expected[:2])
    assert [c.text for c in chunks] == expected[:2]


async def test_adapter_bug_becomes_internal_error_and_worker_keeps_going() -> None:
    class Broken:
        async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
            yield TextChunk("x")
            raise RuntimeError("adapter exploded")

    def resolve(model_id: str) -> ChatProvider:
        return Broken() if model_id == "test:broken" else simulated(model_id)

    broker = EmbeddedBroker()
    async with worker_running(broker, resolve):
        await broker.submit(make_task("p", model="test:broken", run_id="bad"))
        _, _, bad = split(await events_until_final(broker, "bad"))
        good_task = make_task("[[simulate:tokens=4]] fine", run_id="good")
        await broker.submit(good_task)
        _, _, good = split(await events_until_final(broker, "good"))
    assert bad.status == "error" and bad.error_kind == "internal"
    assert "adapter exploded" in bad.error
    assert bad.output_text == "x"
    assert good.status == "done" and good.output_text == "".join(expected_tokens(good_task))


# --- retries ------------------------------------------------------------------


class ScriptedProvider:
    """A ChatProvider test double: fails the first `failures` calls, then streams `parts`.

    With `fail_after_first_chunk`, every call yields one chunk before failing.
    """

    def __init__(
        self,
        failures: int,
        error: Callable[[], ProviderError],
        parts: tuple[str, ...] = ("Hello", ", ", "world"),
        fail_after_first_chunk: bool = False,
    ) -> None:
        self.failures = failures
        self.error = error
        self.parts = parts
        self.fail_after_first_chunk = fail_after_first_chunk
        self.calls = 0
        self.requests: list[ChatRequest] = []

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        self.calls += 1
        self.requests.append(request)
        if self.calls <= self.failures:
            if self.fail_after_first_chunk:
                yield TextChunk(self.parts[0])
            raise self.error()
        for part in self.parts:
            yield TextChunk(part)
        yield StreamEnd(usage=Usage(input_tokens=9, output_tokens=len(self.parts)), finish_reason="stop")


async def _run_with(
    provider: ScriptedProvider, retry: RetryPolicy = FAST_RETRY, **task_kw: Any
) -> FinalEvent:
    broker = EmbeddedBroker()
    async with worker_running(broker, lambda _m: provider, retry=retry):
        await broker.submit(make_task("p", model="test:scripted", **task_kw))
        _, chunks, final = split(await events_until_final(broker, "run-1"))
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert final.output_text == "".join(c.text for c in chunks)
    return final


async def test_retryable_error_before_any_chunk_is_retried() -> None:
    provider = ScriptedProvider(failures=2, error=lambda: ProviderUnavailable("503"))
    final = await _run_with(provider, temperature=0.2, max_tokens=55, seed=4)
    assert provider.calls == 3
    assert final.status == "done"
    assert final.output_text == "Hello, world"
    assert final.input_tokens == 9 and final.output_tokens == 3
    assert provider.requests[0] == ChatRequest(
        model="scripted", prompt="p", system_prompt="", temperature=0.2, max_tokens=55, seed=4
    )


async def test_retries_stop_at_max_retries() -> None:
    provider = ScriptedProvider(failures=10, error=lambda: RateLimited("slow down", retry_after=0.001))
    final = await _run_with(provider, retry=RetryPolicy(max_retries=2, base_delay_s=0.001))
    assert provider.calls == 3  # first try + 2 retries
    assert final.status == "error"
    assert final.error_kind == "rate_limit"
    assert final.error == "slow down"
    assert final.output_text == "" and final.ttft_ms is None


async def test_non_retryable_error_is_not_retried() -> None:
    provider = ScriptedProvider(failures=1, error=lambda: AuthenticationFailed("bad key"))
    final = await _run_with(provider)
    assert provider.calls == 1
    assert final.status == "error"
    assert final.error_kind == "auth"
    assert final.error == "bad key"


async def test_retryable_error_after_partial_output_is_not_retried() -> None:
    provider = ScriptedProvider(
        failures=1, error=lambda: ProviderUnavailable("dropped"), fail_after_first_chunk=True
    )
    final = await _run_with(provider)
    assert provider.calls == 1
    assert final.status == "error"
    assert final.error_kind == "unavailable"
    assert final.output_text == "Hello"  # no second "Hello" from a retry
    assert final.chunks == 1


def test_retry_delay_backs_off_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_retries=5, base_delay_s=0.5, max_delay_s=8.0)
    plain = ProviderUnavailable("x")
    assert [policy.delay(n, plain) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.delay(0, RateLimited("x", retry_after=3.0)) == 3.0
    assert policy.delay(0, RateLimited("x", retry_after=60.0)) == 8.0
    assert policy.delay(2, RateLimited("x")) == 2.0


# --- cancellation -------------------------------------------------------------


async def test_cancel_stops_the_run_with_its_partial_text() -> None:
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=10]] [[simulate:stall@3:5]] cancel me", attempt=1)
    expected = expected_tokens(task)

    async def cancel_after_third(event: AnyEvent) -> None:
        if isinstance(event, ChunkEvent) and event.seq == 2:
            await broker.request_cancel(CancelRequest(run_id=task.run_id, attempt=1))

    loop = asyncio.get_running_loop()
    began = loop.time()
    async with worker_running(broker):
        await broker.submit(task)
        _, chunks, final = split(await events_until_final(broker, task.run_id, on_event=cancel_after_third))
    assert loop.time() - began < 3.0
    assert final.status == "cancelled"
    assert final.attempt == 1
    assert final.output_text == "".join(expected[:3])
    assert final.chunks == 3 and len(chunks) == 3
    assert final.finish_reason == "cancelled"
    assert final.error == "Stopped by the user."


async def test_cancel_of_another_attempt_leaves_the_run_alone() -> None:
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=6]] [[simulate:stall@2:0.3]] keep going")

    async def cancel_wrong_attempt(event: AnyEvent) -> None:
        if isinstance(event, ChunkEvent) and event.seq == 0:
            await broker.request_cancel(CancelRequest(run_id=task.run_id, attempt=5))
            await broker.request_cancel(CancelRequest(run_id="other-run", attempt=0))

    async with worker_running(broker):
        await broker.submit(task)
        _, _, final = split(await events_until_final(broker, task.run_id, on_event=cancel_wrong_attempt))
    assert final.status == "done"
    assert final.output_text == "".join(expected_tokens(task))


async def test_cancel_while_waiting_to_retry_ends_cancelled() -> None:
    provider = ScriptedProvider(failures=10, error=lambda: ProviderUnavailable("down"))
    broker = EmbeddedBroker()
    slow_retry = RetryPolicy(max_retries=3, base_delay_s=5.0, max_delay_s=5.0)
    async with worker_running(broker, lambda _m: provider, retry=slow_retry):
        await broker.submit(make_task("p", model="test:scripted"))
        for _ in range(200):
            if provider.calls:
                break
            await asyncio.sleep(0.005)
        await broker.request_cancel(CancelRequest(run_id="run-1", attempt=0))
        _, _, final = split(await events_until_final(broker, "run-1", timeout=2.0))
    assert provider.calls == 1
    assert final.status == "cancelled"
    assert final.output_text == ""


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_concurrency_limit_still_runs_every_task(concurrency: int) -> None:
    broker = EmbeddedBroker()
    tasks = [make_task(f"[[simulate:tokens=2]] n{i}", run_id=f"r{i}") for i in range(5)]
    async with worker_running(broker, concurrency=concurrency) as worker:
        for task in tasks:
            await broker.submit(task)
        done: set[str] = set()

        async def consume() -> None:
            async for event in broker.events():
                if isinstance(event, FinalEvent):
                    assert event.status == "done"
                    done.add(event.run_id)
                    if len(done) == len(tasks):
                        return

        await asyncio.wait_for(consume(), 5)
        assert len(worker._running) <= concurrency
    assert done == {t.run_id for t in tasks}


async def test_cancel_arriving_with_the_task_still_produces_a_final_event() -> None:
    """A Stop in the same tick as the task: the run task is cancelled before its first step."""
    broker = EmbeddedBroker()
    task = make_task("[[simulate:tokens=6]] [[simulate:stall@2:3]] stop at once")
    async with worker_running(broker):
        # Same tick: the worker creates the run task, then hears the cancel before that task's first step.
        await broker.submit(task)
        await broker.request_cancel(CancelRequest(run_id=task.run_id, attempt=0))
        events = await events_until_final(broker, task.run_id, timeout=2.0)
    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert final.status == "cancelled"
    assert final.run_id == task.run_id and final.attempt == 0
    assert final.output_text == ""


async def test_cancel_landing_as_a_chunk_arrives_is_not_lost() -> None:
    """The Stop and the next chunk wake up in the same loop iteration (asyncio.wait_for on
    3.11 swallowed such a cancellation and the run streamed on to "done")."""
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    class Gated:
        async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
            yield TextChunk("a")
            await gate
            yield TextChunk("b")
            await asyncio.sleep(0.5)
            yield TextChunk("c")
            yield StreamEnd()

    broker = EmbeddedBroker()

    async def release_and_cancel(event: AnyEvent) -> None:
        if isinstance(event, ChunkEvent) and event.seq == 0:
            gate.set_result(None)
            await broker.request_cancel(CancelRequest(run_id="run-1", attempt=0))

    async with worker_running(broker, lambda _m: Gated()):
        await broker.submit(make_task("p", model="test:gated"))
        _, _, final = split(await events_until_final(broker, "run-1", on_event=release_and_cancel))
    assert final.status == "cancelled"
    assert final.output_text in ("a", "ab")


class _Buffered:
    """A fast server's answer: every chunk already read, none of them waits on the network."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        for i in range(200):
            yield TextChunk(f"w{i} ")
        yield StreamEnd(Usage(output_tokens=200), "stop")


async def test_the_first_words_reach_a_stream_before_the_rest_of_a_buffered_answer_is_parsed() -> None:
    """The event pump applies the first chunk and a waiting SSE stream sends it while the worker
    still holds the other 199 (it hands the loop over after the first text, not after a slice)."""

    class NothingSaved:
        async def get_unchecked(self, comparison_id: str) -> Any:
            raise LookupError(comparison_id)

    broker, hub = EmbeddedBroker(), RunHub()
    hub.track("run-1", 0)

    async def pump() -> None:
        async for event in broker.events():
            await hub.apply(event)

    first_text: list[str] = []

    async def follow() -> None:
        async for batch in follow_runs(
            hub, NothingSaved(), "cmp-1", {"run-1": "run-1:0"}, pacing=sse_pacing(15.0)
        ):
            texts = [entry.text for entry in batch.live if entry.text]
            if texts:
                first_text.extend(texts)
                return

    pumping, following = asyncio.create_task(pump()), asyncio.create_task(follow())
    try:
        async with worker_running(broker, lambda _: _Buffered()):
            await broker.submit(make_task("hi"))
            await asyncio.wait_for(following, 5.0)
    finally:
        pumping.cancel()
    assert first_text == ["w0 "]
