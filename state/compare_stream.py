"""The comparison page's live stream: the runs on screen, followed until all have ended, each
flush of their text sent to the browser as one small append batch.

Streaming is two steps, as in Reflex's chat template: `CompareState.run` validates, saves and
shows empty panes at once, then hands over to the background `CompareState.stream` event,
which runs `follow_runs`. The loop itself (pacing, the database fallback) is the backend's
(backend/streaming/follow.py, through the comparison service); this adapter holds the state
lock only to read which runs are on screen and to write their final figures.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING

from reflex.event import Event, EventSpec

from backend import runtime
from backend.auth import AccessDenied, Principal
from backend.services.comparisons import NotFound
from backend.streaming.follow import AccessLost, FollowBatch, page_pacing
from backend.streaming.follower import short_key
from components.live import apply_live_entries
from state.auth import AuthState, signed_in_user_for
from state.live_push import push
from state.rows import ACTIVE_STATUSES, apply_live, apply_saved
from state.session_guard import BoundSocket

if TYPE_CHECKING:
    from state.compare import CompareState


async def follow_runs(state: CompareState, user: Principal) -> AsyncGenerator[Event | EventSpec, None]:
    """Follow the runs of `state`'s comparison until all have ended, flushing at a bounded rate.

    `state` is the background event's proxy: read and written only under `async with state`."""
    rt = runtime.current()
    async with state:
        state._generation += 1
        generation = state._generation
        comparison_id = state.comparison_id
        socket = BoundSocket.of(state)  # pushes go to this connection only (state.session_guard)
        token = (await state.get_state(AuthState))._session_token
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

    def on_screen(view: CompareState) -> dict[str, str]:
        """The runs to follow: run id -> run key."""
        active = (p for p in view.panes if p.status in ACTIVE_STATUSES)
        return {p.run_id: p.run_key for p in active if p.run_id in own_runs}

    # What `_show_outcomes` read under its lock right after writing a batch's outcomes: the loop
    # re-reads the panes after every status change, and with Redis state each read is a locked
    # round trip of the whole state (bench/RESULTS.md, 2026-12-05 kafka22e).
    read_with_outcomes: list[dict[str, str]] = []

    async def reread() -> dict[str, str] | None:
        if not socket.holds_the_tab():
            return None
        if read_with_outcomes:
            return read_with_outcomes.pop()
        async with state:
            return on_screen(state) if state._generation == generation else None

    following = await reread()
    if following is None:
        return

    async def signed_in() -> bool:
        return await signed_in_user_for(token) is not None

    updates = rt.comparisons.follow(
        comparison_id,
        following,
        pacing=page_pacing(rt.settings.stream_flush_hz, rt.page_flushes),
        client_key=short_key,
        reread=reread,
        reader=user,
        signed_in=signed_in,
    )
    async with aclosing(updates):
        try:
            async for batch in updates:
                if not socket.holds_the_tab():  # the tab closed, or another socket took its token
                    return
                if batch.live:
                    # Text first: a pane must never show "done" before its last words arrived.
                    live = apply_live_entries(batch.live)
                    if not await push(socket, live):  # no socket of ours to send to: Reflex sends it
                        yield live
                if batch.changed or batch.saved:
                    shown = await _show_outcomes(state, generation, batch, on_screen)
                    if shown is None:
                        return
                    read_with_outcomes[:] = [shown]
        except AccessLost:  # signed out, or removed from the project: the tab's next event says so
            return


async def _show_outcomes(
    state: CompareState,
    generation: int,
    batch: FollowBatch,
    on_screen: Callable[[CompareState], dict[str, str]],
) -> dict[str, str] | None:
    """Write status changes and saved outcomes into the panes, and read the runs still on screen
    under the same lock (the loop's next re-read); None once the page moved on."""
    async with state:
        if state._generation != generation:
            return None
        for pane in state.panes:
            if pane.run_id in batch.changed:
                apply_live(pane, batch.changed[pane.run_id])
            elif pane.run_id in batch.saved:
                apply_saved(pane, batch.saved[pane.run_id])
        return on_screen(state)
