"""A Stop that arrives while its run waits for a worker slot is not lost.

A runtime whose in-process worker streams one run at a time (EMBEDDED_WORKERS=1) on a
fresh PostgreSQL database: a comparison of three panes, the first streaming ~3 s while
the other two wait for the slot.  The user stops the third one while it waits.

Must end with: the stopped run "cancelled" without its provider ever being called (the
provider calls are counted by wrapping what the worker resolves), the other two done
with their deterministic output, each run saved once.  (Before the fix the worker only
stopped runs it was already streaming: the waiting run ran to the end anyway.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backend.runtime import running
from devstack.postgres import make_database_url
from tests.backend.runtime_support import ProviderCalls, expected_output, make_settings, owner
from tests.faults.support import final_saves, install_final_audit, record_result, wait_all_final

pytestmark = pytest.mark.postgres

PROMPT = "[[simulate:tokens=300]] fault: stop a run that waits for a slot"


async def test_stop_of_a_run_waiting_for_a_worker_slot_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = ProviderCalls(monkeypatch)
    with make_database_url("postgresql", tmp_path) as url:
        async with running(make_settings(url, tmp_path, embedded_workers=1)) as rt:
            install_final_audit(url)
            user = await owner(rt)
            models = ["simulated:steady", "simulated:swift", "simulated:coder"]
            record = await rt.comparisons.create(
                user, {"prompt": PROMPT, "panes": [{"model": m} for m in models]}
            )
            first, second, stopped = record.runs
            for _ in range(100):  # the first run streams, the others wait for the one slot
                live = rt.hub.get(first.id)
                if live is not None and live.text:
                    break
                await asyncio.sleep(0.05)
            assert calls.calls == ["steady"], calls.calls
            await rt.comparisons.cancel(user, record.id, [stopped.id])
            [saved] = await wait_all_final(rt, [record.id], timeout=30)
            await rt.pump.drain()
        saves = final_saves(url)

    runs = {r.id: r for r in saved.runs}
    ran = [runs[first.id], runs[second.id]]
    stop = runs[stopped.id]
    lost = [r.model for r in ran if not (r.status == "done" and r.output_text == expected_output(r, PROMPT))]
    stops_lost = 0 if stop.status == "cancelled" else 1
    record_result(
        "stop_while_waiting_for_a_slot",
        {
            "runs": len(saved.runs),
            "lost": len(lost) + stops_lost,
            "duplicates": sum(max(0, n - 1) for n in saves.values()),
            "stops_lost": stops_lost,
            "provider_calls": len(calls.calls),
        },
    )
    assert not lost, lost
    assert stop.status == "cancelled" and stop.output_text == "", (stop.status, stop.output_text[:80])
    assert sorted(calls.calls) == ["steady", "swift"], (
        f"the stopped run never called its provider: {calls.calls}"
    )
    assert all(saves[r.id] == 1 for r in saved.runs)
