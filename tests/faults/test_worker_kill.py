"""Fault 12: kill -9 one of two worker processes while 100 runs stream at once.

Kafka (the session's broker), two `python -m workers` processes and the web
runtime in this process, all on a fresh PostgreSQL database.  100 runs (25
comparisons x 4 panes) are submitted together; once both workers stream, the one
with more runs in flight is killed with SIGKILL (no goodbye to the group, no final
events).  After the session timeout the survivor takes its partitions over and
redoes the runs whose requests were not committed.

Must end with: every run done, at attempt 0, its saved output exactly the simulated
model's deterministic text; one row per pane; one committed final save per run
(counted by a trigger in the database, not by the app).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from backend.runtime import running
from tests.backend.runtime_support import owner, wait_for_workers
from tests.faults.support import (
    KafkaFaultSetup,
    install_final_audit,
    judge,
    record_result,
    trace_runs,
    trace_starts,
    wait_all_final,
    warm_until_every_worker_streams,
)

pytestmark = pytest.mark.postgres

COMPARISONS = 25
PANES = 4
# ~3 s per run (ponder: 0.9 s to the first token, then 25 tokens/s): long enough that
# the kill lands while most runs stream, slow enough that 100 at once fit on 2 cores.
PROMPT = "[[simulate:tokens=50]] fault 12, comparison {i}"
MODEL = "simulated:ponder"


async def test_kill_9_of_one_worker_during_100_concurrent_runs(kafka_setup: KafkaFaultSetup) -> None:
    setup = kafka_setup
    traces = [setup.tmp_path / f"trace-{i}.jsonl" for i in range(2)]
    workers = [
        setup.worker(f"w{i}", LLMDASH_TRACE_TOKENS=str(traces[i]), WORKER_CONCURRENCY="100") for i in range(2)
    ]
    async with running(setup.settings()) as rt:
        install_final_audit(setup.database_url)
        try:
            await wait_for_workers(rt, 2)
            user = await owner(rt)
            warm_runs = await warm_until_every_worker_streams(rt, user, traces)

            started = time.monotonic()
            records = await asyncio.gather(
                *(
                    rt.comparisons.create(
                        user, {"prompt": PROMPT.format(i=i), "panes": [{"model": MODEL}] * PANES}
                    )
                    for i in range(COMPARISONS)
                )
            )
            submit_s = time.monotonic() - started
            run_ids = {r.id for rec in records for r in rec.runs}
            assert len(run_ids) == COMPARISONS * PANES

            # Kill when a good share of the runs is streaming on each side.
            deadline = time.monotonic() + 30
            while True:
                streaming = [len((trace_runs(t) - warm_runs[i]) & run_ids) for i, t in enumerate(traces)]
                if min(streaming) >= 10 and sum(streaming) >= 40:
                    break
                assert time.monotonic() < deadline, f"runs did not start streaming: {streaming}"
                await asyncio.sleep(0.05)
            victim_index = 0 if streaming[0] >= streaming[1] else 1
            victim = workers[victim_index]
            victim.kill()
            killed_at = time.monotonic()
            on_victim = (trace_runs(traces[victim_index]) - warm_runs[victim_index]) & run_ids
            finished_before_kill = {
                run.id
                for rec in records
                for run in (await rt.comparisons.get_unchecked(rec.id)).runs
                if run.is_final
            }
            # The text the page showed of each run when its worker died.  The victim writes its
            # token trace before it publishes a chunk, so a run it had just started may have shown
            # nothing: there is no text to restart.  The survivor cannot take a run over before its
            # lease ends (RUN_LEASE_SECONDS, 30 s), so a second after the kill every chunk the victim
            # got out has reached the hub, and none of the survivor's.
            await asyncio.sleep(1.0)
            shown_at_kill = {r for r in run_ids if (live := rt.hub.get(r)) is not None and live.length > 0}

            saved = await wait_all_final(rt, [rec.id for rec in records], timeout=120)
            recovery_s = time.monotonic() - killed_at
            await rt.pump.drain()
            survivor = workers[1 - victim_index]
            assert survivor.process.poll() is None, "the surviving worker must still run"
        finally:
            for worker in workers:
                worker.kill()

        outcome = judge(setup.database_url, [(rec, PROMPT.format(i=i)) for i, rec in enumerate(saved)], PANES)
        starts = trace_starts(traces[0]) + trace_starts(traces[1])
        redone = {
            run_id for run_id in run_ids if (live := rt.hub.get(run_id)) is not None and live.resets > 0
        }
        cut_off = on_victim - finished_before_kill
        surplus = {r: starts[r] - 1 - (r in cut_off) for r in run_ids if starts[r] != 1 + (r in cut_off)}
        figures = {
            **outcome.as_figures(),
            "workers": 2,
            "killed_worker_streaming": len(on_victim),
            "unfinished_on_killed_worker": len(cut_off),
            "restarted_by_survivor": len(redone),
            "cut_off_with_text_on_screen": len(cut_off & shown_at_kill),
            "provider_streams": sum(starts[r] for r in run_ids),
            "provider_streams_beyond_one_per_run_and_one_per_cut_off_run": sum(surplus.values()),
            "submit_s": round(submit_s, 2),
            "kill_to_all_final_s": round(recovery_s, 1),
        }
        record_result("worker_kill_100_runs", figures)
        assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
        assert len(cut_off) >= 5, "the kill should cut off runs mid-stream"
        # The provider is called once per run, plus once more for each run the kill cut off.
        assert not surplus, f"unexpected provider calls: {surplus}"
        assert redone >= cut_off & shown_at_kill, "the live view restarts each redone run it had shown"
        assert len(cut_off & shown_at_kill) >= 5, "the kill should cut off runs whose text was on screen"
