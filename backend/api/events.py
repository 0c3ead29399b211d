"""Server-sent events for one comparison: every run's text as it streams.

Unlike the browser session (which coalesces to a bounded rate), an SSE client
gets each change as soon as the hub has it: scripts care about latency and
there is no DOM to re-render.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from backend.auth.permissions import Principal
from backend.services.comparisons import ComparisonService
from backend.streaming.follower import Follower
from backend.streaming.hub import FINAL_STATUSES, RunHub

UNKNOWN_RECHECK_S = 1.0


def _sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


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
) -> AsyncIterator[bytes]:
    record = await service.get_unchecked(comparison_id)
    pending = {r.id: f"{r.id}:{r.attempt}" for r in record.runs if r.status not in FINAL_STATUSES}
    followed = list(pending)
    follower = Follower(hub)
    version, next_db_check = -1, 0.0
    while pending:
        update = follower.collect(pending)
        for entry in update.entries:
            run_id, attempt = entry[0].rsplit(":", 1)
            live = hub.get(run_id)
            yield _sse(
                "delta",
                {
                    "run_id": run_id,
                    "attempt": int(attempt),
                    "text": entry[2],
                    "output_tokens": entry[3],
                    "ttft_ms": live.ttft_ms if live else None,
                    "elapsed_ms": live.elapsed_ms if live else None,
                    "status": live.status if live else None,
                },
            )
        finished = {rid for rid, live in update.status_changed.items() if live.is_final}
        if update.unknown and time.monotonic() >= next_db_check:
            # Not in this replica's hub yet (its first event is still on the way) or no longer
            # (ended long ago): the database says which.
            next_db_check = time.monotonic() + UNKNOWN_RECHECK_S
            saved = await service.get_unchecked(comparison_id)
            finished |= {r.id for r in saved.runs if r.id in update.unknown and r.status in FINAL_STATUSES}
        for run_id in finished:
            pending.pop(run_id, None)
        if not pending:
            break
        wait = keepalive_s if not update.unknown else min(keepalive_s, UNKNOWN_RECHECK_S)
        new_version = await hub.wait_for_change(version, timeout=wait)
        if new_version == version and not update.unknown:
            yield b": keep-alive\n\n"
        version = new_version
    await _saved(hub, followed)
    final = await service.blind.record(principal, await service.get_unchecked(comparison_id))
    from backend.api.schemas import ComparisonOut  # local: keeps this module free of the schema layer

    yield _sse("done", ComparisonOut.of(final).model_dump(mode="json"))
