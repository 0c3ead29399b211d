"""The batch dispatcher: sends each batch's rows through the queue, paced by the rate limits.

A background task of the web runtime. Each pass, for every running batch: rows are sent while
fewer than CELLS_IN_FLIGHT of its runs are queued or running (so a cancel has little to stop
and other people's comparisons are not stuck behind a thousand batch runs). Before a row is
sent, its most possible cost is checked against the owner's monthly budget (over it: the batch
stops, saying why) and its requests and tokens are reserved from the owner's rate limits
(refused: the batch waits for the limit's window to end, saying so). A sent row is one
comparison whose runs go to the queue as any comparison's do; the workers' run leases make a
redelivered or resubmitted task call its provider once.

The state lives in the database (which rows are sent, which runs are final), so a restarted
process, or another backend process, carries on where this one stopped; a row is never sent
twice (backend/db/batches.py's send_row).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from backend import tracing
from backend.auth.permissions import Principal
from backend.batching.variables import render
from backend.cancellation import raise_if_cancelled
from backend.catalog import estimate_tokens
from backend.db import batches as repo
from backend.db.engine import Database
from backend.db.records import RunRecord
from backend.i18n import N_
from backend.limits import RateLimiter, RateLimitExceeded
from backend.queue.base import RemoteWorkers, RunQueue
from backend.queue.messages import CancelRequest, RunTask
from backend.services.budgets import BudgetExceeded, BudgetGuard
from backend.services.validation import ComparisonInput, PaneInput

log = logging.getLogger(__name__)

CELLS_IN_FLIGHT = 64  # a batch's runs queued or running at once, at most (at least one row)
POLL_S = 0.5  # how often running batches are looked at when nothing wakes the dispatcher
IDLE_POLL_S = 5.0  # with none running (a batch created here wakes it; another process's sends its own)


class BatchDispatcher:
    def __init__(
        self,
        db: Database,
        broker: RunQueue,
        limiter: RateLimiter,
        budget: BudgetGuard,
        *,
        cells_in_flight: int = CELLS_IN_FLIGHT,
        poll_s: float = POLL_S,
    ) -> None:
        self._db = db
        self._broker = broker
        self._limiter = limiter
        self._budget = budget
        self._cells_in_flight = cells_in_flight
        self._poll_s = poll_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled."""
        if isinstance(self._broker, RemoteWorkers):
            await self._resubmit_queued()
        while True:
            busy = True
            try:
                busy = await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away, say: the next pass tries again
                raise_if_cancelled()  # unless it was a cancellation turned into an error
                log.exception("batch dispatch pass failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s if busy else IDLE_POLL_S)

    async def dispatch_once(self) -> bool:
        """One pass over the running batches; whether there were any."""
        async with self._db.session() as session:
            batches = await repo.running_batches(session)
        for batch in batches:
            await self._advance(batch)
        return bool(batches)

    async def _advance(self, batch: repo.BatchRecord) -> None:
        now = datetime.now(UTC)
        if batch.not_before is not None and batch.not_before > now:
            return
        async with self._db.session() as session:
            counts, unsent = await repo.cell_counts(session, batch.id)
        active = counts.get("queued", 0) + counts.get("running", 0)
        if unsent == 0:
            if active == 0:
                async with self._db.session() as session:
                    await repo.set_status(session, batch.id, "done", note="")
            return
        width = len(batch.models)
        room = (self._cells_in_flight - active) // width
        if room <= 0 and active > 0:
            return
        async with self._db.session() as session:
            rows = await repo.unsent_rows(session, batch.id, max(room, 1))
        sent: list[RunRecord] = []
        for row in rows:
            prompt = render(batch.prompt, row.variables)
            system_prompt = render(batch.system_prompt, row.variables)
            try:
                await self._admit(batch, prompt, system_prompt)
            except BudgetExceeded as exc:
                async with self._db.session() as session:
                    await repo.set_status(session, batch.id, "stopped", note=exc.message)
                break
            except RateLimitExceeded as exc:
                wait_until = datetime.now(UTC) + timedelta(seconds=exc.retry_after_s)
                async with self._db.session() as session:
                    await repo.set_wait(session, batch.id, exc.message, wait_until)
                break
            result = await repo.send_row(
                self._db, batch=batch, row=row, prompt=prompt, system_prompt=system_prompt
            )
            if result is None:  # sent by another process meanwhile, or the batch was stopped
                continue
            comparison_id, runs = result
            # A row is where its comparison's trace starts (kept at the ratio, as a request's):
            # its runs' spans in the workers follow it.
            attributes = {"llmdash.batch_id": batch.id, "llmdash.comparison_id": comparison_id}
            with tracing.span("batch.row", attributes=attributes):
                for run in runs:
                    await self._submit(batch, comparison_id, run, prompt, system_prompt)
            sent += runs
        else:
            if batch.note and sent:
                async with self._db.session() as session:
                    await repo.set_wait(session, batch.id, "", None)
        if sent:
            await self._stop_if_cancelled_meanwhile(batch.id, sent)

    async def _admit(self, batch: repo.BatchRecord, prompt: str, system_prompt: str) -> None:
        """The row's budget check and rate-limit reservation, as a comparison's (before any call)."""
        max_tokens = int(batch.params.get("max_tokens", 0))
        data = ComparisonInput.model_construct(
            prompt=prompt,
            system_prompt=system_prompt,
            panes=[PaneInput.model_construct(model=m, max_tokens=max_tokens) for m in batch.models],
        )
        owner = Principal(user_id=batch.user_id, email="", display_name="")
        await self._budget.check_many(owner, [data], N_("This batch's next row"))
        tokens = (estimate_tokens(system_prompt + "\n" + prompt) + max_tokens) * len(batch.models)
        await self._limiter.reserve(batch.user_id, requests=len(batch.models), tokens=tokens)

    async def _submit(
        self, batch: repo.BatchRecord, comparison_id: str, run: RunRecord, prompt: str, system_prompt: str
    ) -> None:
        await self._broker.submit(
            RunTask(
                run_id=run.id,
                comparison_id=comparison_id,
                attempt=run.attempt,
                model=run.model,
                prompt=prompt,
                system_prompt=system_prompt,
                temperature=run.params.temperature,
                max_tokens=run.params.max_tokens,
                seed=run.params.seed,
                user_id=batch.user_id,  # the worker uses the batch owner's provider keys
            )
        )

    async def _stop_if_cancelled_meanwhile(self, batch_id: str, runs: list[RunRecord]) -> None:
        """A cancel that listed the batch's runs just before these were saved missed them."""
        async with self._db.session() as session:
            batch = await repo.get_batch(session, batch_id)
        if batch is not None and batch.status != "running":
            for run in runs:
                await self._broker.request_cancel(CancelRequest(run_id=run.id, attempt=run.attempt))

    async def _resubmit_queued(self) -> None:
        """On a queue whose requests outlive this process, a row saved just before the process
        died may never have reached it: submit the running batches' queued runs again. A task
        already queued runs once anyway (its run lease), a final one is skipped."""
        async with self._db.session() as session:
            batches = await repo.running_batches(session)
        for batch in batches:
            async with self._db.session() as session:
                queued = await repo.queued_run_tasks(session, batch.id)
            for run, prompt, system_prompt in queued:
                await self._submit(batch, run.comparison_id, run, prompt, system_prompt)
            if queued:
                log.info("batch %s: %d queued runs submitted again after a restart", batch.id, len(queued))
