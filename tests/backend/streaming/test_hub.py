"""The hub folds worker events into one live view per run."""

from __future__ import annotations

import asyncio
import time

import pytest

from backend.queue.messages import ChunkEvent, FinalEvent, StartedEvent
from backend.streaming import hub as hub_module
from backend.streaming.follower import Follower
from backend.streaming.hub import RunHub


def chunk(
    seq: int, text: str, run_id: str = "r", attempt: int = 0, elapsed: float | None = None
) -> ChunkEvent:
    return ChunkEvent(
        run_id=run_id,
        attempt=attempt,
        seq=seq,
        text=text,
        elapsed_ms=elapsed if elapsed is not None else 10.0 * (seq + 1),
        output_tokens=seq + 1,
    )


def final(text: str, status: str = "done", run_id: str = "r", attempt: int = 0, **kw: object) -> FinalEvent:
    values: dict[str, object] = {"chunks": 0, "output_tokens": 0, "ttft_ms": 5.0, "total_ms": 100.0}
    values.update(kw)
    return FinalEvent(run_id=run_id, attempt=attempt, status=status, output_text=text, **values)


async def test_chunks_accumulate_in_order() -> None:
    hub = RunHub()
    live = hub.track("r", 0)
    assert live.status == "queued" and live.text == ""
    assert await hub.apply(StartedEvent(run_id="r", attempt=0)) is live
    assert live.status == "running" and live.started_at is not None
    for seq, text in enumerate(["Hello", ", ", "wörld 🌍"]):
        assert await hub.apply(chunk(seq, text)) is live
    assert live.text == "Hello, wörld 🌍"
    assert live.length == len("Hello, wörld 🌍")
    assert live.next_seq == 3
    assert live.output_tokens == 3
    assert live.ttft_ms == 10.0  # the first chunk's elapsed time
    assert live.elapsed_ms == 30.0
    assert not live.is_final


async def test_duplicate_and_out_of_order_chunks_are_dropped() -> None:
    hub = RunHub()
    live = hub.track("r", 0)
    await hub.apply(chunk(0, "A"))
    assert await hub.apply(chunk(0, "A")) is None  # duplicate (redelivery)
    assert await hub.apply(chunk(2, "C")) is None  # gap: arrived before seq 1
    await hub.apply(chunk(1, "B"))
    assert await hub.apply(chunk(1, "B")) is None
    await hub.apply(chunk(2, "C"))
    assert live.text == "ABC"
    assert live.next_seq == 3


async def test_first_chunk_without_started_event_marks_running() -> None:
    hub = RunHub()
    live = hub.track("r", 0)
    await hub.apply(chunk(0, "x", elapsed=250.0))
    assert live.status == "running"
    assert live.started_at is not None
    assert live.ttft_ms == 250.0


async def test_stale_attempt_is_ignored() -> None:
    hub = RunHub()
    hub.track("r", 0)
    await hub.apply(chunk(0, "old"))
    live = hub.track("r", 1)  # retried
    assert await hub.apply(chunk(1, " more", attempt=0)) is None
    assert await hub.apply(final("old more", status="cancelled", attempt=0)) is None
    assert live.status == "queued" and live.text == ""
    await hub.apply(chunk(0, "new", attempt=1))
    assert hub.get("r") is live
    assert live.text == "new" and live.attempt == 1


async def test_newer_attempt_from_elsewhere_replaces_the_run() -> None:
    hub = RunHub()
    hub.track("r", 0)
    await hub.apply(chunk(0, "old"))
    live = await hub.apply(chunk(0, "fresh", attempt=2))
    assert live is not None and live.attempt == 2
    assert hub.get("r") is live
    assert live.text == "fresh"


async def test_a_run_submitted_elsewhere_is_followed_from_its_first_event() -> None:
    hub = RunHub()  # another replica submitted it: this hub never tracked it
    live = await hub.apply(chunk(0, "x", run_id="elsewhere"))
    assert live is not None and hub.get("elsewhere") is live
    assert (live.text, live.status, live.gapped) == ("x", "running", False)


