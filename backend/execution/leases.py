"""A worker's claims on runs: taken before the provider call, renewed while the run streams.

`RunLeases.acquire(task)` claims the task's run in the database (the compare-and-set
of backend/db/leases.py), for the worker (worker.py):

- claimed: a `HeldLease`, which renews the lease every third of its length while the
  run streams (`async with`), until the final event is published;
- the attempt already ended, a retry superseded it, or the run is gone: None, skip it;
- another live worker holds the lease: wait, polling, until its lease ends (that worker
  died: claim it and run) or the run turns final (skip it).  The delivery stays
  unacknowledged meanwhile, so a replayed or rebalanced request never calls the provider
  a second time, and a dead worker's runs are retried once their leases end.

A claim the database cannot answer is tried again (with backoff), never skipped: running
without a claim is what could call a paid provider twice.

A broker that hands each task to one worker once (the embedded, in-process queue) cannot
replay or rebalance it, so that worker's `RunLeases(exclusive=True)` claims beside the
provider call instead of before it: the first token does not wait for a database write
(bench.capacity's API time to first token). The claim goes out EXCLUSIVE_CLAIM_AFTER_S after
the call starts (or as the run ends, if sooner): made at once, its statements on SQLite's
thread held the GIL and its callbacks the event loop just as a fast server's first words came
back (bench.ttft side by side: 0.2-0.3 ms less before the provider's first chunk, 2026-12-05
session 17); a remote provider's first token is further off than that anyway. A stopping worker
sends the claims still waiting (`settle`) before its database closes. The claim is still made
and renewed, and an attempt whose claim is refused (stopped, retried or deleted meanwhile) is
cancelled and publishes nothing, as a lost lease is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from types import TracebackType

from backend.db.engine import Database
from backend.db.leases import Claim, ClaimOutcome, claim_runs, release_run_lease, renew_run_lease
from backend.queue.messages import RunTask

log = logging.getLogger(__name__)

POLL_MAX_S = 1.0  # how often, at most, a task waiting on another worker's lease asks again
CLAIM_RETRY_MAX_S = 5.0  # the longest pause between claims the database failed to answer
EXCLUSIVE_CLAIM_AFTER_S = 0.02  # an exclusive worker's claim, this long after its call starts


def new_worker_id(kind: str = "worker") -> str:
    """Unique per process start: names the worker in heartbeats and in the runs it claims."""
    return f"{socket.gethostname()}-{os.getpid()}-{kind}-{uuid.uuid4().hex[:6]}"


class ClaimGroups:
    """Claims made together: those asked for while the previous group's transaction is on its
    way join the next group, one transaction for all of them (a group commit). Alone, a claim
    goes at once. When fifty pages press Run in the same second, their two hundred runs' claims
    were two hundred transactions queued on SQLite's one thread, in front of the pages' own
    reads (bench/RESULTS.md, 2026-12-05 burst22i)."""

    def __init__(self, db: Database, lease_s: float) -> None:
        self._db = db
        self._lease_s = lease_s
        self._waiting: list[tuple[Claim, asyncio.Future[ClaimOutcome]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def claim(self, claim: Claim) -> ClaimOutcome:
        """`claim_run` for this claim, in the next group; raises what that group's transaction raised."""
        outcome = asyncio.get_running_loop().create_future()
        self._waiting.append((claim, outcome))
        if self._sender is None:  # its own task: a caller cancelled (a Stop) must not cancel the others'
            self._sender = asyncio.create_task(self._send(), name="run-claims")
        return await outcome

    async def _send(self) -> None:
        group: list[tuple[Claim, asyncio.Future[ClaimOutcome]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    outcomes = await claim_runs(self._db, [claim for claim, _ in group], self._lease_s)
                except Exception as exc:  # each caller retries its own claim (RunLeases._claim)
                    for _, waiting in group:
                        if not waiting.done():
                            waiting.set_exception(exc)
                    continue
                for (_, waiting), outcome in zip(group, outcomes, strict=True):
                    if not waiting.done():  # its caller gave up (a Stop): the claim is made all the same
                        waiting.set_result(outcome)
        finally:  # cancelled (the loop is closing): no caller waits for ever
            for _, waiting in (*group, *self._waiting):
                waiting.cancel()
            self._waiting = []
            self._sender = None


class RunLeases:
    def __init__(self, db: Database, worker_id: str, lease_s: float, *, exclusive: bool = False) -> None:
        self._db = db
        self.worker_id = worker_id
        self.lease_s = lease_s
        self.poll_s = min(POLL_MAX_S, lease_s / 10)
        self.exclusive = exclusive  # the broker delivers each task once, to this worker only
        self._claims = ClaimGroups(db, lease_s)
        # Exclusive claims not answered yet, and the events that send them at once (`settle`).
        self._deferred: dict[asyncio.Task[ClaimOutcome], asyncio.Event] = {}

    async def acquire(self, task: RunTask, *, twin: bool = False) -> HeldLease | None:
        """This worker's claim on the task's run (waiting while another worker holds it), or
        None when the run must not run here: its attempt ended, was superseded, or is gone.
        With `exclusive`, a lease whose claim is still on its way (see the module doc), unless
        the same attempt is already running here (`twin`: a duplicate delivery waits as on any
        broker)."""
        holder = f"{self.worker_id}/{uuid.uuid4().hex[:8]}"  # one per claim, even on one worker
        if self.exclusive and not twin:
            ended = asyncio.Event()
            claim = asyncio.create_task(self._claim_soon(task, holder, ended), name=f"claim:{task.run_id}")
            self._deferred[claim] = ended
            claim.add_done_callback(self._deferred.pop)
            return HeldLease(self._db, task, holder, self.lease_s, pending_claim=(claim, ended))
        outcome = await self._claim(task, holder, wait_while_held=True)
        if outcome is not ClaimOutcome.CLAIMED:
            return None
        return HeldLease(self._db, task, holder, self.lease_s)

    @property
    def deferred_claims(self) -> int:
        """Exclusive claims made beside their runs and not answered yet."""
        return len(self._deferred)

    async def settle(self, timeout_s: float) -> None:
        """Send every deferred claim now and wait (at most `timeout_s`, then cancel them) for their
        answers. A stopping worker calls it once its runs have ended: a run cut off while winding
        up (a Stop, then the shutdown) may have left its claim waiting, and it must not go to a
        database that its owner closes next."""
        for ended in self._deferred.values():
            ended.set()
        if self._deferred:
            _, late = await asyncio.wait(list(self._deferred), timeout=timeout_s)
            for claim in late:
                claim.cancel()

    async def _claim_soon(self, task: RunTask, holder: str, ended: asyncio.Event) -> ClaimOutcome:
        """`_claim`, EXCLUSIVE_CLAIM_AFTER_S from now or once `ended` is set, whichever is first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXCLUSIVE_CLAIM_AFTER_S):
                await ended.wait()
        return await self._claim(task, holder)

    async def _claim(self, task: RunTask, holder: str, *, wait_while_held: bool = False) -> ClaimOutcome:
        """Claim until the database answers; while another holder's lease is live, wait for it
        to end (`wait_while_held`) or report HELD."""
        failures = 0
        waiting = False
        while True:
            try:
                outcome = await self._claims.claim(Claim(task.run_id, task.attempt, holder))
            except Exception as exc:
                failures += 1
                delay = min(self.poll_s * 2**failures, CLAIM_RETRY_MAX_S)
                log.warning(
                    "could not claim run %s attempt %d (%r); trying again in %.1f s",
                    task.run_id,
                    task.attempt,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            if outcome is ClaimOutcome.CLAIMED:
                if waiting:
                    log.info("run %s attempt %d: the other worker's lease ended; running it", *_key(task))
                return outcome
            if outcome is not ClaimOutcome.HELD or not wait_while_held:
                log.info("run %s attempt %d: %s; skipping it", task.run_id, task.attempt, outcome.value)
                return outcome
            if not waiting:
                log.info("run %s attempt %d is leased by another worker; waiting", *_key(task))
                waiting = True
            await asyncio.sleep(self.poll_s)


class HeldLease:
    """A claim this worker holds.  Inside `async with`, the lease is renewed in the background;
    if a renewal finds the claim gone (the run turned final or was retried, or the lease lapsed
    and another worker took the run over), the task inside the block is cancelled and `lost`
    set: the caller then publishes nothing, since someone else owns this attempt now."""

    def __init__(
        self,
        db: Database,
        task: RunTask,
        holder: str,
        lease_s: float,
        pending_claim: tuple[asyncio.Task[ClaimOutcome], asyncio.Event] | None = None,
    ) -> None:
        self._db = db
        self._task = task
        self.holder = holder
        self._lease_s = lease_s
        # An exclusive worker's claim, made beside the run, and the event that sends it at once.
        self._pending_claim: asyncio.Task[ClaimOutcome] | None = None
        self._claim_now: asyncio.Event | None = None
        if pending_claim is not None:
            self._pending_claim, self._claim_now = pending_claim
        self.lost = False
        self._owner: asyncio.Task[object] | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HeldLease:
        self._owner = asyncio.current_task()
        self._renewer = asyncio.create_task(self._renew(), name=f"lease:{self._task.run_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        assert self._renewer is not None and self._owner is not None
        if self._claim_now is not None:  # a deferred claim goes now, even if this exit is cut short
            self._claim_now.set()
        self._renewer.cancel()
        # asyncio.wait, not `await`: a Stop landing right now must reach the caller, not be
        # taken for the renewer's own cancellation.
        await asyncio.wait([self._renewer])
        if self._pending_claim is not None and not self.lost:
            # A run that ended before its claim was answered: the answer still decides whether
            # this attempt was the run's to publish (a claim is never abandoned half-way).
            await asyncio.wait([self._pending_claim])
            if self._pending_claim.cancelled() or self._pending_claim.result() is not ClaimOutcome.CLAIMED:
                self.lost = True
        if not self.lost:
            return False
        # The cancellation was ours, not a Stop or a shutdown: take it back and end quietly.
        if self._owner.cancelling():
            self._owner.uncancel()
        return exc_type is asyncio.CancelledError

    async def _renew(self) -> None:
        if self._pending_claim is not None:
            outcome = await asyncio.shield(self._pending_claim)
            if outcome is not ClaimOutcome.CLAIMED:
                self._lose()
                return
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                kept = await renew_run_lease(
                    self._db, self._task.run_id, self._task.attempt, self.holder, self._lease_s
                )
            except Exception as exc:  # the database is away: the lease may still hold; try again
                log.warning("could not renew the lease of run %s: %r", self._task.run_id, exc)
                continue
            if not kept:
                log.warning(
                    "run %s attempt %d: the claim is gone (run ended, retried or taken over); stopping it",
                    *_key(self._task),
                )
                self._lose()
                return

    def _lose(self) -> None:
        self.lost = True
        assert self._owner is not None
        self._owner.cancel()

    async def release(self) -> None:
        """Give the run up at once (it ended here without a final event), so another worker need
        not wait for the lease to end.  Best effort: if this fails, the lease expires."""
        try:
            await release_run_lease(self._db, self._task.run_id, self._task.attempt, self.holder)
        except Exception as exc:
            log.warning("could not release run %s (its lease will expire): %r", self._task.run_id, exc)


def _key(task: RunTask) -> tuple[str, int]:
    return task.run_id, task.attempt
