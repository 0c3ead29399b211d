"""Server-sent events for one comparison: every run's text as it streams.

The follow loop is the page's (backend/streaming/follow.py) with SSE pacing:
unlike the browser session (which coalesces to a bounded rate), an SSE client
gets each change within 10 ms: scripts care about latency and there is no DOM
to re-render. The reader's token and access are checked again every few
seconds, and an `error` event ends the stream once either is gone.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import aclosing

from backend.auth.permissions import Principal
from backend.db.records import ComparisonRecord
from backend.services.comparisons import ComparisonService
from backend.streaming.follow import AccessCheck, AccessLost, FlushShare, sse_pacing
from backend.streaming.follower import LiveEntry
from backend.streaming.hub import FINAL_STATUSES, RunHub

ACCESS_LOST = "Your access to this comparison ended (signed out, token revoked or removed from its project)."


_string = json.encoder.encode_basestring_ascii  # json.dumps's own escaping of a str (ensure_ascii)


def _sse(event: str, data: object) -> bytes:
    return _sse_json(event, json.dumps(data, default=str))


def _sse_json(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


def _number(value: object) -> str:
    """A JSON number as `json.dumps` writes it (`repr` for finite ints and floats)."""
    if value is None:
        return "null"
    if (type(value) is float and math.isfinite(value)) or type(value) is int:
        return repr(value)
    return json.dumps(value, default=str)


def _delta(entry: LiveEntry) -> bytes:
    """The `delta` event, byte for byte what `_sse("delta", {...})` of its fields writes, without
    building the dict and an encoder per event: one is written per run per flush of every stream."""
    return (
        f'event: delta\ndata: {{"run_id": {_string(entry.run_id)}, "attempt": {_number(entry.attempt)},'
        f' "text": {_string(entry.text)}, "output_tokens": {_number(entry.tokens)},'
        f' "ttft_ms": {_number(entry.ttft_ms)}, "elapsed_ms": {_number(entry.elapsed_ms)},'
        f' "status": {_string(entry.status)}}}\n\n'
    ).encode()


async def _saved(hub: RunHub, run_ids: list[str], timeout_s: float = 5.0) -> None:
    """Wait (bounded) until the pump has stored the final result of each run.

    The pump saves in the background, so a run can be final in the hub a moment
    before it is in the database; `done` reads the database and must not miss it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        lives = [hub.get(run_id) for run_id in run_ids]
        if all(live is None or not live.is_final or live.saved for live in lives):
            return
        await asyncio.sleep(0.01)


async def comparison_events(
    service: ComparisonService,
    hub: RunHub,
    comparison_id: str,
    principal: Principal,
    keepalive_s: float = 15.0,
    signed_in: AccessCheck | None = None,
    created: ComparisonRecord | None = None,
    flushes: FlushShare | None = None,
    known: ComparisonRecord | None = None,
) -> AsyncIterator[bytes]:
    """The stream of one comparison for `principal`, whose access (and, with `signed_in`, whose
    token) is checked again every few seconds: once either is gone, an `error` event ends it.

    `created`: the comparison this request just made (create-and-stream): its runs are known
    without reading them back, and the stream opens with a `comparison` event carrying what the
    plain POST would have answered (the ids a script needs to vote, cancel or fetch later).
    `flushes`: the process's budget of writes, shared by its streams (`sse_pacing`). `known`: the
    comparison as the route just read it to check the reader's access (its runs' ids, attempts and
    statuses are all the stream needs from it): not read a second time."""
    from backend.api.schemas import ComparisonOut  # local: keeps this module free of the schema layer

    if created is not None:
        yield _sse_json("comparison", ComparisonOut.of(created).model_dump_json())
    record = created or known or await service.get_unchecked(comparison_id)
    pending = {r.id: f"{r.id}:{r.attempt}" for r in record.runs if r.status not in FINAL_STATUSES}
    updates = service.follow(
        comparison_id, pending, pacing=sse_pacing(keepalive_s, flushes), reader=principal, signed_in=signed_in
    )
    try:
        async with aclosing(updates):
            async for batch in updates:
                # A batch's events go out as one body chunk: one write through the middlewares
                # and the server, however many runs had news (SSE allows several events a write).
                events = [_delta(entry) for entry in batch.live]
                if batch.keepalive:
                    events.insert(0, b": keep-alive\n\n")
                if events:
                    yield b"".join(events)
    except AccessLost:
        yield _sse("error", {"detail": ACCESS_LOST})
        return
    await _saved(hub, list(pending))
    final = await service.blind.record(principal, await service.get_unchecked(comparison_id))
    yield _sse_json("done", ComparisonOut.of(final).model_dump_json())