async def test_a_run_joined_mid_stream_shows_no_text_until_its_final_event() -> None:
    hub = RunHub()
    live = await hub.apply(chunk(3, "middle", run_id="late"))
    assert live is not None and live.gapped and live.text == ""
    follower = Follower(hub)
    assert follower.collect({"late": "late:0"}).entries == []  # nothing true to show yet
    await hub.apply(final("the whole answer", run_id="late", output_tokens=4, chunks=4))
    assert not live.gapped and live.text == "the whole answer"
    assert follower.collect({"late": "late:0"}).entries[0][2] == "the whole answer"


async def test_ended_runs_are_forgotten_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = RunHub()
    hub.track("r", 0)
    await hub.apply(final("done"))
    assert hub.get("r") is not None
    later = time.monotonic() + hub_module.ENDED_RUN_TTL_S + 1
    monkeypatch.setattr(hub_module.time, "monotonic", lambda: later)
    await hub.apply(chunk(0, "x", run_id="other"))
    assert hub.get("r") is None and hub.get("other") is not None


async def test_final_event_text_is_authoritative() -> None:
    hub = RunHub()
    live = hub.track("r", 0)
    await hub.apply(chunk(0, "Hel"))
    # seq 1 ("lo") was lost; seq 2 is dropped as out of order
    assert await hub.apply(chunk(2, " there")) is None
    assert live.text == "Hel"
    done = await hub.apply(final("Hello there", output_tokens=3, ttft_ms=12.5, total_ms=80.0, chunks=3))
    assert done is live
    assert live.status == "done" and live.is_final
    assert live.text == "Hello there"
    assert live.length == len("Hello there")
    assert live.output_tokens == 3
    assert live.ttft_ms == 12.5
    assert live.elapsed_ms == 80.0
    assert live.final is not None and live.final.output_text == "Hello there"


async def test_events_after_final_are_ignored() -> None:
    hub = RunHub()
    live = hub.track("r", 0)
    await hub.apply(final("done text"))
    assert await hub.apply(chunk(0, "late")) is None
    assert await hub.apply(final("other", status="error")) is None
    assert await hub.apply(StartedEvent(run_id="r", attempt=0)) is None
    assert live.text == "done text" and live.status == "done"


async def test_restarted_attempt_begins_from_scratch() -> None:
    hub = RunHub()
    hub.track("r", 0)
    await hub.apply(chunk(0, "partial"))
    live = await hub.apply(StartedEvent(run_id="r", attempt=0))  # redelivered task
    assert live is not None
    assert live.text == "" and live.next_seq == 0 and live.status == "running"
    await hub.apply(chunk(0, "again"))
    assert live.text == "again"


async def test_text_after_offset() -> None:
    hub = RunHub()
    live = hub.track("r", 0)
    for seq, text in enumerate(["ab", "cd", "ef"]):
        await hub.apply(chunk(seq, text))
    assert live.text_after(0) == "abcdef"
    assert live.text_after(4) == "ef"
    assert live.text_after(6) == ""
    assert live.text_after(99) == ""


async def test_mark_cancelled_only_touches_unfinished_runs() -> None:
    hub = RunHub()
    running = hub.track("a", 0)
    finished = hub.track("b", 0)
    await hub.apply(final("x", run_id="b"))
    await hub.mark_cancelled("a")
    await hub.mark_cancelled("b")
    await hub.mark_cancelled("nobody")
    assert running.status == "cancelled"
    assert finished.status == "done"


