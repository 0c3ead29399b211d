"""A follower sends each browser only what is new, with offsets JavaScript agrees with."""

from __future__ import annotations

import asyncio
import contextlib

from backend.execution.worker import Worker
from backend.providers.base import ChatRequest
from backend.providers.registry import get_provider
from backend.providers.simulated import simulated_text
from backend.queue.embedded import EmbeddedBroker
from backend.queue.messages import ChunkEvent, FinalEvent, RunTask, StartedEvent
from backend.settings import Settings
from backend.streaming.follower import Follower, utf16_len
from backend.streaming.hub import RunHub

KEY = "r:0"


def chunk(seq: int, text: str, run_id: str = "r", attempt: int = 0) -> ChunkEvent:
    return ChunkEvent(
        run_id=run_id, attempt=attempt, seq=seq, text=text, elapsed_ms=5.0 * (seq + 1), output_tokens=seq + 1
    )


def test_utf16_len_counts_like_javascript() -> None:
    assert utf16_len("") == 0
    assert utf16_len("abc") == 3
    assert utf16_len("é") == 1
    assert utf16_len("😀") == 2  # astral plane: a surrogate pair
    assert utf16_len("a😀b👍🏽") == 1 + 2 + 1 + 2 + 2


async def test_sends_only_new_text_with_utf16_offsets() -> None:
    hub = RunHub()
    hub.track("r", 0)
    follower = Follower(hub)

    await hub.apply(StartedEvent(run_id="r", attempt=0))
    await hub.apply(chunk(0, "Hi 😀"))
    first = follower.collect({"r": KEY})
    assert len(first.entries) == 1
    run_key, offset, text, tokens, ttft, elapsed, status = first.entries[0]
    assert (run_key, offset, text, tokens, status) == (KEY, 0, "Hi 😀", 1, "running")
    assert ttft == 5.0 and elapsed == 5.0

    await hub.apply(chunk(1, " there"))
    await hub.apply(chunk(2, " 👋🏽!"))
    second = follower.collect({"r": KEY})
    assert [e[:3] for e in second.entries] == [[KEY, 5, " there 👋🏽!"]]  # "Hi 😀" is 5 UTF-16 units
    assert second.entries[0][3] == 3

    # nothing new: nothing sent
    assert follower.collect({"r": KEY}).entries == []

    await hub.apply(chunk(3, "x"))
    third = follower.collect({"r": KEY})
    assert third.entries[0][1] == 5 + utf16_len(" there 👋🏽!")
    assert third.entries[0][2] == "x"

    # The browser rebuilding the text from (offset, text) pairs gets the exact answer.
    browser = ""
    for update in (first, second, third):
        for _key, off, piece, *_ in update.entries:
            assert off == utf16_len(browser)
            browser += piece
    assert browser == hub.get("r").text  # type: ignore[union-attr]


async def test_status_changes_are_reported_once() -> None:
    hub = RunHub()
    hub.track("r", 0)
    follower = Follower(hub)

    queued = follower.collect({"r": KEY})
    assert set(queued.status_changed) == {"r"} and queued.status_changed["r"].status == "queued"
    assert queued.entries[0][6] == "queued"
    assert follower.collect({"r": KEY}).status_changed == {}

    await hub.apply(StartedEvent(run_id="r", attempt=0))
    running = follower.collect({"r": KEY})
    assert running.status_changed["r"].status == "running"
    assert running.entries == [[KEY, 0, "", 0, None, 0.0, "running"]]

    await hub.apply(chunk(0, "ok"))
    assert follower.collect({"r": KEY}).status_changed == {}

    await hub.apply(
        FinalEvent(
            run_id="r",
            attempt=0,
            status="done",
            output_text="ok",
            chunks=1,
            output_tokens=1,
            ttft_ms=5.0,
            total_ms=9.0,
        )
    )
    done = follower.collect({"r": KEY})
    assert done.status_changed["r"].is_final
    assert done.entries == [[KEY, 2, "", 1, 5.0, 9.0, "done"]]
    assert follower.collect({"r": KEY}).entries == []


async def test_token_count_change_alone_is_sent() -> None:
    hub = RunHub()
    hub.track("r", 0)
    follower = Follower(hub)
    await hub.apply(chunk(0, "abc"))
    follower.collect({"r": KEY})
    # the final usage says 7 tokens for the same text
    await hub.apply(
        FinalEvent(
            run_id="r", attempt=0, status="done", output_text="abc", chunks=1, output_tokens=7, total_ms=1.0
        )
    )
    update = follower.collect({"r": KEY})
    assert update.entries[0][2] == "" and update.entries[0][3] == 7


async def test_unknown_runs_and_stale_keys_are_reported() -> None:
    hub = RunHub()
    hub.track("r", 1)
    follower = Follower(hub)
    update = follower.collect({"nobody": "nobody:0", "r": "r:0"})  # r is on attempt 1 now
    assert update.unknown == {"nobody", "r"}
    assert update.entries == [] and update.status_changed == {}
    assert follower.collect({"r": "r:1"}).unknown == set()


