"""A batch on Kafka survives a restart of the web process that dispatches it: the restarted
dispatcher submits the running batch's queued runs again (BatchDispatcher._resubmit_queued), so
no row is lost, and none runs twice.

Kafka (the session's broker), the web runtime in this process, on a fresh PostgreSQL database.

1. With no worker yet, the first runtime's dispatcher sends as many rows as it lets be in flight:
   their runs are saved queued and their tasks wait in Kafka. The runtime stops.
2. The crash window: more rows are saved (comparison and queued runs, as the dispatcher's
   ``send_row`` saves them) whose tasks never reach Kafka, as when the process dies between the
   save and the submit.
3. A second runtime starts (the restart) with one `python -m workers` process. Its dispatcher
   submits every queued run again (those already in Kafka are now there twice), then sends the
   remaining rows.

Must end with: the batch done; every row sent once (one comparison per row); every run done at
attempt 0 with the simulated model's exact text; one committed final save per run; the provider
called once per run (the duplicate tasks find the run taken or final).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from backend.batching.variables import render
from backend.db import batches as batches_repo
from backend.db.engine import Database
from backend.db.models import BatchRow
from backend.runtime import running
from backend.services.batch_dispatch import CELLS_IN_FLIGHT
from tests.backend.runtime_support import owner, wait_for_workers
from tests.faults.support import (
    KafkaFaultSetup,
    install_final_audit,
    judge,
    trace_starts,
)

pytestmark = pytest.mark.postgres

ROWS = 40
MODELS = ["simulated:instant", "simulated:terse"]
IN_FLIGHT_ROWS = CELLS_IN_FLIGHT // len(MODELS)  # what the first dispatcher sends with no worker
UNSUBMITTED_ROWS = 3  # saved in the crash window: their tasks never reached Kafka
TEMPLATE = "[[simulate:tokens=8]] restart, row {{n}}"


async def _sent_rows(db: Database, batch_id: str) -> int:
    async with db.session() as session:
        stmt = (
            select(func.count())
            .select_from(BatchRow)
            .where(BatchRow.batch_id == batch_id, BatchRow.comparison_id.is_not(None))
        )
        return int((await session.execute(stmt)).scalar_one())


async def test_a_restarted_dispatcher_resubmits_queued_rows_none_lost_none_twice(
    kafka_setup: KafkaFaultSetup,
) -> None:
    setup = kafka_setup
    trace = setup.tmp_path / "trace.jsonl"

    # 1. The first web process: rows sent, no worker to take them.
    async with running(setup.settings()) as first:
        install_final_audit(setup.database_url)
        user = await owner(first)
        csv = "n\n" + "".join(f"{i}\n" for i in range(ROWS))
        created = await first.batches.create(user, {"prompt": TEMPLATE, "csv": csv, "models": MODELS})
        batch_id = created.batch.id
        deadline = time.monotonic() + 30
        while await _sent_rows(first.db, batch_id) < IN_FLIGHT_ROWS:
            assert time.monotonic() < deadline, "the dispatcher did not send the rows it may"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a pass more: it sends no further while they are in flight
        assert await _sent_rows(first.db, batch_id) == IN_FLIGHT_ROWS

    # 2. The crash window: saved, never submitted.
    db = Database(setup.database_url)  # no runtime: nothing dispatches meanwhile
    try:
        async with db.session() as session:
            batch = await batches_repo.get_batch(session, batch_id)
            pending = await batches_repo.unsent_rows(session, batch_id, UNSUBMITTED_ROWS)
        assert batch is not None and batch.status == "running"
        for row in pending:
            prompt = render(batch.prompt, row.variables)
            assert await batches_repo.send_row(db, batch=batch, row=row, prompt=prompt, system_prompt="")
        assert await _sent_rows(db, batch_id) == IN_FLIGHT_ROWS + UNSUBMITTED_ROWS
    finally:
        await db.dispose()

    # 3. The restart, now with a worker.
    worker = setup.worker("w0", LLMDASH_TRACE_TOKENS=str(trace), WORKER_CONCURRENCY="32")
    try:
        async with running(setup.settings()) as rt:
            await wait_for_workers(rt, 1)
            deadline = time.monotonic() + 120
            while (view := await rt.batches.get(user, batch_id)).batch.status == "running":
                assert time.monotonic() < deadline, f"batch not finished: {view.progress}"
                await asyncio.sleep(0.3)
            await rt.pump.drain()
            async with rt.db.session() as session:
                rows = (
                    await session.execute(
                        select(BatchRow.row_index, BatchRow.comparison_id).where(
                            BatchRow.batch_id == batch_id
                        )
                    )
                ).all()
            comparison_ids = [str(cid) for _, cid in sorted(rows) if cid is not None]
            records = [await rt.comparisons.get_unchecked(cid) for cid in comparison_ids]
            await asyncio.sleep(1.0)  # the duplicate tasks are handled meanwhile (and do nothing)
    finally:
        worker.kill()

    assert view.batch.status == "done", view
    assert (view.progress.done, view.progress.cells) == (ROWS * len(MODELS), ROWS * len(MODELS))
    assert sorted(i for i, _ in rows) == list(range(ROWS)) and len(set(comparison_ids)) == ROWS
    outcome = judge(
        setup.database_url,
        [(rec, TEMPLATE.replace("{{n}}", str(i))) for i, rec in enumerate(records)],
        len(MODELS),
    )
    assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
    starts = trace_starts(trace)
    run_ids = {r.id for rec in records for r in rec.runs}
    assert {r: n for r, n in starts.items() if r in run_ids and n != 1} == {}, "a run called its model twice"
    assert run_ids <= set(starts), "every run called its model"
