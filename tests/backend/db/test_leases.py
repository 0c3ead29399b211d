"""Run claims (backend/db/leases.py) on SQLite and PostgreSQL: the compare-and-set a worker
does before it calls a provider."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from backend.db.comparisons import create_comparison
from backend.db.engine import Database
from backend.db.leases import ClaimOutcome, claim_run, release_run_lease, renew_run_lease
from backend.db.models import Run
from backend.db.records import NewRun, RunRecord
from backend.db.runs import cancel_runs, reset_run_for_retry, save_run_result
from backend.db.users import ensure_user
from tests.backend.conftest import DoneResult

LONG_S = 30.0


async def _runs(database: Database, n: int = 1) -> list[RunRecord]:
    async with database.session() as session:
        user = await ensure_user(session, "ada@example.com", "Ada")
    record = await create_comparison(
        database,
        user_id=user.id,
        project_id=user.default_project_id,
        prompt="Hello",
        runs=[NewRun(model="simulated:instant", provider="simulated")] * n,
    )
    return list(record.runs)


async def _lease(database: Database, run_id: str) -> tuple[str | None, object]:
    async with database.session() as session:
        row = (
            await session.execute(select(Run.claimed_by, Run.lease_expires_at).where(Run.id == run_id))
        ).one()
    return row.claimed_by, row.lease_expires_at


async def test_of_many_concurrent_claimers_exactly_one_wins(database: Database) -> None:
    """32 claimers on 4 connection pools (4 "workers") race for each of 5 runs at once."""
    runs = await _runs(database, 5)
    pools = [Database(str(database.sync_url.render_as_string(hide_password=False))) for _ in range(4)]
    try:
        for run in runs:
            holders = [f"w{i % 4}/{i}" for i in range(32)]
            outcomes = await asyncio.gather(
                *(claim_run(pools[i % 4], run.id, 0, holder, LONG_S) for i, holder in enumerate(holders))
            )
            winners = [h for h, o in zip(holders, outcomes, strict=True) if o is ClaimOutcome.CLAIMED]
            assert len(winners) == 1, outcomes
            assert outcomes.count(ClaimOutcome.HELD) == 31
            claimed_by, expires = await _lease(database, run.id)
            assert claimed_by == winners[0] and expires is not None
    finally:
        for pool in pools:
            await pool.dispose()


async def test_a_live_lease_holds_and_an_expired_one_is_taken_over(database: Database) -> None:
    (run,) = await _runs(database)
    assert await claim_run(database, run.id, 0, "a/1", 0.5) is ClaimOutcome.CLAIMED
    assert await claim_run(database, run.id, 0, "b/1", LONG_S) is ClaimOutcome.HELD
    await asyncio.sleep(0.7)  # a's worker died: nothing renewed its lease
    assert await claim_run(database, run.id, 0, "b/1", LONG_S) is ClaimOutcome.CLAIMED
    assert (await _lease(database, run.id))[0] == "b/1"
    # a comes back: its claim is gone, and it cannot renew it or take the run back.
    assert not await renew_run_lease(database, run.id, 0, "a/1", LONG_S)
    assert await claim_run(database, run.id, 0, "a/1", LONG_S) is ClaimOutcome.HELD


async def test_a_renewed_lease_is_not_stolen(database: Database) -> None:
    (run,) = await _runs(database)
    lease_s = 1.0
    assert await claim_run(database, run.id, 0, "a/1", lease_s) is ClaimOutcome.CLAIMED
    for _ in range(6):  # 1.8 s in all, well past the first lease's end
        await asyncio.sleep(0.3)
        assert await renew_run_lease(database, run.id, 0, "a/1", lease_s)
        assert await claim_run(database, run.id, 0, "b/1", lease_s) is ClaimOutcome.HELD
    assert (await _lease(database, run.id))[0] == "a/1"


async def test_a_final_run_cannot_be_claimed_and_its_lease_is_cleared(
    database: Database, done_result: DoneResult
) -> None:
    done, cancelled = await _runs(database, 2)
    assert await claim_run(database, done.id, 0, "a/1", LONG_S) is ClaimOutcome.CLAIMED
    async with database.session() as session:
        assert await save_run_result(session, **done_result(done.id), cost_usd=0.0)
        assert await cancel_runs(session, [cancelled.id]) == [cancelled.id]
    assert await _lease(database, done.id) == (None, None)
    for run in (done, cancelled):
        assert await claim_run(database, run.id, 0, "b/1", LONG_S) is ClaimOutcome.FINAL
        assert not await renew_run_lease(database, run.id, 0, "a/1", LONG_S)


async def test_a_retry_supersedes_the_old_attempt_and_is_claimed_afresh(database: Database) -> None:
    (run,) = await _runs(database)
    assert await claim_run(database, run.id, 0, "a/1", LONG_S) is ClaimOutcome.CLAIMED
    async with database.session() as session:
        retried = await reset_run_for_retry(session, run.id)
    assert retried.attempt == 1
    assert await claim_run(database, run.id, 0, "b/1", LONG_S) is ClaimOutcome.SUPERSEDED
    assert not await renew_run_lease(database, run.id, 0, "a/1", LONG_S)  # the old attempt's worker stops
    # The old attempt's live lease does not hold up the new one.
    assert await claim_run(database, run.id, 1, "b/2", LONG_S) is ClaimOutcome.CLAIMED


async def test_release_lets_another_worker_claim_at_once(database: Database) -> None:
    (run,) = await _runs(database)
    assert await claim_run(database, run.id, 0, "a/1", LONG_S) is ClaimOutcome.CLAIMED
    # Claiming again with the same holder (a claim retried after its connection dropped) renews.
    assert await claim_run(database, run.id, 0, "a/1", LONG_S) is ClaimOutcome.CLAIMED
    assert not await release_run_lease(database, run.id, 0, "b/1")  # not b's to give up
    assert await claim_run(database, run.id, 0, "b/1", LONG_S) is ClaimOutcome.HELD
    assert await release_run_lease(database, run.id, 0, "a/1")
    assert await _lease(database, run.id) == (None, None)
    assert await claim_run(database, run.id, 0, "b/1", LONG_S) is ClaimOutcome.CLAIMED


async def test_a_missing_run_is_reported_missing(database: Database) -> None:
    assert await claim_run(database, "0" * 32, 0, "a/1", LONG_S) is ClaimOutcome.MISSING
