"""Following a comparison's runs: the one loop behind the comparison page and the SSE route.

`follow_runs` waits for the hub to change, paces its flushes, collects what each followed run
has new (`Follower`), asks the database how the runs the hub does not know ended (after a
restart, or a run of another replica whose first event is still on the way), and yields one
typed `FollowBatch` per turn. It stops once no followed run is left: a run leaves when it ends,
and a caller that passes `reread` may change the set (the page re-reads which panes are on
screen) or stop it (by answering None).

The two callers differ only in their `Pacing`. Both flush on the leading edge (the first change
after a quiet spell goes out at once) and then at most once per interval. A browser session's
interval is the longer of its own floor (1 / STREAM_FLUSH_HZ) and its share of the process's
flush budget (`FlushShare`): every message costs a state round trip and a DOM update, so one
session alone gets the fastest updates and fifty share what the process can send. An SSE client
coalesces only briefly (scripts care about latency, there is no DOM) and gets a keep-alive when
nothing happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

from backend.db.records import ComparisonRecord, RunRecord
from backend.observability import FOLLOWING_SESSIONS
from backend.queue.messages import FinalEvent
from backend.streaming.follower import Follower, LiveEntry
from backend.streaming.hub import LiveRun, RunHub

SSE_COALESCE_S = 0.01  # an SSE stream wakes at most 100 times a second, however many runs stream
STATE_RECHECK_S = 0.5  # how often the page re-reads which panes it follows
UNKNOWN_RECHECK_S = 1.0  # how often an SSE stream asks the database about runs the hub lacks
ACCESS_RECHECK_S = 3.0  # how often a stream asks whether its reader may still read what it follows

RunsSource = Callable[[], Awaitable[dict[str, str] | None]]
"""Which runs to follow now (run id -> "<run id>:<attempt>"), or None to stop following."""

AccessCheck = Callable[[], Awaitable[bool]]
"""Whether the reader may still read the comparison (signed in, still a member)."""


class AccessLost(Exception):
    """The reader's session ended or their access to the comparison went while it streamed."""


class SavedComparisons(Protocol):
    """Where runs the hub no longer (or not yet) follows are read from: the comparison service,
    which raises a LookupError (its NotFound) for a comparison that is gone."""

    async def get_unchecked(self, comparison_id: str) -> ComparisonRecord: ...


class RunChange(Protocol):
    """A run whose status changed, as a batch reports it (the hub's LiveRun)."""

    @property
    def status(self) -> str: ...

    @property
    def final(self) -> FinalEvent | None: ...


