"""Queue messages survive the trip through bytes and decode to the right type."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from backend.queue.messages import (
    CancelRequest,
    ChunkBatch,
    ChunkEvent,
    FinalEvent,
    RunTask,
    StartedEvent,
    chunk_batch_bytes,
    decode_event,
    decode_record,
)


def _task() -> RunTask:
    return RunTask(
        run_id="r1",
        comparison_id="c1",
        attempt=2,
        model="simulated:swift",
        prompt="Explain 🐍 and ünïcödé\nacross lines",
        system_prompt="Be brief.",
        temperature=0.3,
        max_tokens=64,
        seed=7,
    )


def test_run_task_round_trips_through_bytes() -> None:
    task = _task()
    data = task.to_bytes()
    assert isinstance(data, bytes)
    back = RunTask.from_bytes(data)
    assert back == task
    assert back.prompt == "Explain 🐍 and ünïcödé\nacross lines"
    assert back.seed == 7 and back.attempt == 2


def test_run_task_defaults_survive_round_trip() -> None:
    task = RunTask(run_id="r", comparison_id="c", model="simulated:instant", prompt="hi")
    back = RunTask.from_bytes(task.to_bytes())
    assert (back.attempt, back.temperature, back.max_tokens, back.seed, back.system_prompt) == (
        0,
        0.7,
        1024,
        None,
        "",
    )


def test_cancel_request_round_trips() -> None:
    cancel = CancelRequest(run_id="r9", attempt=3)
    assert CancelRequest.from_bytes(cancel.to_bytes()) == cancel
    assert json.loads(cancel.to_bytes()) == {"run_id": "r9", "attempt": 3}


@pytest.mark.parametrize(
    "event",
    [
        StartedEvent(run_id="r", attempt=1),
        ChunkEvent(run_id="r", attempt=1, seq=4, text="héllo 👋", elapsed_ms=12.5, output_tokens=5),
        FinalEvent(
            run_id="r",
            attempt=1,
            status="error",
            output_text="partial 👋",
            chunks=2,
            error="boom",
            error_kind="unavailable",
            finish_reason="",
            input_tokens=3,
            output_tokens=2,
            ttft_ms=None,
            total_ms=99.0,
        ),
    ],
    ids=["started", "chunk", "final"],
)
def test_decode_event_picks_the_right_type(event: StartedEvent | ChunkEvent | FinalEvent) -> None:
    decoded = decode_event(event.to_bytes())
    assert type(decoded) is type(event)
    assert decoded == event


def test_kind_tag_is_on_the_wire() -> None:
    chunk = ChunkEvent(run_id="r", attempt=0, seq=0, text="x", elapsed_ms=1, output_tokens=1)
    final = FinalEvent(run_id="r", attempt=0, status="done", output_text="", chunks=0)
    assert json.loads(chunk.to_bytes())["kind"] == "chunk"
    assert json.loads(StartedEvent(run_id="r", attempt=0).to_bytes())["kind"] == "started"
    assert json.loads(final.to_bytes())["kind"] == "final"


def test_decode_rejects_unknown_kind() -> None:
    with pytest.raises(ValidationError):
        decode_event(b'{"kind": "bogus", "run_id": "r", "attempt": 0}')


def test_decode_rejects_missing_fields() -> None:
    with pytest.raises(ValidationError):
        decode_event(b'{"kind": "chunk", "run_id": "r", "attempt": 0}')


def test_decode_rejects_unknown_final_status() -> None:
    raw = FinalEvent(run_id="r", attempt=0, status="done", output_text="", chunks=0).model_dump()
    raw["status"] = "exploded"
    with pytest.raises(ValidationError):
        decode_event(json.dumps(raw).encode())


def test_messages_forbid_extra_fields_and_are_frozen() -> None:
    with pytest.raises(ValidationError):
        RunTask.from_bytes(b'{"run_id":"r","comparison_id":"c","model":"m:x","prompt":"p","extra":1}')
    task = _task()
    with pytest.raises(ValidationError):
        task.prompt = "changed"  # type: ignore[misc]


def test_cache_fields_default_so_older_messages_still_parse() -> None:
    old_final = b'{"kind":"final","run_id":"r","attempt":0,"status":"done","output_text":"hi","chunks":1}'
    final = decode_event(old_final)
    assert isinstance(final, FinalEvent)
    assert (final.cache_hit, final.original_ttft_ms, final.original_total_ms) == (False, None, None)
    old_task = b'{"run_id":"r","comparison_id":"c","model":"simulated:swift","prompt":"p"}'
    assert RunTask.from_bytes(old_task).use_cache is False
    replay = FinalEvent(
        run_id="r",
        attempt=0,
        status="done",
        output_text="hi",
        chunks=1,
        cache_hit=True,
        original_ttft_ms=120.5,
        original_total_ms=900.0,
    )
    assert decode_event(replay.to_bytes()) == replay


def test_a_chunk_batch_built_from_the_chunks_json_decodes_to_the_chunks_in_order() -> None:
    chunks = [
        ChunkEvent(
            run_id=f"r{i % 3}", attempt=0, seq=i // 3, text=f' "w{i}"\n', elapsed_ms=i, output_tokens=i
        )
        for i in range(9)
    ]
    assert decode_record(chunk_batch_bytes([c.to_bytes() for c in chunks])) == tuple(chunks)
    assert ChunkBatch.model_validate_json(chunk_batch_bytes([c.to_bytes() for c in chunks])).chunks == tuple(
        chunks
    )


def test_a_record_of_one_event_decodes_to_that_event() -> None:
    final = FinalEvent(run_id="r", attempt=1, status="done", output_text="x", chunks=1)
    assert decode_record(final.to_bytes()) == (final,)
    with pytest.raises(ValidationError):
        decode_record(b'{"kind":"chunks","chunks":[{"kind":"final","run_id":"r","attempt":0}]}')
