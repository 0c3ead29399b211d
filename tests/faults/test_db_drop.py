"""Fault 15: the database connection drops in the middle of saving a run's final record.

A runtime (embedded queue and worker) on a fresh PostgreSQL database runs 20 panes.
Two triggers are added to `runs` for the test: one counts every committed final save
(see support.py), the other holds each final save open for a moment inside its
transaction, after the row was written, under an advisory lock named after the run.
From a separate connection the test watches those locks and terminates the backend
(`pg_terminate_backend`) of the first save attempt of every run, while it is inside
the transaction.  The event pump must notice, reconnect and save again.

Must end with: every run done with its complete deterministic output, exactly one
committed final save per run (the killed attempts left nothing behind: their
transactions, audit row included, were rolled back), and every run's first save
attempt really killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import psycopg
import pytest

from backend.runtime import running
from devstack.postgres import make_database_url
from tests.backend.runtime_support import make_settings, owner
from tests.faults.support import install_final_audit, judge, libpq_dsn, record_result, wait_all_final

pytestmark = pytest.mark.postgres

LOCK_CLASS = 4242  # first key of the advisory locks the slow-save trigger takes
COMPARISONS = 5
PANES = 4
PROMPT = "[[simulate:tokens=30]] fault 15, comparison {i}"
HOLD_S = 0.4  # how long a final save stays open inside its transaction

_SLOW_FINAL_SQL = f"""
CREATE OR REPLACE FUNCTION fault_slow_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(NEW.id));
    PERFORM pg_sleep({HOLD_S});
    RETURN NEW;
END $$;
CREATE TRIGGER fault_slow_final AFTER UPDATE ON runs FOR EACH ROW
    WHEN (NEW.status IN ('done', 'error', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION fault_slow_final();
"""


async def _kill_first_save_of_each_run(dsn: str, killed: dict[int, float], stop: asyncio.Event) -> None:
    """Terminate the backend of each run's first final save, mid-transaction."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            rows = await (
                await conn.execute(
                    "SELECT l.pid, l.objid::bigint FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.classid = %s::oid AND l.granted"
                    " AND a.datname = current_database()",
                    (LOCK_CLASS,),
                )
            ).fetchall()
            for pid, key in rows:
                if key not in killed:
                    killed[key] = time.monotonic()
                    await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            await asyncio.sleep(0.02)


async def test_connection_killed_mid_save_the_run_is_saved_once_after_reconnecting(tmp_path: Path) -> None:
    with make_database_url("postgresql", tmp_path) as url:
        async with running(make_settings(url, tmp_path, rate_limit_requests_per_minute=0)) as rt:
            install_final_audit(url)
            with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
                conn.execute(_SLOW_FINAL_SQL)
            killed: dict[int, float] = {}
            stop = asyncio.Event()
            killer = asyncio.create_task(_kill_first_save_of_each_run(libpq_dsn(url), killed, stop))
            try:
                user = await owner(rt)
                started = time.monotonic()
                records = [
                    await rt.comparisons.create(
                        user,
                        {"prompt": PROMPT.format(i=i), "panes": [{"model": "simulated:swift"}] * PANES},
                    )
                    for i in range(COMPARISONS)
                ]
                saved = await wait_all_final(rt, [r.id for r in records], timeout=90)
                elapsed = time.monotonic() - started
                await rt.pump.drain()
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await killer

        outcome = judge(url, [(rec, PROMPT.format(i=i)) for i, rec in enumerate(saved)], PANES)
    runs = COMPARISONS * PANES
    record_result(
        "db_connection_drop_mid_save",
        {
            **outcome.as_figures(),
            "saves_killed_mid_transaction": len(killed),
            "all_final_s": round(elapsed, 1),
        },
    )
    assert not outcome.lost and outcome.duplicates == 0, outcome.details[:10]
    assert len(killed) == runs, f"each run's first save should have been killed: {len(killed)} of {runs}"
