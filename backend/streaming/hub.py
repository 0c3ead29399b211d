"""Live view of every run this backend is following.

The event pump feeds events in; browser sessions and SSE clients read from it.
Text is kept as a list of chunks so a follower that has seen `n` characters can
be handed only what came after (`text_after`), which is what keeps the bytes
sent per pane linear in the answer's length.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field

from backend.queue.messages import ChunkEvent, FinalEvent, StartedEvent

FINAL_STATUSES = frozenset({"done", "error", "cancelled"})
ENDED_RUN_TTL_S = 120.0


@dataclass(slots=True)
class LiveRun:
    run_id: str
    attempt: int
    status: str = "queued"
    parts: list[str] = field(default_factory=list)
    length: int = 0
    next_seq: int = 0
    output_tokens: int = 0
    ttft_ms: float | None = None
    elapsed_ms: float = 0.0
    started_at: float | None = None  # wall clock, for the browser's live timer
    final: FinalEvent | None = None
    saved: bool = False
    gapped: bool = False  # first seen mid-stream (another replica's run): text unknown until final
    resets: int = 0  # bumped when the text restarts (redelivered task) or is replaced by the final event
    seen_at: float = 0.0  # monotonic time of its latest event (0: none yet)

    @property
    def text(self) -> str:
        if len(self.parts) > 1:  # join once, keep the joined copy
            self.parts[:] = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""

    def text_after(self, offset: int) -> str:
        """The text from `offset` on, touching only the chunks after it: followers call this on
        every flush, and joining the whole answer each time would cost O(n^2) per run."""
        if offset >= self.length:
            return ""
        tail: list[str] = []
        start = self.length
        for part in reversed(self.parts):
            start -= len(part)
            tail.append(part)
            if start <= offset:
                break
        tail.reverse()
        return "".join(tail)[offset - start :]

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class RunHub:
    """Every chunk of every run bumps `version` (20,000 a second with 200 runs streaming), and
    each follower asks for the next change of the runs it follows once per flush.  So a change
    costs one counter bump and, only when followers of that run wait, their futures' results; a
    follower that is behind returns at once.  A follower waits on its own runs, not on the
    hub: woken by every run's chunks, N streams of N runs made up to N x N wake-ups, most with
    nothing to send (bench.sse, issue 22).  (An asyncio.Condition took its lock on both sides and
    woke its waiters one lock hand-over at a time, and `wait_for` made a task per wait:
    bench.capacity, session 13.)"""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}
        self._waiter: asyncio.Future[None] | None = None  # shared by the followers of every run
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}  # by run id: its followers waiting now
        self._stamps: dict[str, int] = {}  # by run id: the version of the run's latest change
        self.version = 0
        self._ended: deque[tuple[float, str]] = deque()  # (when, run id) of final runs, oldest first

    def track(self, run_id: str, attempt: int) -> LiveRun:
        """Start following a run (a new one, or a new attempt of a retried one)."""
        live = LiveRun(run_id=run_id, attempt=attempt)
        self._runs[run_id] = live
        return live

    def get(self, run_id: str) -> LiveRun | None:
        return self._runs.get(run_id)

    def forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._stamps.pop(run_id, None)

    def stamp(self, run_ids: Collection[str]) -> int:
        """The version of the latest change of any of `run_ids` (0: none known): it moves on
        whenever one of them changes, and only then (or when one is forgotten)."""
        stamps = self._stamps
        if len(run_ids) == 1:  # an API stream of one run: asked twice a flush
            return stamps.get(next(iter(run_ids)), 0)
        return max([stamps.get(run_id, 0) for run_id in run_ids], default=0)

    def _forget_ended(self, now: float) -> None:
        """Ended runs stay a while for late followers, then live only in the database."""
        while self._ended and now - self._ended[0][0] > ENDED_RUN_TTL_S:
            _, run_id = self._ended.popleft()
            live = self._runs.get(run_id)
            if live is not None and live.is_final:
                del self._runs[run_id]
                self._stamps.pop(run_id, None)

    async def apply(self, event: StartedEvent | ChunkEvent | FinalEvent) -> LiveRun | None:
        """Fold one event in (`fold`)."""
        return self.fold(event)

    def fold(self, event: StartedEvent | ChunkEvent | FinalEvent) -> LiveRun | None:
        """Fold one event in; stale attempts and duplicate chunks are ignored. Never suspends
        (the event pump calls it for every chunk, without a coroutine each).

        Runs submitted through another replica are followed from their first event
        here, so a browser on any replica can watch any run.
        """
        now = time.monotonic()
        self._forget_ended(now)
        live = self._runs.get(event.run_id)
        if live is None:
            live = self.track(event.run_id, event.attempt)
            live.gapped = isinstance(event, ChunkEvent) and event.seq > 0
        elif event.attempt < live.attempt:
            return None
        if event.attempt > live.attempt:  # another backend started a newer attempt
            live = self.track(event.run_id, event.attempt)
        live.seen_at = now
        if live.is_final:
            return None
        if isinstance(event, StartedEvent):
            if live.next_seq > 0:  # redelivered task restarting from scratch
                resets = live.resets + 1
                live = self.track(event.run_id, event.attempt)
                live.resets = resets
            live.status = "running"
            live.started_at = time.time()
        elif isinstance(event, ChunkEvent):
            if live.gapped:  # the start of the text went by before we listened: wait for the final
                live.output_tokens, live.elapsed_ms = event.output_tokens, event.elapsed_ms
                live.status = "running"
                return live
            if event.seq != live.next_seq:
                return None
            live.parts.append(event.text)
            live.length += len(event.text)
            live.next_seq += 1
            live.output_tokens = event.output_tokens
            live.elapsed_ms = event.elapsed_ms
            if live.ttft_ms is None:
                live.ttft_ms = event.elapsed_ms
            if live.status == "queued":
                live.status = "running"
                live.started_at = time.time() - event.elapsed_ms / 1000.0
        else:
            live.final = event
            live.status = event.status
            if live.gapped or event.output_text != live.text:  # the final event is authoritative
                live.parts[:] = [event.output_text]
                live.length = len(event.output_text)
                live.resets += 1
                live.gapped = False
            self._ended.append((now, event.run_id))
            live.output_tokens = event.output_tokens
            live.elapsed_ms = event.total_ms
            live.ttft_ms = event.ttft_ms
        self._notify(live.run_id)
        return live

    async def mark_cancelled(self, run_id: str) -> None:
        live = self._runs.get(run_id)
        if live is not None and not live.is_final:
            live.status = "cancelled"
            self._notify(run_id)

    def _notify(self, run_id: str) -> None:
        self.version += 1
        self._stamps[run_id] = self.version
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        for follower in self._waiting.pop(run_id, ()):
            if not follower.done():
                follower.set_result(None)

    async def wait_for_change(
        self, seen_version: int, timeout: float, runs: Collection[str] | None = None
    ) -> int:
        """Return the hub version once it moves past `seen_version` (or on timeout).

        With `runs`: wait only for a change of one of them; `seen_version` and the answer are
        then their `stamp`."""
        if runs:
            return await self._wait_for_runs(seen_version, timeout, runs)
        if self.version != seen_version:
            return self.version
        loop = asyncio.get_running_loop()
        if self._waiter is None or self._waiter.get_loop() is not loop:
            self._waiter = loop.create_future()
        # asyncio.wait, not wait_for: a timed-out follower must not cancel the shared future.
        await asyncio.wait((self._waiter,), timeout=timeout)
        return self.version

    async def _wait_for_runs(self, seen_stamp: int, timeout: float, runs: Collection[str]) -> int:
        stamp = self.stamp(runs)
        if stamp != seen_stamp:
            return stamp
        # One future of its own, listed under each of its runs, and one timer: asyncio.wait's
        # checks, sets and callbacks cost more than the rest of a flush (bench.sse, py-spy).
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        for run_id in runs:
            self._waiting.setdefault(run_id, []).append(woken)
        timer = loop.call_later(timeout, _wake, woken)
        try:
            await woken
        finally:
            timer.cancel()
            for run_id in runs:  # still listed: timed out, cancelled, or woken by another of its runs
                followers = self._waiting.get(run_id)
                if followers is not None and woken in followers:
                    followers.remove(woken)
                    if not followers:
                        del self._waiting[run_id]
        return self.stamp(runs)


def _wake(follower: asyncio.Future[None]) -> None:
    if not follower.done():
        follower.set_result(None)