async def test_retry_restarts_offsets_for_the_new_attempt() -> None:
    hub = RunHub()
    hub.track("r", 0)
    follower = Follower(hub)
    await hub.apply(chunk(0, "first try"))
    follower.collect({"r": "r:0"})
    hub.track("r", 1)
    await hub.apply(chunk(0, "second", attempt=1))
    update = follower.collect({"r": "r:1"})
    assert [e[:3] for e in update.entries] == [["r:1", 0, "second"]]


async def test_only_runs_asked_for_are_collected() -> None:
    hub = RunHub()
    for run_id in ("a", "b"):
        hub.track(run_id, 0)
        await hub.apply(chunk(0, run_id * 3, run_id=run_id))
    update = Follower(hub).collect({"b": "b:0"})
    assert [e[0] for e in update.entries] == ["b:0"]
    assert update.entries[0][2] == "bbb"


async def test_bytes_sent_over_a_whole_run_equal_the_answer() -> None:
    """Follow a real worker streaming a simulated answer, flushing after every few events."""
    settings = Settings(_env_file=None, openai_api_key="", anthropic_api_key="")
    broker = EmbeddedBroker()
    hub = RunHub()
    worker = Worker(broker, lambda model_id, credentials=None: get_provider(model_id, settings))
    worker_task = asyncio.create_task(worker.run())
    prompt = "[[simulate:tokens=120]] Explain streaming"
    expected = "".join(simulated_text("instant", ChatRequest(model="instant", prompt=prompt)))
    runs = {f"run-{i}": f"run-{i}:0" for i in range(3)}
    for run_id in runs:
        hub.track(run_id, 0)
        await broker.submit(
            RunTask(run_id=run_id, comparison_id="c", model="simulated:instant", prompt=prompt)
        )

    follower = Follower(hub)
    received: dict[str, str] = dict.fromkeys(runs, "")
    updates = 0
    try:

        async def pump() -> None:
            finals = 0
            events = 0
            async for event in broker.events():
                await hub.apply(event)
                events += 1
                if isinstance(event, FinalEvent):
                    finals += 1
                if events % 7 == 0 or finals == len(runs):
                    flush()
                if finals == len(runs):
                    return

        def flush() -> None:
            nonlocal updates
            for run_key, offset, text, *_ in follower.collect(runs).entries:
                run_id = run_key.rsplit(":", 1)[0]
                assert offset == utf16_len(received[run_id])
                received[run_id] += text
                updates += 1

        await asyncio.wait_for(pump(), 5.0)
    finally:
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task

    assert updates > len(runs)  # streamed in several pieces, not one blob
    for run_id in runs:
        live = hub.get(run_id)
        assert live is not None and live.status == "done"
        assert received[run_id] == expected == live.text
        # linear: every character was sent exactly once
        assert len(received[run_id]) == len(live.text)


async def test_restarted_run_is_sent_again_from_offset_zero() -> None:
    """A redelivered task restarts the run (Kafka, worker died mid-stream): the browser's
    pane must restart with it, not append the second stream to the first."""
    hub = RunHub()
    hub.track("r", 0)
    follower = Follower(hub)
    await hub.apply(StartedEvent(run_id="r", attempt=0))
    await hub.apply(chunk(0, "Hello"))
    await hub.apply(chunk(1, " wor"))
    assert [e[1:3] for e in follower.collect({"r": KEY}).entries] == [[0, "Hello wor"]]

    await hub.apply(StartedEvent(run_id="r", attempt=0))  # another worker starts over
    restarted = follower.collect({"r": KEY})
    assert [e[1:3] for e in restarted.entries] == [[0, ""]]
    await hub.apply(chunk(0, "Hello"))
    after = follower.collect({"r": KEY})
    assert [e[1:3] for e in after.entries] == [[0, "Hello"]]

    # The browser applies (offset, text) as in live_store.jsx: offset 0 replaces the text.
    browser = ""
    for update in (restarted, after):
        for _key, off, piece, *_ in update.entries:
            browser = browser[:off] + piece if off > 0 else piece
    assert browser == "Hello" == hub.get("r").text  # type: ignore[union-attr]


async def test_final_text_replacing_missed_chunks_is_sent_from_offset_zero() -> None:
    hub = RunHub()
    hub.track("r", 0)
    follower = Follower(hub)
    await hub.apply(chunk(0, "Hel"))
    follower.collect({"r": KEY})
    await hub.apply(chunk(2, "XX"))  # seq 1 was missed: dropped
    await hub.apply(
        FinalEvent(run_id="r", attempt=0, status="done", output_text="Hello world", chunks=3, output_tokens=3)
    )
    entries = follower.collect({"r": KEY}).entries
    assert [e[1:3] for e in entries] == [[0, "Hello world"]]