async def test_wait_for_change_wakes_on_apply_and_times_out_otherwise() -> None:
    hub = RunHub()
    hub.track("r", 0)
    seen = hub.version
    assert await hub.wait_for_change(seen, timeout=0.05) == seen  # nothing happened

    waiter = asyncio.ensure_future(hub.wait_for_change(seen, timeout=5.0))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await hub.apply(chunk(0, "x"))
    assert await asyncio.wait_for(waiter, 1.0) == seen + 1
    # an already-moved version returns at once
    assert await asyncio.wait_for(hub.wait_for_change(seen, timeout=5.0), 0.5) == seen + 1


async def test_one_change_wakes_every_waiter_and_a_waiter_that_times_out_leaves_the_others_waiting() -> None:
    hub = RunHub()
    hub.track("r", 0)
    seen = hub.version
    patient = [asyncio.ensure_future(hub.wait_for_change(seen, timeout=5.0)) for _ in range(3)]
    # A follower whose wait ends first must not end (cancel) the wait the others share.
    assert await hub.wait_for_change(seen, timeout=0.01) == seen
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in patient)
    await hub.apply(chunk(0, "a"))
    assert await asyncio.wait_for(asyncio.gather(*patient), 0.5) == [seen + 1] * 3


async def test_a_follower_of_some_runs_sleeps_through_the_other_runs_changes() -> None:
    hub = RunHub()
    for run_id in ("a", "b", "c"):
        hub.track(run_id, 0)
    seen = hub.stamp(["a", "b"])
    waiter = asyncio.ensure_future(hub.wait_for_change(seen, timeout=5.0, runs=["a", "b"]))
    for seq in range(5):  # another stream's run: no wake-up here
        await hub.apply(chunk(seq, "c", run_id="c"))
        await asyncio.sleep(0)
    assert not waiter.done() and hub.stamp(["a", "b"]) == seen
    await hub.apply(chunk(0, "b", run_id="b"))  # one of its own
    assert await asyncio.wait_for(waiter, 0.5) == hub.stamp(["a", "b"]) == hub.version
    # a stamp that already moved answers at once; one that did not waits for the timeout
    assert await asyncio.wait_for(hub.wait_for_change(seen, timeout=5.0, runs=["a", "b"]), 0.5) != seen
    now = hub.stamp(["a"])
    assert await hub.wait_for_change(now, timeout=0.01, runs=["a"]) == now


async def test_the_last_follower_of_a_run_to_leave_drops_its_wait() -> None:
    hub = RunHub()
    hub.track("a", 0)
    seen = hub.stamp(["a"])
    patient = asyncio.ensure_future(hub.wait_for_change(seen, timeout=5.0, runs=["a"]))
    # a follower whose wait ends first leaves the other one waiting on the same run
    assert await hub.wait_for_change(seen, timeout=0.01, runs=["a"]) == seen
    await asyncio.sleep(0)
    assert not patient.done() and "a" in hub._waiting
    await hub.apply(chunk(0, "x", run_id="a"))
    assert await asyncio.wait_for(patient, 0.5) > seen
    assert await hub.wait_for_change(0, timeout=0.01, runs=["never seen"]) == 0
    assert hub._waiting == {}  # nothing kept for runs no one waits for


async def test_dropped_events_do_not_bump_the_version() -> None:
    hub = RunHub()
    hub.track("r", 0)
    await hub.apply(chunk(0, "x"))
    version = hub.version
    await hub.apply(chunk(0, "x"))
    await hub.apply(chunk(5, "y"))
    assert hub.version == version


async def test_forget() -> None:
    hub = RunHub()
    hub.track("r", 0)
    hub.forget("r")
    hub.forget("r")
    assert hub.get("r") is None


def test_text_after_matches_slicing_at_every_offset_without_joining_everything() -> None:
    live = hub_module.LiveRun(run_id="r", attempt=0)
    for piece in ["Hel", "lo", "", " wor", "ld 😀", "!"]:
        live.parts.append(piece)
        live.length += len(piece)
    whole = "".join(live.parts)
    for offset in range(len(whole) + 2):
        assert live.text_after(offset) == whole[offset:]
    assert len(live.parts) == 6  # reading a tail did not collapse the chunks
