"""The comparison page's live stream: the runs on screen, followed in the hub until all have
ended, each flush of their text sent to the browser as one small append batch.

Streaming is two steps, as in Reflex's chat template: `CompareState.run` validates, saves and
shows empty panes at once, then hands over to the background `CompareState.stream` event,
which runs `follow_runs`. It holds the state lock only to read which runs are on screen and to
write their final figures; every await on the hub, the database or the queue happens outside it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

import reflex as rx
from reflex.event import EventSpec

from backend import runtime
from backend.auth import AccessDenied, Principal
from backend.services.comparisons import NotFound
from backend.streaming.follower import Follower, short_key
from state.rows import ACTIVE_STATUSES, apply_live

if TYPE_CHECKING:
    from state.compare import CompareState

SLOW_FLUSH_INTERVAL_S = 0.1  # never fewer than 10 updates a second while text flows
MIN_CHARS_PER_FAST_FLUSH = 120
STATE_RECHECK_S = 0.5  # how often a stream re-reads which panes it follows (see `follow_runs`)


async def follow_runs(state: CompareState, user: Principal) -> AsyncGenerator[EventSpec, None]:
    """Follow the runs of `state`'s comparison until all have ended, flushing at a bounded rate.

    `state` is the background event's proxy: read and written only under `async with state`."""
    rt = runtime.current()
    async with state:
        state._generation += 1
        generation = state._generation
        comparison_id = state.comparison_id
    # Like every other event, the stream checks the session (@with_user) and the right to
    # read what it follows (only runs of a comparison this user may read now); the
    # database is asked after the state lock is released.
    try:
        readable = await rt.comparisons.get(user, comparison_id) if comparison_id else None
    except (AccessDenied, NotFound):
        readable = None
    if readable is None:
        return
    own_runs = {run.id for run in readable.runs}

    def on_screen(view: CompareState) -> tuple[dict[str, str], str]:
        """The runs to follow (run id -> run key) and the comparison they belong to."""
        following = {
            p.run_id: p.run_key for p in view.panes if p.status in ACTIVE_STATUSES and p.run_id in own_runs
        }
        return following, view.comparison_id

    follower = Follower(rt.hub, client_key=short_key)
    fast_interval = 1.0 / rt.settings.stream_flush_hz
    interval, version, last_flush = fast_interval, -1, 0.0
    following: dict[str, str] = {}
    checked_at = -STATE_RECHECK_S
    while True:
        version = await rt.hub.wait_for_change(version, timeout=1.0)
        delay = last_flush + interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        last_flush = time.monotonic()
        if last_flush - checked_at >= STATE_RECHECK_S:
            # Which panes are on screen changes only through events of this session (Run,
            # Stop, Retry: they also bump the generation) or through the status changes
            # handled below, so the state is read a few times a second, not on every
            # flush: with Redis state each read is a locked round trip of the whole state.
            async with state:
                if state._generation != generation:
                    return
                following, comparison_id = on_screen(state)
            checked_at = last_flush
        update = follower.collect(following)
        if update.entries:
            # Text first: a pane must never show "done" before its last words arrived.
            yield rx.call_script(
                f"window.__llmLive.apply({json.dumps(update.entries, separators=(',', ':'))})"
            )
        # Little text per flush means the fixed cost of a message dominates: flush at the
        # slowest rate that still looks live (10/s) until text flows faster again.
        sent_chars = sum(len(entry[2]) for entry in update.entries)
        interval = fast_interval if sent_chars >= MIN_CHARS_PER_FAST_FLUSH else SLOW_FLUSH_INTERVAL_S
        if update.status_changed or update.unknown:
            reloaded = await _saved_outcomes(comparison_id, update.unknown)
            async with state:
                if state._generation != generation:
                    return
                for pane in state.panes:
                    if pane.run_id in update.status_changed:
                        apply_live(pane, update.status_changed[pane.run_id])
                    elif pane.run_id in reloaded:
                        pane.status, pane.error, pane.text = reloaded[pane.run_id]
                following, comparison_id = on_screen(state)
            checked_at = time.monotonic()
        if not following:
            return


async def _saved_outcomes(comparison_id: str, run_ids: set[str]) -> dict[str, tuple[str, str, str]]:
    """Runs the hub no longer follows (e.g. after a restart): read how they ended."""
    if not run_ids or not comparison_id:
        return {}
    try:
        # The stream follows runs this session was allowed to start or open.
        record = await runtime.current().comparisons.get_unchecked(comparison_id)
    except NotFound:
        return {}
    return {r.id: (r.status, r.error, r.output_text) for r in record.runs if r.id in run_ids}
