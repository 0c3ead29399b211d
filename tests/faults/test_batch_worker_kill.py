"""A batch on Kafka survives kill -9 of one of two worker processes: no row lost, none run twice.

Kafka (the session's broker), two `python -m workers` processes and the web runtime (with the
batch dispatcher) in this process, on a fresh PostgreSQL database. A batch of 40 rows x 4
simulated models starts; once both workers stream its runs, the one with more in flight is
killed with SIGKILL. The survivor takes its partitions over and, once the dead worker's run
leases end, redoes the runs it cut off; the dispatcher goes on sending rows meanwhile.

Must end with: the batch done; every row sent once (one comparison per row, 4 runs each);
every run done at attempt 0 with the simulated model's exact text; one committed final save
per run (a database trigger counts them); the provider called once per run, plus once more
only for each run the kill cut off.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from backend.db.models import BatchRow
from backend.runtime import running
from tests.backend.runtime_support import owner, wait_for_workers
from tests.faults.support import (
    KafkaFaultSetup,
    install_final_audit,
    judge,
    record_result,
    trace_runs,
    trace_starts,
    warm_until_every_worker_streams,
)

pytestmark = pytest.mark.postgres

ROWS = 40
MODELS = ["simulated:ponder", "simulated:coder", "simulated:terse", "simulated:steady"]
# ~1-3 s a run: the kill lands while runs stream on both workers.
TEMPLATE = "[[simulate:tokens=40]] batch fault, row {{n}}"


async def test_kill_9_of_one_worker_mid_batch_loses_no_row_and_runs_none_twice(
    kafka_setup: KafkaFaultSetup,
) -> None:
    setup = kafka_setup
    traces = [setup.tmp_path / f"trace-{i}.jsonl" for i in range(2)]
    workers = [
        setup.worker(f"w{i}", LLMDASH_TRACE_TOKENS=str(traces[i]), WORKER_CONCURRENCY="64") for i in range(2)
    ]
    async with running(setup.settings()) as rt:
        install_final_audit(setup.database_url)
        try:
            await wait_for_workers(rt, 2)
            user = await owner(rt)
            warm_runs = await warm_until_every_worker_streams(rt, user, traces)

            csv = "n\n" + "".join(f"{i}\n" for i in range(ROWS))
            created = await rt.batches.create(user, {"prompt": TEMPLATE, "csv": csv, "models": MODELS})
            batch_id = created.batch.id

            deadline = time.monotonic() + 60
            while True:
                streaming = [len(trace_runs(t) - warm_runs[i]) for i, t in enumerate(traces)]
                if min(streaming) >= 8:
                    break
                assert time.monotonic() < deadline, f"batch runs did not start on both workers: {streaming}"
                await asyncio.sleep(0.05)
            victim_index = 0 if streaming[0] >= streaming[1] else 1
            workers[victim_index].kill()
            killed_at = time.monotonic()
            on_victim = trace_runs(traces[victim_index]) - warm_runs[victim_index]
            # The survivor cannot take the victim's runs over before their leases end (30 s): a
            # second after the kill, every final the victim got out is saved, and no other.
            await asyncio.sleep(1.0)
            await rt.pump.drain()
            finished_before_kill = {
                run.run_id
                for row in (await rt.batches.results(user, batch_id, 0, ROWS))[1]
                for cell in row.cells
                if (run := cell.cell) is not None and run.status in ("done", "error", "cancelled")
            }

            deadline = time.monotonic() + 180
            while (view := await rt.batches.get(user, batch_id)).batch.status == "running":
                assert time.monotonic() < deadline, f"batch not finished: {view.progress}"
                await asyncio.sleep(0.5)
            recovery_s = time.monotonic() - killed_at
            await rt.pump.drain()
            assert workers[1 - victim_index].process.poll() is None, "the surviving worker must still run"
        finally:
            for worker in workers:
                worker.kill()

        assert view.batch.status == "done", view
        assert (view.progress.done, view.progress.cells) == (ROWS * len(MODELS), ROWS * len(MODELS))
        async with rt.db.session() as session:
            rows = (
                await session.execute(
                    select(BatchRow.row_index, BatchRow.comparison_id).where(BatchRow.batch_id == batch_id)
                )
            ).all()
            sent = (
                await session.execute(
                    select(func.count()).select_from(BatchRow).where(BatchRow.comparison_id.is_not(None))
                )
            ).scalar_one()
        assert sorted(i for i, _ in rows) == list(range(ROWS)) and sent == ROWS
        comparison_ids = [str(cid) for _, cid in sorted(rows) if cid is not None]
        assert len(set(comparison_ids)) == ROWS, "each row has a comparison of its own"
        records = [await rt.comparisons.get_unchecked(cid) for cid in comparison_ids]
        outcome = judge(
            setup.database_url,
            [(rec, TEMPLATE.replace("{{n}}", str(i))) for i, rec in enumerate(records)],
            len(MODELS),
        )
        run_ids = {r.id for rec in records for r in rec.runs}
        starts = trace_starts(traces[0]) + trace_starts(traces[1])
        cut_off = (on_victim & run_ids) - finished_before_kill
        surplus = {r: starts[r] - 1 - (r in cut_off) for r in run_ids if starts[r] != 1 + (r in cut_off)}
        record_result(
            "batch_worker_kill",
            {
                **outcome.as_figures(),
                "rows": ROWS,
                "models": len(MODELS),
                "unfinished_on_killed_worker": len(cut_off),
                "provider_streams": sum(starts[r] for r in run_ids),
                "kill_to_batch_done_s": round(recovery_s, 1),
            },
        )
        assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
        assert cut_off, "the kill should cut off runs mid-stream"
        assert not surplus, f"unexpected provider calls: {surplus}"
