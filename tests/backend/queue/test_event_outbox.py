"""The worker's event outbox: natural batching, order, and who waits for what."""

from __future__ import annotations

import asyncio
import json

import pytest

from backend.queue import event_outbox
from backend.queue.event_outbox import EventOutbox
from backend.queue.messages import ChunkEvent, FinalEvent, StartedEvent, decode_events


def chunk(seq: int, text: str = "tok ", run: str = "r1") -> ChunkEvent:
    return ChunkEvent(run_id=run, attempt=0, seq=seq, text=text, elapsed_ms=float(seq), output_tokens=seq + 1)


def final(run: str = "r1") -> FinalEvent:
    return FinalEvent(run_id=run, attempt=0, status="done", output_text="x", chunks=1)


class SlowBroker:
    """Records each message; every send takes `delay_s`, like a broker round trip."""

    def __init__(self, delay_s: float = 0.02, fail: bool = False) -> None:
        self.messages: list[bytes] = []
        self.delay_s = delay_s
        self.fail = fail

    async def send(self, message: bytes) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("broker down")
        self.messages.append(message)


async def test_events_gathered_during_a_send_go_out_together_in_order() -> None:
    broker = SlowBroker()
    outbox = EventOutbox(broker.send)
    sender = asyncio.create_task(outbox.run())
    try:
        await outbox.publish(StartedEvent(run_id="r1", attempt=0))  # waits for the broker: alone
        for seq in range(200):  # chunks return at once
            await outbox.publish(chunk(seq))
        await outbox.publish(final())  # returns once the broker has it
        events = [e for m in broker.messages for e in decode_events(m)]
        assert [e.kind for e in events] == ["started"] + ["chunk"] * 200 + ["final"]
        assert [e.seq for e in events if isinstance(e, ChunkEvent)] == list(range(200))
        # 202 events in a handful of messages: the first chunk went alone, the rest waited for it.
        assert len(broker.messages) <= 4, len(broker.messages)
        assert outbox.events_sent == 202 and outbox.messages_sent == len(broker.messages)
    finally:
        sender.cancel()


async def test_a_lone_event_is_not_held_back() -> None:
    broker = SlowBroker(delay_s=0.0)
    outbox = EventOutbox(broker.send)
    sender = asyncio.create_task(outbox.run())
    try:
        await outbox.publish(chunk(0))
        assert await outbox.drain(1.0)
        assert len(broker.messages) == 1 and decode_events(broker.messages[0]) == [chunk(0)]
    finally:
        sender.cancel()


async def test_a_failed_send_reaches_the_final_events_publisher_not_the_chunks() -> None:
    broker = SlowBroker(fail=True)
    outbox = EventOutbox(broker.send)
    sender = asyncio.create_task(outbox.run())
    try:
        await outbox.publish(chunk(0))  # no error here: the final event carries the text
        with pytest.raises(ConnectionError):
            await outbox.publish(final())
        assert sender.done() is False  # the sender keeps serving
    finally:
        sender.cancel()


async def test_messages_stay_under_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_outbox, "MAX_MESSAGE_BYTES", 2_000)
    broker = SlowBroker()
    outbox = EventOutbox(broker.send)
    sender = asyncio.create_task(outbox.run())
    try:
        await outbox.publish(chunk(0))
        for seq in range(1, 100):
            await outbox.publish(chunk(seq, text="x" * 50))
        assert await outbox.drain(5.0)
        assert all(len(m) <= 2_000 for m in broker.messages)
        seqs = [e.seq for m in broker.messages for e in decode_events(m) if isinstance(e, ChunkEvent)]
        assert seqs == list(range(100))
    finally:
        sender.cancel()


def test_single_events_from_older_workers_still_decode() -> None:
    event = chunk(3, text='quote " and \\ and ü')
    assert decode_events(event.to_bytes()) == [event]
    assert json.loads(b"[" + event.to_bytes() + b"]")[0]["text"] == event.text