class FlushShare:
    """The flushes a second one process spends on the browser sessions following runs, shared
    out evenly: with `followers` sessions streaming, each flushes at most every
    `followers / per_second` seconds.  Latency is the cost of a low rate and CPU (a state
    update, a WebSocket message, a DOM update) the cost of a high one: bench.capacity showed a
    session alone waiting up to 100 ms for a batch at 10 updates a second, and fifty sessions
    at 20 a second each crowding the process."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.followers = 0

    def interval(self, floor_s: float) -> float:
        return max(floor_s, self.followers / self.per_second)

    @contextmanager
    def following(self) -> Iterator[None]:
        self.followers += 1
        try:
            yield
        finally:
            self.followers -= 1


@dataclass(frozen=True, slots=True)
class Pacing:
    interval_s: float = 0.0  # least time between two flushes
    share: FlushShare | None = None  # a process-wide budget that may lengthen the interval
    idle_wait_s: float = 1.0  # how long to wait for the hub to change before an idle turn
    unknown_recheck_s: float = 0.0  # least time between database reads about unknown runs
    reread_s: float = STATE_RECHECK_S  # how often `reread` is asked (when given)
    # Whether a flush without text (a run queued or started, a keep-alive) leaves the interval
    # alone: the first words a moment after a run started then go out at once, not an
    # interval after the "running" flush.
    text_paced: bool = False
    kind: str = "page"  # who follows: "page" (a browser session) or "api" (an SSE client), for metrics

    def current_interval(self) -> float:
        return self.interval_s if self.share is None else self.share.interval(self.interval_s)


def page_pacing(flush_hz: float, share: FlushShare) -> Pacing:
    """A browser session: at most `flush_hz` flushes a second, fewer once the process's budget
    (`share`) is spread over many sessions."""
    return Pacing(interval_s=1.0 / flush_hz, share=share)


def sse_pacing(keepalive_s: float, share: FlushShare | None = None) -> Pacing:
    """An SSE client: each change within `SSE_COALESCE_S` (one wake-up per flush, not one per
    chunk of every run the process streams), less often once the process's budget of writes
    (`share`) is spread over many streams, and a keep-alive comment when nothing happens.  A
    write costs the same whatever it carries (about 25 us of the event loop's CPU in Granian's
    send alone, bench.sse): 500 streams at 100 writes a second would need more than the loop."""
    return Pacing(
        interval_s=SSE_COALESCE_S,
        share=share,
        kind="api",
        idle_wait_s=keepalive_s,
        unknown_recheck_s=UNKNOWN_RECHECK_S,
        text_paced=True,  # a run's status changes are few; its chunks are what the interval coalesces
    )


@dataclass(slots=True)
class FollowBatch:
    live: list[LiveEntry] = field(default_factory=list)
    """New text and live figures, one entry per run with news (send these first: a pane must
    never show "done" before its last words arrived)."""
    changed: dict[str, LiveRun] = field(default_factory=dict)
    """Runs whose status changed, by run id (`LiveRun.final` holds the outcome once ended)."""
    saved: dict[str, RunRecord] = field(default_factory=dict)
    """Runs the hub does not know, as the database has them (whatever their status)."""
    keepalive: bool = False
    """Nothing happened for `Pacing.idle_wait_s`."""

    @property
    def ended(self) -> set[str]:
        return {rid for rid, live in self.changed.items() if live.is_final} | {
            rid for rid, run in self.saved.items() if run.is_final
        }


async def follow_runs(
    hub: RunHub,
    saved: SavedComparisons,
    comparison_id: str,
    following: dict[str, str],
    *,
    pacing: Pacing,
    client_key: Callable[[str], str] = str,
    reread: RunsSource | None = None,
    allowed: AccessCheck | None = None,
) -> AsyncGenerator[FollowBatch, None]:
    """Follow `following` (run id -> run key) until every run has ended (see the module doc).

    `allowed` is asked every ACCESS_RECHECK_S: once it answers False, AccessLost is raised and
    nothing more is sent (a member removed from the project, a session signed out)."""
    share = pacing.share.following() if pacing.share is not None else nullcontext()
    counted = FOLLOWING_SESSIONS.labels(pacing.kind).track_inprogress()
    with share, counted:
        batches = _follow(hub, saved, comparison_id, dict(following), pacing, client_key, reread, allowed)
        async with aclosing(batches):
            async for batch in batches:
                yield batch


async def _follow(
    hub: RunHub,
    saved: SavedComparisons,
    comparison_id: str,
    following: dict[str, str],
    pacing: Pacing,
    client_key: Callable[[str], str],
    reread: RunsSource | None,
    allowed: AccessCheck | None,
) -> AsyncGenerator[FollowBatch, None]:
    follower = Follower(hub, client_key=client_key)
    version, last_flush = -1, 0.0
    reread_at = checked_at = time.monotonic()
    next_db_check = 0.0
    unknown_before = False
    while following:
        wait = pacing.idle_wait_s
        if unknown_before and pacing.unknown_recheck_s > 0:
            wait = min(wait, pacing.unknown_recheck_s)
        # Woken by a change of the runs followed here, not by every run the process streams.
        new_version = await hub.wait_for_change(version, timeout=wait, runs=following)
        idle = new_version == version and not unknown_before
        delay = last_flush + pacing.current_interval() - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        paced_from, last_flush = last_flush, time.monotonic()
        if allowed is not None and last_flush - checked_at >= ACCESS_RECHECK_S:
            if not await allowed():
                raise AccessLost(comparison_id)
            checked_at = time.monotonic()
        if reread is not None and last_flush - reread_at >= pacing.reread_s:
            # The page's set changes through its own events (Run, Stop, Retry) or through
            # the status changes yielded here, so it is read a few times a second, not on
            # every flush: with Redis state each read is a locked round trip of the state.
            fresh = await reread()
            if fresh is None:
                return
            following, reread_at = fresh, last_flush
        # Everything up to this stamp is collected now (no await between the two).
        version = hub.stamp(following)
        update = follower.collect(following)
        batch = FollowBatch(live=update.live, changed=update.status_changed, keepalive=idle)
        if update.unknown and time.monotonic() >= next_db_check:
            next_db_check = time.monotonic() + pacing.unknown_recheck_s
            batch.saved = await _saved_runs(saved, comparison_id, update.unknown)
        unknown_before = bool(update.unknown)
        if pacing.text_paced and not any(entry.text for entry in batch.live):
            last_flush = paced_from
        yield batch
        for run_id in batch.ended:
            following.pop(run_id, None)
        if reread is not None and (batch.changed or batch.saved):
            fresh = await reread()
            if fresh is None:
                return
            if fresh.keys() != following.keys():
                version = -1  # runs not collected yet: a turn at once
            following, reread_at = fresh, time.monotonic()


async def _saved_runs(saved: SavedComparisons, comparison_id: str, run_ids: set[str]) -> dict[str, RunRecord]:
    """Runs the hub no longer (or not yet) follows: what the database says of them."""
    try:
        record = await saved.get_unchecked(comparison_id)
    except LookupError:
        return {}
    return {run.id: run for run in record.runs if run.id in run_ids}
